"""python -m bench.fleet: several `fetcher sync` workers on one PostgreSQL store, against the stand-in.

Each measurement is a pass over a never-fetched catalogue in a schema of its own (dropped after), against a
freshly generated stand-in of the same seed, with W `fetcher sync` processes started together, each with its
own config and concurrency:

- throughput: for each W of --workers, wall time (first start to last end), packages per second, the ratio to
  one worker's, each worker's peak RSS and CPU, and the bench process's CPU (mostly the stand-in's: near one
  core, the stand-in was the bottleneck and the ratio is not judged);
- duplicates: from the stand-in's request log, the repositories and PyPI projects asked for more than once in
  the pass, re-asks a client rightly makes (after a 202, a redirect, a rate limit or a server error, and the
  next page of a list) left out, and the packages they belong to (must be 0);
- the kill: W workers, one `kill -9`ed once about half the packages are written; the others finish, then,
  once the dead worker's lease has passed, a follow-up `fetcher sync` takes what is left. Nothing written may
  be lost or reverted, every written record must be whole (its fields the stand-in's), none left unfetched;
- the spend: two tokens of a few thousand points and `sync.reserve`, workers that together want more: each
  token's lowest remaining (REST and GraphQL) over the pass against the reserve, and the runs' summed points;
- memory: each worker's peak RSS at --small packages and at --packages, as a ratio.

Every number is observed: requests and points at the stand-in, packages in the store, wall time around the
processes, peak RSS as each child reports it (bench/peak.py), CPU from wait4. docs/benchmarks.md says more.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from bench.fleet_count import Duplicates, Lowest, Names, Spend, asked_packages, count_duplicates, spend_of
from bench.peak import PEAK_FILE
from bench.run import _DONE, UNLIMITED, Process, _own_cpu, child_env, describe, markdown, run_process
from bench.soak import FIELDS
from fetcher.standin import StandIn, World

TOKENS = ("FLEET_TOKEN_1", "FLEET_TOKEN_2")  # the variables the workers' pool is read from; each its own budget
THROUGHPUT_SHARE = 0.9  # W workers: at least this times W of one worker's packages per second
STANDIN_BOUND = 0.9  # the bench process busy this share of one core: the stand-in is the bottleneck
MEMORY_GROWTH = 1.10  # peak RSS per worker at --packages over that at --small


@dataclass
class Settings:
    packages: int = 100_000
    workers: tuple[int, ...] = (1, 2, 4)
    latency: float = 0.05
    concurrency: int = 16  # each worker's sync.concurrency
    seed: int = 0
    cold_stats: float = 0.0  # share of repositories whose statistics start cold (202 for stats_delay seconds)
    stats_delay: float = 1.0
    kill_workers: int = 2  # workers of the kill case; 0: no kill case
    kill_at: float = 0.5  # share of the packages written when one worker is killed
    lease: float = 20.0  # seconds, as [sync] lease, when this fetcher has the key; otherwise its built-in lease
    spend_points: int = 2000  # each of the two tokens' budget in the spend case; 0: no spend case
    spend_workers: int = 2
    reserve: int = 500  # sync.reserve in the spend case
    small: int = 10_000  # the smaller catalogue of the memory comparison; 0: none
    postgres_url: str | None = None  # None: a throwaway cluster (tests/postgres_server.py)
    timeout: float = 3600.0  # per pass: workers still running then are killed


# --- the store: a PostgreSQL database, a schema of its own per measurement ---------------------------------


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """The server's URL: `url`, or a throwaway cluster started as the tests start one, stopped at the end."""
    if url:
        yield url
        return
    from tests import postgres_server

    where = postgres_server.binaries()
    if where is None:
        raise BenchError("no PostgreSQL server: give --postgres-url, or install PostgreSQL's server (initdb, pg_ctl)")
    cluster = postgres_server.Cluster(where).start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


_schemas = iter(range(1, 10**9))


@contextlib.contextmanager
def schema(server: str) -> Iterator[str]:
    """A fresh schema of the server's database, dropped at the end; yields a URL whose search_path is it."""
    import psycopg

    name = f"fleet_{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


class Store:
    """The measurement's store, read behind fetcher's back."""

    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def value(self, sql: str, params: tuple = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def written(self) -> int:
        """Packages whose record a sync wrote (the store was never fetched before the pass)."""
        return self.value("SELECT count(*) FROM package WHERE last_fetched IS NOT NULL")

    def attempted(self) -> int:
        """Packages a sync finished with, written or failed."""
        return self.value("SELECT count(*) FROM fetch_state WHERE last_attempt IS NOT NULL")

    def written_at(self) -> dict[int, str]:
        return dict(self.rows("SELECT id, last_fetched FROM package WHERE last_fetched IS NOT NULL"))

    def claims(self) -> dict[int, list[int]]:
        """pid -> the packages its worker row holds claims on now."""
        out: dict[int, list[int]] = {}
        for pid, package in self.rows("SELECT worker.pid, claim.package_id FROM claim JOIN worker ON worker.id = "
                                      "claim.claimed_by"):
            out.setdefault(pid, []).append(package)
        return out

    def worker(self, pid: int) -> tuple[int, str] | None:
        """(id, alive_until) of the worker row of a process, if it has one."""
        row = self.conn.execute("SELECT id, alive_until FROM worker WHERE pid = %s ORDER BY id DESC", (pid,)).fetchone()
        return (row[0], row[1]) if row else None

    def runs(self) -> tuple[int, int]:
        """(runs recorded, their points summed)."""
        count, points = self.conn.execute("SELECT count(*), coalesce(sum(points), 0) FROM sync_run").fetchone()
        return int(count), int(points)


# --- workers started together ------------------------------------------------------------------------------


class Child:
    """`python -m bench.peak fetcher ARGS` started now; `reap()` polls it, `kill()` sends SIGKILL."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path):
        self._out, self._err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self._peak = tempfile.NamedTemporaryFile(prefix="peak-")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bench.peak", "fetcher", *args], stdout=self._out, stderr=self._err,
            stdin=subprocess.DEVNULL, env={**env, PEAK_FILE: self._peak.name}, cwd=cwd,
        )  # fmt: skip
        self.pid = self.popen.pid
        self.killed_at: float | None = None
        self.process: Process | None = None
        self.ended: float | None = None

    def kill(self) -> None:
        if self.process is None:
            os.kill(self.pid, signal.SIGKILL)
            self.killed_at = time.perf_counter()

    def reap(self, block: bool = False) -> bool:
        """True once the process has ended (and was reaped, its figures in `process`)."""
        if self.process is not None:
            return True
        pid, status, usage = os.wait4(self.pid, 0 if block else os.WNOHANG)
        if not pid:
            return False
        self.ended = time.perf_counter()
        self.popen.returncode = os.waitstatus_to_exitcode(status)
        self._out.seek(0)
        self._err.seek(0)
        reported = Path(self._peak.name).read_text()
        self.process = Process(
            exit_code=self.popen.returncode, wall=self.ended - self.started,
            peak_rss_mb=int(reported) / 1024 if reported else None, cpu_s=usage.ru_utime + usage.ru_stime,
            stdout=self._out.read().decode(errors="replace"), stderr=self._err.read().decode(errors="replace"),
        )  # fmt: skip
        for handle in (self._out, self._err, self._peak):
            handle.close()
        return True


@dataclass
class WorkerRun:
    pid: int
    exit_code: int
    wall_s: float
    peak_rss_mb: float | None  # None when it did not report (killed)
    cpu_s: float
    packages: int | None  # the "N of M packages" of its summary; None without one (refused, killed)
    summary: str
    killed: bool = False


def worker_run(child: Child) -> WorkerRun:
    process = child.process
    assert process is not None
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else ""
    if not summary:  # refused (exit 75: the run lock) or killed: what it said last
        errors = [line for line in process.stderr.splitlines() if line.strip()]
        summary = errors[-1][:300] if errors else ""
    done = _DONE.search(summary)
    return WorkerRun(
        pid=child.pid, exit_code=process.exit_code, wall_s=round(process.wall, 3),
        peak_rss_mb=None if process.peak_rss_mb is None else round(process.peak_rss_mb, 1),
        cpu_s=round(process.cpu_s, 3), packages=int(done[1]) if done else None, summary=summary,
        killed=child.killed_at is not None,
    )  # fmt: skip


# --- the kill ------------------------------------------------------------------------------------------------


@dataclass
class Kill:
    workers: int
    killed_pid: int
    killed_at_s: float  # seconds after the start
    written_at_kill: int
    claimed_by_killed: int  # claims its worker row held after the kill (0 where fetcher does not claim)
    in_hand: int  # packages asked about before the kill and not written then
    others_exit: list[int]
    written_when_others_ended: int
    left_when_others_ended: int  # packages never finished with (not attempted) when the others ended
    follow_up_exit: int | None  # None: nothing was left, no follow-up was run
    follow_up_started_s: float | None  # seconds after the kill
    follow_up_packages: int | None
    left_at_end: int
    lost: int  # written at the kill, and now unwritten or older: must be 0
    not_whole: int  # written records whose fields are not the stand-in's: must be 0
    not_whole_examples: list[str]
    claimed_taken_s: list[float] | None  # seconds after the kill the killed worker's claimed packages were written
    # (first, last); None without claims


# --- one pass ------------------------------------------------------------------------------------------------


@dataclass
class Pass:
    case: str  # throughput, kill, spend, memory
    packages: int
    workers: int
    concurrency: int
    wall_s: float
    attempted: int  # packages finished with in the pass, written or failed
    written: int
    packages_per_s: float
    standin_cpu_s: float
    standin_cpu_share: float  # of one core over the wall time: near 1, the stand-in was the bottleneck
    requests: int
    duplicates: Duplicates
    runs: list[WorkerRun]
    world: dict[str, int]
    ratio: float | None = None  # packages/s over one worker's (throughput only)
    spend: Spend | None = None
    kill: Kill | None = None
    lease_key: bool = False  # this fetcher has [sync] lease, and the workers were given --lease


def lease_setting() -> tuple[str, Any] | None:
    """("lease", how the config spells its type) when this fetcher has [sync] lease; None on one without it."""
    from fetcher.config_keys import DEFAULTS

    known = DEFAULTS.get("sync", {}).get("lease")
    if known is None:
        return None
    return "lease", known[1]


def config_text(standin: StandIn, store_url: str, concurrency: int, reserve: int, lease: float | None) -> str:
    text = (
        f'[store]\nurl = "{store_url}"\n'
        f'[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.graphql_url}"\npace = false\n'
        f"token_env = {json.dumps(list(TOKENS))}\n"
        f'[pypi]\nurl = "{standin.url}"\n'
        f"[sync]\nconcurrency = {concurrency}\nreserve = {reserve}\n"
    )
    setting = lease_setting()
    if lease is not None and setting is not None:
        _, types = setting
        text += f'lease = "{lease:g}s"\n' if str in types else f"lease = {lease:g}\n"
    return text


def one_pass(settings: Settings, server: str, workdir: Path, case: str, packages: int, workers: int,
             budget: int = UNLIMITED, reserve: int = 100, kill: bool = False) -> Pass:  # fmt: skip
    """Import a fresh catalogue into a fresh schema and run `workers` syncs on it together; measure."""
    world, records = World.generate(packages, seed=settings.seed, cold_stats=settings.cold_stats)
    facts = describe(world, packages)
    names = Names(world, records)
    catalog = workdir / "catalog.json"
    catalog.write_text(json.dumps(records), encoding="utf-8")
    tokens = {variable: f"fleet-token-{n}" for n, variable in enumerate(TOKENS, 1)}
    env = {**child_env(None), **tokens}
    with schema(server) as url, StandIn(
        world, settings.latency, stats_delay=settings.stats_delay, tokens={token: budget for token in tokens.values()},
    ) as standin:  # fmt: skip
        configs = []
        for n in range(workers):
            path = workdir / f"worker{n}.toml"
            path.write_text(config_text(standin, url, settings.concurrency, reserve, settings.lease), encoding="utf-8")
            configs.append(path)
        imported = run_process([sys.executable, "-m", "fetcher", "--config", str(configs[0]), "import", str(catalog)],
                               env, workdir, settings.timeout)  # fmt: skip
        if imported.exit_code != 0:
            raise BenchError(f"fetcher import exited {imported.exit_code}: {imported.stderr.strip()[-500:]}")
        _progress(f"{case}: {workers} worker(s), {packages} packages")
        store = Store(url)
        try:
            return _run_pass(settings, store, standin, world, records, names, workdir, env, configs, tokens, budget,
                             reserve, case, packages, facts, kill)  # fmt: skip
        finally:
            store.close()


def _run_pass(settings, store, standin, world, records, names, workdir, env, configs, tokens, budget, reserve, case,
              packages, facts, kill) -> Pass:  # fmt: skip
    lowest = Lowest(standin, tokens)
    cpu_before, started = _own_cpu(), time.perf_counter()
    children = [Child(["--config", str(config), "sync"], env, workdir) for config in configs]
    deadline = started + settings.timeout
    victim: Child | None = None
    at_kill: dict[str, Any] = {}
    next_poll = 0.0
    try:
        while not all([child.reap() for child in children]):  # every child reaped each time round
            now = time.perf_counter()
            lowest.sample()
            if kill and victim is None and now >= next_poll:
                next_poll = now + 0.25
                written = store.written()
                live = [child for child in children if child.process is None]
                if written >= settings.kill_at * packages and live:
                    victim, at_kill = _kill_one(store, standin, names, live, started, settings.latency)
            if now > deadline:
                for child in children:
                    child.kill()
            time.sleep(0.02)
    except BaseException:
        for child in children:
            if child.process is None:
                child.kill()
                child.reap(block=True)
        raise
    ended = max(child.ended for child in children if child.ended is not None)
    wall = ended - started
    standin_cpu = _own_cpu() - cpu_before
    lowest.sample()
    entries = list(standin.requests)
    runs = [worker_run(child) for child in children]
    kill_result = None
    if victim is not None:
        kill_result = _after_kill(settings, store, world, records, workdir, env, configs[0],
                                  victim, children, at_kill)  # fmt: skip
        entries = list(standin.requests)
    in_hand = at_kill.get("in_hand", set())
    duplicates = count_duplicates(entries, standin.graphql_asked, names, in_hand)
    attempted, written = store.attempted(), store.written()
    run_count, run_points = store.runs()
    spend = None
    if budget < UNLIMITED:
        spend = spend_of(lowest.lowest, budget, reserve, run_count, run_points, standin.points_total)
    return Pass(
        case=case, packages=packages, workers=len(children), concurrency=settings.concurrency, wall_s=round(wall, 3),
        attempted=attempted, written=written, packages_per_s=round(attempted / wall, 1) if wall else 0.0,
        standin_cpu_s=round(standin_cpu, 3), standin_cpu_share=round(standin_cpu / wall, 2) if wall else 0.0,
        requests=len(entries), duplicates=duplicates, runs=runs, world=facts, spend=spend, kill=kill_result,
        lease_key=lease_setting() is not None,
    )  # fmt: skip


def _kill_one(store: Store, standin: StandIn, names: Names, live: list[Child], started: float, latency: float):
    """SIGKILL the live worker holding the most claims (the first live one where none are held), and note what it had
    in hand: its claims where it held any, else the packages asked about before the kill and not written then."""
    claims = store.claims()
    victim = max(live, key=lambda child: len(claims.get(child.pid, [])))
    victim.kill()
    clock = time.time()
    written_at = store.written_at()
    row = store.worker(victim.pid)
    claimed = [] if row is None else [package for (package,) in store.rows(
        "SELECT package_id FROM claim WHERE claimed_by = %s", (row[0],))]  # fmt: skip
    slugs = dict(store.rows("SELECT id, slug FROM package"))
    written_slugs = {slugs[package] for package in written_at}
    if claimed:
        in_hand = {slugs[package] for package in claimed} - written_slugs
    else:
        # The stand-in logs a request as it answers, after its latency: the dead worker's last asks come in after the
        # kill. Its GraphQL batches count: what it read ahead was in its hands too.
        time.sleep(max(0.0, clock + 2 * latency + 0.25 - time.time()))
        in_hand = asked_packages(list(standin.requests), list(standin.graphql_asked), names) - written_slugs
    _progress(f"  killed worker pid {victim.pid} at {len(written_at)} written ({len(claimed)} claimed by it)")
    return victim, {
        "time": victim.killed_at, "clock": clock, "started": started, "written_at": written_at, "claimed": claimed,
        "in_hand": in_hand,
    }


def _after_kill(settings, store, world, records, workdir, env, config, victim, children, at_kill):
    """The others have ended: wait out the dead worker's lease if anything is left, run a follow-up sync, check."""
    killed_at = at_kill["time"]
    others = [child for child in children if child is not victim]
    written_when_others_ended = store.written()
    left = packages_left(store)
    follow_exit = follow_started = follow_packages = None
    if left:
        _progress(f"  {left} left when the others ended")
        wait_out_lease(store, victim.pid, settings.timeout)
        follow_started = time.perf_counter() - killed_at
        follow = run_process([sys.executable, "-m", "fetcher", "--config", str(config), "sync"], env, workdir,
                             settings.timeout)  # fmt: skip
        follow_exit = follow.exit_code
        done = _DONE.search(follow.stdout)
        follow_packages = int(done[1]) if done else None
        _progress(f"  follow-up sync exit {follow_exit}: {follow_packages} packages")
    now_written = store.written_at()
    lost = sum(1 for package, stamp in at_kill["written_at"].items()
               if package not in now_written or str(now_written[package]) < str(stamp))  # fmt: skip
    not_whole = whole_check(store, world, records)
    taken = None
    if at_kill["claimed"]:
        moments = [_parse(now_written[p]) for p in at_kill["claimed"] if p in now_written]
        clock = at_kill["clock"]
        taken = [round(min(moments) - clock, 1), round(max(moments) - clock, 1)] if moments else []
    return Kill(
        workers=len(children), killed_pid=victim.pid, killed_at_s=round(killed_at - at_kill["started"], 2),
        written_at_kill=len(at_kill["written_at"]), claimed_by_killed=len(at_kill["claimed"]),
        in_hand=len(at_kill["in_hand"]), others_exit=[child.process.exit_code for child in others],
        written_when_others_ended=written_when_others_ended, left_when_others_ended=left,
        follow_up_exit=follow_exit, follow_up_started_s=None if follow_started is None else round(follow_started, 1),
        follow_up_packages=follow_packages, left_at_end=packages_left(store), lost=lost, not_whole=len(not_whole),
        not_whole_examples=not_whole[:5], claimed_taken_s=taken,
    )  # fmt: skip


def wait_out_lease(store: Store, pid: int, timeout: float) -> None:
    """Sleep until the lease of the killed process's worker row has passed (at most `timeout`), so its claims are
    free for the next sync; no row, no wait."""
    row = store.worker(pid)
    if row is not None:
        wait = _parse(row[1]) - time.time() + 1.0
        if wait > 0:
            _progress(f"  waiting {wait:.0f}s for the killed worker's lease to pass")
            time.sleep(min(wait, timeout))


def _parse(stamp: Any) -> float:
    moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def packages_left(store: Store) -> int:
    """Packages no sync has finished with: never attempted (a failure counts as finished with)."""
    return store.value("SELECT count(*) FROM package LEFT JOIN fetch_state ON fetch_state.package_id = package.id "
                       "WHERE fetch_state.last_attempt IS NULL")


def whole_check(store: Store, world: World, records: list[dict[str, Any]]) -> list[str]:
    """The written packages whose record is not the stand-in's (FIELDS as the world says; the weekly counts the
    world's, or none yet while GitHub computed them): a half-written or mixed-up record."""
    by_slug = {record["slug"]: record for record in records}
    bad = []
    rows = store.rows(f"SELECT slug, {', '.join(FIELDS)}, commits_over_52 FROM package WHERE last_fetched IS NOT NULL")
    for slug, *values in rows:
        truth = world.expected_fields(by_slug[slug])
        got = dict(zip([*FIELDS, "commits_over_52"], values))
        for name in ("participants", "commits_over_52"):
            got[name] = json.loads(got[name])
        if any(got[name] != truth[name] for name in FIELDS) or got["commits_over_52"] not in (
                truth["commits_over_52"], []):
            bad.append(slug)
    return sorted(bad)


# --- the whole bench -------------------------------------------------------------------------------------------


class BenchError(Exception):
    """A pass the bench cannot go on from: no server, an import that failed."""


def _progress(message: str) -> None:
    print(f"[fleet] {message}", file=sys.stderr, flush=True)


@dataclass
class Results:
    settings: Settings
    passes: list[Pass] = field(default_factory=list)
    error: str | None = None

    def targets(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []

        def add(target: str, measured: Any, met: bool | None) -> None:
            out.append({"target": target, "measured": measured, "met": met})

        for p in self.passes:
            if p.case == "throughput" and p.workers > 1 and p.ratio is not None:
                bound = p.standin_cpu_share >= STANDIN_BOUND
                add(f"{p.workers} workers: packages/s >= {THROUGHPUT_SHARE * p.workers:g}x one worker's"
                    + (" (the stand-in was the bottleneck: not judged)" if bound else ""),
                    p.ratio, None if bound else p.ratio >= THROUGHPUT_SHARE * p.workers)  # fmt: skip
            add(f"{p.case}, {p.workers} workers, {p.packages} packages: packages fetched twice = 0",
                p.duplicates.packages - p.duplicates.excused, p.duplicates.packages - p.duplicates.excused == 0)
            if p.kill:
                k = p.kill
                add("kill: the other workers ran to their end (exit 0 or 1)", k.others_exit,
                    all(code in (0, 1) for code in k.others_exit))
                add("kill: records written before the kill lost or reverted = 0", k.lost, k.lost == 0)
                add("kill: written records not whole = 0", k.not_whole, k.not_whole == 0)
                add("kill: packages left unfetched at the end = 0", k.left_at_end, k.left_at_end == 0)
            if p.spend:
                low = min(min(t.lowest_core, t.lowest_graphql) for t in p.spend.tokens)
                add(f"spend: every token's lowest remaining >= sync.reserve ({p.spend.reserve})", low, p.spend.kept)
        memory = self.memory()
        if memory:
            add(f"peak RSS per worker at {memory['large_packages']} packages <= {MEMORY_GROWTH:g}x that at "
                f"{memory['small_packages']}", memory["ratio"],
                None if memory["ratio"] is None else memory["ratio"] <= MEMORY_GROWTH)  # fmt: skip
        return out

    def memory(self) -> dict[str, Any] | None:
        small = next((p for p in self.passes if p.case == "memory"), None)
        if small is None:
            return None
        large = [p for p in self.passes if p.case == "throughput" and p.workers == small.workers]
        if not large:
            return None
        peak_small, peak_large = _peak(small), _peak(large[0])
        return {
            "workers": small.workers, "small_packages": small.packages, "large_packages": large[0].packages,
            "small_peak_mb": peak_small, "large_peak_mb": peak_large,
            "ratio": round(peak_large / peak_small, 2) if peak_small and peak_large else None,
        }  # fmt: skip

    def as_json(self, complete: bool) -> dict[str, Any]:
        return {
            "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "complete": complete,
            "settings": {**asdict(self.settings), "postgres_url": bool(self.settings.postgres_url),
                         "python": sys.version.split()[0], "cpus": os.cpu_count()},  # fmt: skip
            "passes": [asdict(p) for p in self.passes],
            "memory": self.memory(),
            "targets": self.targets(),
            "error": self.error,
        }


def _peak(p: Pass) -> float | None:
    peaks = [run.peak_rss_mb for run in p.runs if run.peak_rss_mb is not None and run.packages]
    return max(peaks) if peaks else None


def _cells(values: Iterable[Any], fmt: str = "{}") -> str:
    return " ".join("?" if v is None else fmt.format(v) for v in values)


def render(results: Results) -> str:
    s = results.settings
    parts = [f"Workers on one PostgreSQL store: {s.packages} packages, latency {s.latency:g}s, concurrency "
             f"{s.concurrency} per worker, {s.cold_stats * 100:g}% of statistics cold, seed {s.seed}, "
             f"{os.cpu_count()} CPUs", ""]  # fmt: skip
    headers = ["case", "W", "packages", "done", "written", "wall s", "pkg/s", "x one", "stand-in CPU",
               "fetched twice", "exits", "peak RSS MB", "CPU s"]  # fmt: skip
    rows = []
    for p in results.passes:
        rows.append([
            p.case, str(p.workers), str(p.packages), str(p.attempted), str(p.written), f"{p.wall_s:.1f}",
            f"{p.packages_per_s:.1f}", "-" if p.ratio is None else f"{p.ratio:.2f}", f"{p.standin_cpu_share:.2f}",
            f"{p.duplicates.packages}" + (f" ({p.duplicates.excused} excused)" if p.duplicates.excused else ""),
            _cells(("k" if r.killed else r.exit_code) for r in p.runs),
            _cells((r.peak_rss_mb for r in p.runs), "{:.0f}"), _cells((r.cpu_s for r in p.runs), "{:.1f}"),
        ])  # fmt: skip
    parts.append(markdown(headers, rows))
    for p in results.passes:
        if p.case == "kill" and p.kill is None:
            parts += ["", f"Kill: the workers ended before {s.kill_at:g} of the packages were written; none was killed"]
        if p.kill:
            k = p.kill
            parts += ["", f"Kill: {k.workers} workers, pid {k.killed_pid} killed at {k.killed_at_s:.1f}s with "
                      f"{k.written_at_kill} written ({k.claimed_by_killed} claimed by it, {k.in_hand} asked about and "
                      f"not written); the others exited {k.others_exit} with {k.written_when_others_ended} written "
                      f"and {k.left_when_others_ended} left"
                      + ("" if k.follow_up_exit is None else
                         f"; a follow-up sync {k.follow_up_started_s:.0f}s after the kill exited {k.follow_up_exit} "
                         f"after {k.follow_up_packages} packages")
                      + f"; left at the end {k.left_at_end}, lost {k.lost}, not whole {k.not_whole}"
                      + ("" if k.claimed_taken_s is None else
                         f"; its claimed packages written {k.claimed_taken_s} s after the kill")]  # fmt: skip
        if p.spend:
            sp = p.spend
            rows = [[t.variable, str(t.budget), str(t.lowest_core), str(t.lowest_graphql), str(sp.reserve)]
                    for t in sp.tokens]
            parts += ["", f"Spend: {p.workers} workers, {p.packages} packages; {sp.runs} runs spent {sp.run_points} "
                      f"points (sync_run.points summed), the stand-in charged {sp.standin_points}", "",
                      markdown(["token", "budget", "lowest REST left", "lowest GraphQL left", "reserve"], rows)]
    memory = results.memory()
    if memory:
        parts += ["", f"Memory: peak RSS per worker ({memory['workers']} workers) {memory['small_peak_mb']} MB at "
                  f"{memory['small_packages']} packages, {memory['large_peak_mb']} MB at {memory['large_packages']}: "
                  f"ratio {memory['ratio']}"]  # fmt: skip
    targets = results.targets()
    if targets:
        rows = [[t["target"], "-" if t["measured"] is None else str(t["measured"]),
                 {True: "met", False: "MISSED", None: "-"}[t["met"]]] for t in targets]  # fmt: skip
        parts += ["", markdown(["target", "measured", ""], rows)]
    parts += ["", "Each worker's last line:"]
    for p in results.passes:
        for r in p.runs:
            parts.append(f"  {p.case} W={p.workers} pid {r.pid}: {'killed' if r.killed else r.exit_code}: {r.summary}")
    if results.error:
        parts += ["", f"stopped: {results.error}"]
    return "\n".join(parts)


def fleet(settings: Settings, json_path: Path | None = None) -> int:
    """Run the passes, print the tables, write the JSON (after every pass, so a stopped bench keeps what it has).
    Exit 0 when every pass ran (whatever the targets say), 1 when one could not, 130 on Ctrl-C."""
    results = Results(settings)
    code = 0

    def write(complete: bool) -> None:
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            data = results.as_json(complete)
            data["table"] = render(results)
            json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    def add(p: Pass) -> None:
        results.passes.append(p)
        write(False)

    try:
        with postgres(settings.postgres_url) as server, tempfile.TemporaryDirectory(prefix="fleet-") as temp:
            workdir = Path(temp)
            one = None
            for workers in settings.workers:
                p = one_pass(settings, server, workdir, "throughput", settings.packages, workers)
                if workers == 1:
                    one = p
                if one is not None and one.packages_per_s:
                    p.ratio = round(p.packages_per_s / one.packages_per_s, 2)
                add(p)
            if settings.kill_workers:
                add(one_pass(settings, server, workdir, "kill", settings.packages, settings.kill_workers, kill=True))
            if settings.spend_points:
                add(one_pass(settings, server, workdir, "spend", settings.packages, settings.spend_workers,
                             budget=settings.spend_points, reserve=settings.reserve))  # fmt: skip
            if settings.small and settings.workers:
                add(one_pass(settings, server, workdir, "memory", settings.small, max(settings.workers)))
    except BenchError as failure:
        results.error, code = str(failure), 1
    except KeyboardInterrupt:
        results.error, code = "stopped by SIGINT", 130
    write(results.error is None)
    print(render(results), flush=True)
    return code


# --- the command line ------------------------------------------------------------------------------------------


def _counts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a list of worker counts like 1,2,4") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text}: worker counts are 1 or more")
    return values


def _at_least(kind, low):
    def parse(text: str):
        value = kind(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below {low}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    add = parser.add_argument
    add("--packages", type=_at_least(int, 1), default=defaults.packages, help="catalogue size of every pass")
    add("--workers", type=_counts, default="1,2,4", help="the worker counts of the throughput passes, in order; "
        "the first should be 1, the ratio's base")  # fmt: skip
    add("--latency", type=_at_least(float, 0), default=defaults.latency, help="seconds the stand-in takes per answer")
    add("--concurrency", type=_at_least(int, 1), default=defaults.concurrency, help="each worker's sync.concurrency")
    add("--seed", type=int, default=defaults.seed, help="the generated world's seed")
    add("--cold-stats", type=float, default=defaults.cold_stats,
        help="share of repositories whose weekly statistics start cold (202 for --stats-delay seconds)")  # fmt: skip
    add("--stats-delay", type=_at_least(float, 0), default=defaults.stats_delay,
        help="seconds GitHub takes to compute cold statistics")  # fmt: skip
    add("--kill-workers", type=_at_least(int, 0), default=defaults.kill_workers,
        help="workers of the kill pass, one of them killed with SIGKILL (0: no kill pass)")  # fmt: skip
    add("--kill-at", type=float, default=defaults.kill_at, help="share of the packages written at the kill")
    add("--lease", type=_at_least(float, 1), default=defaults.lease,
        help="seconds, written as [sync] lease into the workers' configs when this fetcher has that key; "
             "otherwise the kill pass waits out fetcher's built-in lease")  # fmt: skip
    add("--spend-points", type=_at_least(int, 0), default=defaults.spend_points,
        help="the spend pass: each of the two tokens' budget, REST and GraphQL (0: no spend pass)")  # fmt: skip
    add("--spend-workers", type=_at_least(int, 1), default=defaults.spend_workers, help="workers of the spend pass")
    add("--reserve", type=_at_least(int, 0), default=defaults.reserve, help="sync.reserve in the spend pass")
    add("--small", type=_at_least(int, 0), default=defaults.small,
        help="the memory pass: the largest --workers count at this many packages, its peak RSS per worker "
             "compared with the throughput pass's at --packages (0: none)")  # fmt: skip
    add("--postgres-url", default=None, metavar="URL",
        help="a PostgreSQL database the user may create schemas in (default: a throwaway cluster, started and "
             "removed as the tests do, where PostgreSQL's server binaries are installed)")  # fmt: skip
    add("--timeout", type=_at_least(float, 1), default=defaults.timeout,
        help="seconds a pass may take before its workers are killed")  # fmt: skip
    add("--json", type=Path, default=None, metavar="PATH", help="also write every figure as JSON to PATH")
    args = parser.parse_args(argv)
    settings = Settings(
        packages=args.packages, workers=args.workers, latency=args.latency, concurrency=args.concurrency,
        seed=args.seed, cold_stats=args.cold_stats, stats_delay=args.stats_delay, kill_workers=args.kill_workers,
        kill_at=args.kill_at, lease=args.lease, spend_points=args.spend_points, spend_workers=args.spend_workers,
        reserve=args.reserve, small=args.small if args.small < args.packages else 0,
        postgres_url=args.postgres_url, timeout=args.timeout,
    )  # fmt: skip
    return fleet(settings, args.json)


if __name__ == "__main__":
    sys.exit(main())
