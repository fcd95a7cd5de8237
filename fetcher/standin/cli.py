"""``fetcher-standin``: serve the stand-in for a catalogue, or for N generated packages, until stopped."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from fetcher.standin.fetcher_config import config_for, fetcher_reads
from fetcher.standin.forges.generate import add_catalog
from fetcher.standin.server import StandIn
from fetcher.standin.world import World


def _load_records(path: Path) -> list[dict[str, Any]]:
    """Accept a list of records, one record, or an API page {"results": [...]}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("results", [data])
    return list(data)


def parser() -> argparse.ArgumentParser:
    """The command's options; ``--catalogue`` and ``--catalogue-out`` are the documented spellings of ``--catalog``
    and ``--catalog-out``, which work as before."""
    parser = argparse.ArgumentParser(
        prog="fetcher-standin",
        description="Serve a stand-in GitHub and PyPI API on 127.0.0.1 for a catalogue, or for N generated packages. "
        "Prints a fetcher config.toml that points at it on stdout.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--catalogue", "--catalog", dest="catalogue", type=Path, metavar="FILE",
                        help="JSON file of package records to serve")  # fmt: skip
    source.add_argument("--packages", type=int, metavar="N",
                        help="generate N packages (write them with --catalogue-out)")  # fmt: skip
    parser.add_argument("--catalogue-out", "--catalog-out", dest="catalogue_out", type=Path, metavar="PATH",
                        help="with --packages: write their catalogue here")  # fmt: skip
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept before each answer")
    parser.add_argument("--rate-limit", type=int, default=5000, help="points an hour, REST and GraphQL each")
    parser.add_argument("--stats-delay", type=float, default=1.0, help="seconds cold statistics answer 202")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--token", help="require this token in Authorization")
    return parser


def main(argv: list[str] | None = None) -> None:
    options = parser()
    args = options.parse_args(argv)
    if args.packages is not None:
        if args.packages < 1:
            options.error("--packages must be at least 1")
        world, records = World.generate(args.packages, seed=args.seed)
        if args.catalogue_out:
            args.catalogue_out.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        forge_repos = 0
    else:
        records = _load_records(args.catalogue)
        world = World.from_catalog(records, seed=args.seed)
        forge_repos = len(add_catalog(world, records, seed=args.seed).repos)
    with StandIn(world, args.latency, token=args.token, port=args.port, rate_limit=args.rate_limit,
                 graphql_rate_limit=args.rate_limit, stats_delay=args.stats_delay) as standin:  # fmt: skip
        config, hosts = config_for(standin.url), standin.hosts_config()
        if hosts and fetcher_reads(config + "\n" + hosts):
            config += "\n" + hosts
        elif hosts:
            print("fetcher-standin: this fetcher reads no [hosts] tables: the forge hosts are left out of the config",
                  file=sys.stderr)  # fmt: skip
        print(config, flush=True)
        counts = f"{len(world.repos)} repositories, {forge_repos} on other forges, {len(world.pypi)} on PyPI"
        print(f"fetcher-standin: serving {standin.url} ({counts}); Ctrl-C stops", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
