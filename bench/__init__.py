"""Benchmarks: scripts that print numbers (timing targets are not tests)."""
