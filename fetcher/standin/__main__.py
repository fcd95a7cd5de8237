"""``python -m fetcher.standin``: the same as the ``fetcher-standin`` command."""

from fetcher.standin.cli import main

main()
