"""What `fetcher serve` answers: requests a second and p50/p99 latency at 1, 8 and 32 clients, while a sync writes.

A store of N packages (100,000 by default) is built through the store's own import. The first ``--sync`` of them
are a stand-in catalogue never fetched; the rest are fetched already (their last fetch set far ahead, so no sync
takes them). ``fetcher serve`` runs as its own process. Each phase starts a ``fetcher sync`` of the stand-in's
packages (50 ms a request), waits until it has written one, and while it goes on writing drives the server over
real sockets with that many clients, each one keep-alive connection asking as soon as it is answered: list pages
(any offset, the deepest included), records by slug and by id, deltas (``?modified_since=`` the phase's start)
and conditional requests (If-None-Match with an ETag it was given). An error is a status other than 200 or 304,
or a connection that fails.

    python -m bench.serve [--packages 100000] [--seconds 20] [--clients 1,8,32] [--workers 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.run import TOKEN, child_env
from fetcher.record import to_columns
from fetcher.standin import StandIn, World
from fetcher.store import open_store

ROOT = Path(__file__).resolve().parent.parent
MIX = (("list", 0.30), ("detail", 0.30), ("delta", 0.15), ("conditional", 0.25))
FAR_AHEAD = datetime(2099, 1, 1, tzinfo=timezone.utc)  # fetched "then": no sync of this bench takes them
P99_TARGET_MS = 50.0


def build_store(path: Path, packages: int, synced: list[dict], seed: int) -> float:
    """The store: the stand-in's catalogue first (ids 1..len(synced)), then generated packages; seconds taken."""
    started = time.monotonic()
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    rows = [to_columns(record) for record in synced]
    for number in range(len(synced) + 1, packages + 1):
        rows.append(to_columns({
            "category": f"https://djangopackages.org/api/v4/categories/{rng.randint(1, 5)}/",
            "grids": [f"https://djangopackages.org/api/v4/grids/{rng.randint(1, 400)}/" for _ in range(rng.randint(0, 3))],
            "id": number, "title": f"package-{number}", "slug": f"package-{number}",
            "last_updated": now - timedelta(days=rng.randint(1, 900)), "last_fetched": FAR_AHEAD,
            "repo_url": f"https://github.com/owner{number % 997}/package-{number}", "pypi_version": "1.2.3",
            "created": now - timedelta(days=rng.randint(900, 4000)),
            "modified": now - timedelta(hours=rng.randint(1, 2000)),
            "repo_forks": rng.randint(0, 900), "repo_description": "A reusable Django app that does one thing well.",
            "pypi_url": f"https://pypi.org/project/package-{number}/", "documentation_url": "",
            "repo_watchers": rng.randint(0, 9000), "commits_over_52": [rng.randint(0, 9) for _ in range(52)],
            "participants": [f"user{rng.randint(1, 50000)}" for _ in range(rng.randint(1, 20))],
        }))  # fmt: skip
    store = open_store(path, create=True)
    store.catalogue.import_records(rows, now)
    store.close()
    return time.monotonic() - started


class Client:
    """One keep-alive connection asking as soon as it is answered; every latency and status kept."""

    def __init__(self, number: int, port: int, packages: int, since: str, seed: int):
        self.rng = random.Random(seed * 1000 + number)
        self.port, self.packages, self.since = port, packages, since
        self.etags: dict[str, str] = {}
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.kinds: dict[str, int] = {}
        self.errors: list[str] = []

    def target(self) -> tuple[str, str, dict[str, str]]:
        kind = self.rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        if kind == "list":
            return kind, f"/api/v4/packages/?offset={self.rng.randrange(0, self.packages, 20)}", {}
        if kind == "detail":
            number = self.rng.randint(1, self.packages)
            slug = f"django-pkg{number - 1}" if number <= SYNCED else f"package-{number}"
            return kind, f"/api/v4/packages/{slug if self.rng.random() < 0.5 else number}/", {}
        if kind == "delta":
            return kind, f"/api/v4/packages/?modified_since={self.since}&offset={self.rng.randrange(0, 200, 20)}", {}
        # conditional: a page or record this client was given before, asked again with its ETag
        hot = self.rng.choice(["/api/v4/packages/", "/api/v4/packages/?offset=20",
                               *(f"/api/v4/packages/{self.rng.randint(1, 50)}/" for _ in range(1))])  # fmt: skip
        tag = self.etags.get(hot)
        return kind, hot, {"If-None-Match": tag} if tag else {}

    async def run(self, stop_at: float, measure_from: float) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as exc:
            self.errors.append(f"connect: {exc}")
            return
        try:
            while time.perf_counter() < stop_at:
                kind, path, headers = self.target()
                extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                started = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{extra}\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                status = int(lines[0].split(b" ", 2)[1])
                fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:] if line)}
                await reader.readexactly(int(fields.get(b"content-length", b"0")))
                elapsed = time.perf_counter() - started
                if b"etag" in fields:
                    self.etags[path] = fields[b"etag"].decode()
                if started < measure_from:
                    continue
                self.latencies.append(elapsed)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
                if status not in (200, 304):
                    self.errors.append(f"{status} {path}")
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            writer.close()


SYNCED = 0  # set from --sync: the stand-in's packages, slugs django-pkg0...


async def drive(port: int, clients: int, seconds: float, packages: int, since: str, seed: int) -> list[Client]:
    now = time.perf_counter()
    crowd = [Client(number, port, packages, since, seed) for number in range(clients)]
    await asyncio.gather(*(client.run(now + 1 + seconds, now + 1) for client in crowd))
    return crowd


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else float("nan")


def fetched(store: Path) -> int:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM package WHERE last_fetched < '2099'").fetchone()[0]


def phase(args, port: int, clients: int, config: Path, store: Path, workdir: Path) -> dict:
    """One phase: a sync started and seen writing, then `clients` clients for --seconds while it goes on."""
    since = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    sync = subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(config), "sync", "--stale-after", "0s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=workdir)  # fmt: skip
    before = fetched(store)
    for _ in range(1200):  # at most two minutes for the sync to plan and write its first package
        if fetched(store) > before or sync.poll() is not None:
            break
        time.sleep(0.1)
    written_before = fetched(store)
    load_before = os.getloadavg()
    crowd = asyncio.run(drive(port, clients, args.seconds, args.packages, since, args.seed))
    written = fetched(store) - written_before
    sync_running = sync.poll() is None
    if sync_running:
        sync.send_signal(signal.SIGTERM)  # stops cleanly at its next await: exit 75
    _, sync_err = sync.communicate(timeout=120)
    latencies = [value for client in crowd for value in client.latencies]
    statuses: dict[int, int] = {}
    for client in crowd:
        for status, count in client.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    errors = [error for client in crowd for error in client.errors]
    return {
        "clients": clients,
        "requests": len(latencies),
        "rps": round(len(latencies) / args.seconds, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "kinds": {kind: sum(client.kinds.get(kind, 0) for client in crowd) for kind, _ in MIX},
        "errors": len(errors),
        "error_samples": errors[:5],
        "sync_wrote_packages": written,
        "sync_still_running_at_end": sync_running,
        "sync_exit": sync.returncode,
        "sync_stderr": sync_err.decode()[-300:] if sync.returncode not in (0, 75) else "",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    global SYNCED
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--packages", type=int, default=100_000, help="packages in the store")
    add("--sync", type=int, default=2000, help="of them, the stand-in's, which each phase's sync fetches")
    add("--seconds", type=float, default=20.0, help="measured seconds per phase (after one of warm-up)")
    add("--clients", default="1,8,32", help="concurrent clients, one phase each")
    add("--workers", type=int, default=1, help="fetcher serve --workers")
    add("--seed", type=int, default=0)
    add("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON to PATH")
    args = parser.parse_args(argv)
    SYNCED = args.sync
    world, records = World.generate(args.sync, seed=args.seed, renamed=0, missing=0, empty=0, cold_stats=0.0)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as work, \
            StandIn(world, latency=0.05, token=TOKEN, rate_limit=10**9, graphql_rate_limit=10**9, stats_delay=0) as standin:
        workdir = Path(work)
        store = workdir / "packages.db"
        built = build_store(store, args.packages, records, args.seed)
        config = workdir / "config.toml"
        config.write_text(f'[store]\npath = "packages.db"\n[github]\napi_url = "{standin.url}"\n'
                          f'graphql_url = "{standin.url}/graphql"\npace = false\n[pypi]\nurl = "{standin.url}"\n'
                          '[sync]\nconcurrency = 16\n[http]\nbackoff = 0\n')  # fmt: skip
        server = subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(config), "serve", "--port", "0",
                                   "--workers", str(args.workers)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=child_env(), cwd=workdir)  # fmt: skip
        ready, _, _ = select.select([server.stdout], [], [], 120)
        line = server.stdout.readline().decode() if ready else ""
        if not line.startswith("serving "):
            server.kill()
            print(f"fetcher serve did not start: {line!r} {server.stderr.read().decode()[-2000:]}", file=sys.stderr)
            return 1
        port = int(line.split()[1].split(":")[2].split("/")[0])
        results = []
        try:
            for clients in (int(text) for text in args.clients.split(",")):
                results.append(phase(args, port, clients, config, store, workdir))
                print(row(results[-1]), flush=True)
        finally:
            server.send_signal(signal.SIGTERM)
            server_exit = server.wait(60)
    report = {
        "settings": {"packages": args.packages, "sync_packages": args.sync, "seconds": args.seconds,
                     "workers": args.workers, "seed": args.seed, "mix": dict(MIX), "python": sys.version.split()[0],
                     "cpus": os.cpu_count(), "platform": platform.platform(), "sqlite": sqlite3.sqlite_version,
                     "store_build_s": round(built, 1), "server_exit_on_sigterm": server_exit},  # fmt: skip
        "phases": results,
    }
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(result["errors"] == 0 for result in results) and server_exit == 0 else 1


def row(result: dict) -> str:
    return (f"| {result['clients']} | {result['rps']:,} | {result['p50_ms']} | {result['p99_ms']} | {result['errors']} "
            f"| {result['statuses'].get('304', 0):,} | {result['sync_wrote_packages']:,} |")


def table(report: dict) -> str:
    head = ("| clients | requests/s | p50 ms | p99 ms | errors | 304s | packages the sync wrote meanwhile |\n"
            "| --- | --- | --- | --- | --- | --- | --- |")
    return "\n".join([head, *(row(result) for result in report["phases"])])


if __name__ == "__main__":
    sys.exit(main())
