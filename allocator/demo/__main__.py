"""``python -m allocator.demo``: write a generated company, or rewrite the shipped demo."""

from allocator.demo.files import main

raise SystemExit(main())
