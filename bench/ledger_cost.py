"""python -m bench.ledger_cost: what the fleet's budget ledger costs a request, on SQLite and on PostgreSQL.

Requests go through the GitHub token pool (TokenPool.send) with an answer that costs nothing to make (no network,
no server: each reports one point spent of a window large enough never to run out), `--concurrency` at a time,
without a ledger and with the store's (store/ledger.py: one write transaction to reserve, one to settle); then
with `--workers` such pools at once, each a thread with its store connection of its own, on one store. Prints
requests per second for each; what is measured is the pool and the store, not GitHub.

PostgreSQL: `--postgres URL`, else a throwaway cluster as the tests start one (tests/postgres_server.py: fsync
off, so its commits are cheaper than a durable server's).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fetcher.hosts.github.tokens import TokenPool
from fetcher.location import PostgresURL
from fetcher.net.answer import Budget
from fetcher.net.request import Request
from fetcher.store import open_store

WINDOW = 10**9  # never runs out: what is measured is the bookkeeping, not a wait for a reset
URL = "https://api.github.com/repos/o/r"


class _Client:
    def clock(self) -> datetime:
        return datetime.now(timezone.utc)

    async def wait_until(self, until, failure):  # the window never runs out
        raise failure


def requests_per_second(location, requests: int, concurrency: int, ledger: bool, ready=None) -> float:
    """Send `requests` through one pool, `concurrency` at a time; with the store's ledger if `ledger`."""
    with open_store(location) as store:
        worker = store.workers.begin("sync", datetime.now(timezone.utc))["id"]
        pool = TokenPool([("BENCH_TOKEN", "ghp_bench")], reserve=100,
                         ledger=store.ledger.bound(worker) if ledger else None)
        reset = datetime.now(timezone.utc) + timedelta(hours=1)
        left = iter(range(WINDOW - 1, 0, -1))

        async def attempt(credential):
            await asyncio.sleep(0)
            credential.observe(200, Budget("core", WINDOW, next(left), reset), 1, False)

        async def go() -> float:
            queue = iter(range(requests))

            async def sender():
                for _ in queue:
                    await pool.send(Request(URL, "repo"), attempt, "core", _Client())

            if ready is not None:
                ready.wait()
            began = time.perf_counter()
            await asyncio.gather(*(sender() for _ in range(concurrency)))
            return requests / (time.perf_counter() - began)

        try:
            return asyncio.run(go())
        finally:
            store.workers.end(worker)


def together(location, workers: int, requests: int, concurrency: int) -> float:
    """Requests per second of `workers` pools with the ledger at once on one store, summed."""
    ready = threading.Barrier(workers)
    rates: list[float] = []

    def one() -> None:
        rates.append(requests_per_second(location, requests, concurrency, True, ready))

    threads = [threading.Thread(target=one) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(rates)


def measure(name: str, location, args) -> list[str]:
    def best(ledger: bool) -> float:  # the median of a few rounds: a shared machine's load varies
        return statistics.median(requests_per_second(location, args.requests, args.concurrency, ledger)
                                 for _ in range(args.rounds))

    without, with_ledger = best(False), best(True)
    fleet = statistics.median(together(location, args.workers, args.requests, args.concurrency)
                              for _ in range(args.rounds))
    return [f"| {name} | {without:,.0f} | {with_ledger:,.0f} | {fleet:,.0f} |"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per pool and round")
    parser.add_argument("--concurrency", type=int, default=16, help="requests out at a time per pool")
    parser.add_argument("--workers", type=int, default=2, help="pools at once on one store, for the last column")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure on (default: a throwaway cluster)")
    args = parser.parse_args()

    lines = ["| store | without a ledger (req/s) | with the ledger (req/s) "
             f"| {args.workers} workers with it, together (req/s) |", "| --- | ---: | ---: | ---: |"]
    with tempfile.TemporaryDirectory() as directory:
        lines += measure("SQLite", Path(directory) / "bench.db", args)
    cluster = None
    if args.postgres is None:
        from tests import postgres_server

        cluster = postgres_server.Cluster(postgres_server.binaries()).start()
    try:
        lines += measure("PostgreSQL", PostgresURL.parse(args.postgres or cluster.url), args)
    finally:
        if cluster is not None:
            cluster.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
