"""What the facts beside the record cost: requests and rate-limit points per package, cold and warm.

Counts, not times, so a busy machine does not move them. Each client (this
checkout, and with ``--before DIR`` a checkout of fetcher from before the
facts) syncs the same generated catalogue against its own stand-in, with
GraphQL and with REST only: a cold sync, then a warm one with nothing
changed. The stand-in counts every request by kind and the points it charged.

    python -m bench.facts_cost --packages 500 [--before DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench.run import TOKEN, request_kind
from fetcher.standin import StandIn, World

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "facts_cost.json"
COLUMNS = ("graphql", "github_rest", "pypi_json", "pypi_simple")


def kind(entry) -> str:
    path = urlsplit(entry.path).path
    if path.startswith("/simple/"):
        return "pypi_simple"
    found = request_kind(entry)
    return {"graphql": "graphql", "pypi": "pypi_json"}.get(found, "github_rest")


def sync_counts(code: Path, packages: int, seed: int, graphql: bool) -> dict[str, dict[str, float]]:
    """Per package, for the cold and the warm sync: requests by kind, 304s, GitHub points."""
    world, records = World.generate(packages, seed=seed, cold_stats=0)
    env = {k: v for k, v in os.environ.items() if k not in ("FETCHER_CONFIG", "GITHUB_TOKEN")}
    env.update(GITHUB_TOKEN=TOKEN, PYTHONPATH=str(code))
    phases = {}
    with StandIn(world, token=TOKEN, rate_limit=10**9, graphql_rate_limit=10**9) as standin, \
            tempfile.TemporaryDirectory(prefix="facts-cost-") as work:
        config, catalog = Path(work) / "config.toml", Path(work) / "catalog.json"
        catalog.write_text(json.dumps(records))
        config.write_text(
            f'[store]\npath = "bench.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.graphql_url}"\n'
            f'pace = false\ngraphql = {"true" if graphql else "false"}\n[pypi]\nurl = "{standin.url}"\n'
        )

        def fetcher(*args: str) -> None:
            done = subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                                  cwd=code, env=env, capture_output=True, text=True, timeout=600)
            if done.returncode not in (0, 1):
                raise SystemExit(f"fetcher {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")

        fetcher("import", str(catalog))
        for phase in ("cold", "warm"):
            mark, rest, gql = len(standin.requests), standin.points_charged, standin.graphql_points
            fetcher("sync", "--all")
            seen = standin.requests[mark:]
            kinds = Counter(kind(entry) for entry in seen)
            phases[phase] = {
                **{name: kinds[name] / packages for name in COLUMNS},
                "not_modified": sum(entry.status == 304 for entry in seen) / packages,
                "github_points": (standin.points_charged - rest + standin.graphql_points - gql) / packages,
            }
    return phases


def table(results: dict) -> str:
    header = ["client", "mode", "phase", *COLUMNS, "304s", "GitHub points"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for client, modes in results["clients"].items():
        for mode, phases in modes.items():
            for phase, counts in phases.items():
                cells = [f"{counts[name]:.3f}" for name in (*COLUMNS, "not_modified", "github_points")]
                lines.append("| " + " | ".join([client, mode, phase, *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.facts_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", type=Path, help="a checkout of fetcher from before the facts, to compare")
    options = parser.parse_args(argv)
    clients = {"with facts": ROOT}
    if options.before:
        clients = {"before facts": options.before.resolve(), **clients}
    results = {"packages": options.packages, "seed": options.seed, "clients": {}}
    for client, code in clients.items():
        results["clients"][client] = {
            mode: sync_counts(code, options.packages, options.seed, graphql) for mode, graphql in
            (("GraphQL", True), ("REST", False))
        }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"requests and points per package, {options.packages} packages:\n{table(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
