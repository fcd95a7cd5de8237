"""``python -m fetcher.standin``: the same as the ``fetcher-standin`` command."""

from fetcher.standin.server import main

main()
