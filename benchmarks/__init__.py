"""Benchmark suite of allocator: run on demand with ``python -m benchmarks.run``, never in tests."""
