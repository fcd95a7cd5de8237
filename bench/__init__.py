"""Benchmark and test helpers that stand in for the remote APIs the fetcher talks to."""
