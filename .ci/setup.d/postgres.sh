#!/usr/bin/env bash
# PostgreSQL server binaries for the database tests (tests/connect/test_postgres.py). The tests
# start a throwaway cluster themselves (initdb in a temporary folder, as the postgres user, on a
# free loopback port) and stop it afterwards; no system service is started here.
# Idempotent: installs only what is missing.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && id postgres >/dev/null 2>&1; then
    echo "postgres.sh: PostgreSQL server binaries already installed"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb
