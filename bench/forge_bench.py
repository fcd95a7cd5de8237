"""python -m bench.forge_bench: fetcher against the stand-in's GitLab, Forgejo and Bitbucket hosts, per host.

Three phases, each a fetcher subprocess as in ``python -m bench``: cold
(``sync`` of a never-fetched catalogue), warm with nothing changed
(``sync --all``), and after new commits on a seeded share of the repositories
(``sync --all``). For every host and phase it reports what the host answered:
requests per package, how many were conditional and answered 304, requests by
resource, and how many commits the commit lists held -- the numbers the
issue holds fetcher to (warm: only conditional requests, at most one per
resource it reads; after a push: only the new commits). The catalogue is
``fetcher.standin.forges.generate``'s: per host, repositories plus one moved and one
missing (its package fails: exit 1 is expected). Per repository counts only the
repositories the host serves (not the missing one's 404): a warm sync of an unchanged
repository costs GitLab two 304s, Bitbucket four, and Forgejo, which sends no ETag,
one answer (its ``updated_at`` says nothing was pushed).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.run import FINISHED, BenchError, child_env, markdown, run_process
from fetcher.standin import StandIn, World
from fetcher.standin.forges import ForgeRequest, Forges, add_to_world

COLD, WARM, PUSHED = "cold", "warm-unchanged", "warm-pushed"
LABELS = {COLD: "cold", WARM: "warm, nothing changed", PUSHED: "after new commits"}


@dataclass
class HostPhase:
    """One host in one phase, as the host saw it."""

    host: str
    kind: str
    phase: str
    packages: int
    requests: int
    per_package: float
    conditional: int
    not_modified: int
    by_resource: dict[str, int]
    commits_listed: int
    repositories: int = 0  # the repositories the host served (a 200 or a 304 about them)
    per_repository: float = 0.0  # the requests about them, per repository


def host_rows(
    phase: str, entries: list[ForgeRequest], forges: Forges, records: list[dict[str, Any]]
) -> list[HostPhase]:
    """Per host: the phase's requests, counted from the stand-in's log."""
    packages = Counter((urlsplit(record["repo_url"]).hostname or "").lower() for record in records)
    rows = []
    for host in forges.hosts.values():
        mine = [entry for entry in entries if entry.host == host.name]
        count = packages[host.name]
        served = {entry.repo for entry in mine if entry.repo and entry.status in (200, 304)}
        about = sum(entry.repo in served for entry in mine)
        rows.append(
            HostPhase(
                host=host.name,
                kind=host.kind,
                phase=phase,
                packages=count,
                requests=len(mine),
                per_package=round(len(mine) / count, 2) if count else 0.0,
                conditional=sum(entry.conditional for entry in mine),
                not_modified=sum(entry.status == 304 for entry in mine),
                by_resource=dict(sorted(Counter(entry.resource for entry in mine).items())),
                commits_listed=sum(entry.items or 0 for entry in mine if entry.resource == "commits"),
                repositories=len(served),
                per_repository=round(about / len(served), 2) if served else 0.0,
            )
        )
    return rows


def push_share(forges: Forges, share: float, seed: int) -> int:
    """New commits (1 to 3) on a seeded share of the repositories that are there."""
    rng = random.Random(f"forge-push:{seed}")
    keys = sorted(forges.repos)
    chosen = rng.sample(keys, round(len(keys) * share))
    for key in chosen:
        forges.push(key, commits=rng.randint(1, 3))
    return len(chosen)


def _config(standin: StandIn, concurrency: int) -> str:
    return (
        '[store]\npath = "bench.db"\n'
        f'[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.graphql_url}"\npace = false\n'
        f'[pypi]\nurl = "{standin.url}"\n'
        f"[sync]\nconcurrency = {concurrency}\n\n" + standin.hosts_config()
    )


def run(per_host: int, pushed: float, seed: int, latency: float, concurrency: int, timeout: float) -> list[HostPhase]:
    world = World()
    records = add_to_world(world, seed=seed, per_host=per_host)
    forges: Forges = world.forges
    rows: list[HostPhase] = []
    with tempfile.TemporaryDirectory(prefix="forge-bench-") as tmp, StandIn(world, latency) as standin:
        workdir = Path(tmp)
        (workdir / "catalog.json").write_text(json.dumps(records), encoding="utf-8")
        config = workdir / "config.toml"
        config.write_text(_config(standin, concurrency), encoding="utf-8")
        env = child_env(None)

        def fetcher(*args: str) -> Any:
            argv = [sys.executable, "-m", "fetcher", "--config", str(config), *args]
            return run_process(argv, env, workdir, timeout)

        imported = fetcher("import", "catalog.json")
        if imported.exit_code != 0:
            raise BenchError(f"fetcher import exited {imported.exit_code}: {imported.stderr.strip()}")
        for phase in (COLD, WARM, PUSHED):
            if phase == PUSHED:
                print(f"[forge bench] new commits on {push_share(forges, pushed, seed)} repositories", file=sys.stderr)
            mark = len(forges.log)
            process = fetcher("sync") if phase == COLD else fetcher("sync", "--all")
            if process.exit_code not in FINISHED:
                raise BenchError(
                    f"fetcher {LABELS[phase]} exited {process.exit_code}: {process.stderr.strip()[-2000:]}"
                )
            rows += host_rows(phase, forges.log[mark:], forges, records)
    return rows


def table(rows: list[HostPhase]) -> str:
    headers = ["host", "kind", "phase", "packages", "requests", "per package", "per repository", "conditional", "304",
               "commits listed"]
    cells = [
        [row.host, row.kind, LABELS[row.phase], str(row.packages), str(row.requests), f"{row.per_package:g}",
         f"{row.per_repository:g}", str(row.conditional), str(row.not_modified), str(row.commits_listed)]
        for row in rows
    ]  # fmt: skip
    return markdown(headers, cells)


def warm_table(rows: list[HostPhase]) -> str:
    """Each host's cost of a warm sync of an unchanged repository: requests per repository, and how many were 304."""
    headers = ["host", "kind", "repositories", "warm, nothing changed: requests per repository", "of them 304"]
    cells = [
        [row.host, row.kind, str(row.repositories), f"{row.per_repository:g}",
         f"{row.not_modified / row.repositories:g}" if row.repositories else "0"]
        for row in rows if row.phase == WARM
    ]  # fmt: skip
    return markdown(headers, cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forge_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-host", type=int, default=20, help="repositories per host, besides a moved and a missing")
    parser.add_argument("--pushed", type=float, default=0.5, help="share of repositories given new commits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the stand-in takes per answer")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per fetcher run")
    parser.add_argument("--json", type=Path, help="also write every number here")
    args = parser.parse_args(argv)
    try:
        rows = run(args.per_host, args.pushed, args.seed, args.latency, args.concurrency, args.timeout)
    except BenchError as error:
        print(f"forge bench: {error}", file=sys.stderr)
        return 1
    print(table(rows))
    print()
    print(warm_table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
