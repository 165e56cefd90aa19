#!/usr/bin/env bash
# The browser the page tests drive (tests/report/test_browser.py: Playwright with the system
# chromium; Playwright's own browser download does not work here) and the CJK fonts that Chinese
# names need, in the pages and in the matplotlib figures. Idempotent: apt-get skips what is there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && [ "$(fc-list 2>/dev/null | grep -c "Noto Sans CJK")" -gt 0 ]; then
    echo "chromium and fonts-noto-cjk already installed"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk
