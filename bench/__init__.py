"""The benchmark drivers: fetcher against the stand-in (``fetcher.standin``). Run from a checkout; not installed."""
