"""Benchmarks, run on demand with `./dev bench` (never part of the test suite)."""
