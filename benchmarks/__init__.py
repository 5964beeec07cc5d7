"""Benchmarks run by hand against their own database (see benchmarks/README.md)."""
