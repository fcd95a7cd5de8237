"""The benchmark: fetcher against the loopback stand-in, and the sequential REST baseline beside it.

Every number is the benchmark's own observation: requests and rate-limit
points are counted at the stand-in, wall time around each subprocess, peak
RSS as the child reports it (``bench/peak.py`` says why not ``wait4``'s), CPU time
from ``os.wait4``. See ``python -m bench --help``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.peak import PEAK_FILE
from fetcher.standin import Logged, StandIn, World
from fetcher.standin.vary import Variation, route_kind

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
# The baseline's stand-in, and the scale run's, are not rate limited: the one would be cut short, the
# other is about memory and CPU. Their points are counted all the same.
UNLIMITED = 10**9
# Exit codes that end a run but not the benchmark: done, some packages failed, stopped early (rate limit).
FINISHED = (0, 1, 75)

COLD, WARM, PUSHED = "cold", "warm-unchanged", "warm-pushed"

# What fetcher is held to: points per package at most, by phase; cold wall time at least this many
# times faster than the baseline and at most this many times the latency floor; peak RSS and CPU at scale.
POINTS_TARGETS = ((COLD, 3.0), (WARM, 0.02), (PUSHED, 0.35))
SPEEDUP_TARGET = 15.0
FLOOR_TARGET = 1.5
SCALE_RSS_MB = 200.0
SCALE_RSS_GROWTH = 1.10  # peak RSS at --scale N over that at --packages, phase by phase: memory flat in the catalogue
WARM_LINEAR = 1.20  # warm seconds per package at --scale N over that at --packages: wall time linear in packages due
SCALE_CPU_MS = 2.0


@dataclass
class Settings:
    packages: int = 2000
    latency: float = 0.05
    concurrency: int = 16
    pushed: float = 0.1
    seed: int = 0
    baseline: str = "all"  # all, cold or none
    scale: int = 0
    stats_delay: float = 1.0
    cold_stats: float = 0.3
    stats_asks: int = 0  # above 0: cold statistics answer 202 to their first 1..stats_asks asks, not for stats_delay
    rate_limit: int = 5000  # fetcher's stand-in: points an hour, REST and GraphQL each; refilled before each phase
    timeout: float = 3600.0  # per subprocess
    tty: bool = False  # fetcher's stderr on a pseudo-terminal, so it draws its progress bar
    vary: int | None = None  # a seed: the stand-in varied (fetcher/standin/vary.py); None: the plain stand-in

    def label(self, phase: str) -> str:
        return {COLD: "cold", WARM: "warm, nothing changed", PUSHED: f"warm, {self.pushed * 100:g}% pushed"}[phase]


# --- one subprocess, measured ----------------------------------------------------


@dataclass
class Process:
    exit_code: int
    wall: float
    peak_rss_mb: float | None  # None when the child did not report it (killed, or no /proc)
    cpu_s: float
    stdout: str
    stderr: str


def run_process(argv: list[str], env: dict[str, str], cwd: Path, timeout: float, tty: bool = False) -> Process:
    """Run ``[python, "-m", MODULE, ARGS...]`` to its end (killed after ``timeout`` s), with its CPU time and peak RSS.

    The module runs under ``bench.peak``, which reports the child's own peak RSS. With ``tty`` its stderr is
    a pseudo-terminal, read (and kept) as a person's terminal would be.
    """
    python, flag, *module_args = argv
    if flag != "-m":
        raise ValueError(f"run_process runs a module (python -m MODULE ...), not {argv[:3]}")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="peak-") as peak:
        terminal = Terminal(err) if tty else None
        started = time.perf_counter()
        child = subprocess.Popen(
            [python, "-m", "bench.peak", *module_args], stdout=out, stderr=terminal.child_end if terminal else err,
            stdin=subprocess.DEVNULL, env={**env, PEAK_FILE: peak.name}, cwd=cwd,
        )
        if terminal:
            terminal.started()
        deadline = started + timeout
        killed = False
        pid = 0
        try:
            # Polled rather than blocking, so the deadline needs no second thread racing the reaping.
            while not pid:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if not killed and time.perf_counter() > deadline:
                    os.kill(child.pid, signal.SIGKILL)
                    killed = True
                time.sleep(0.002)
        except BaseException:  # interrupted: take the child down too, and reap it
            if not pid:
                os.kill(child.pid, signal.SIGKILL)
                os.wait4(child.pid, 0)
            child.returncode = -signal.SIGKILL
            raise
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if terminal:
            terminal.drain()
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        if killed:
            stderr += f"\n(killed after {timeout:g}s)"
        return Process(
            exit_code=child.returncode,
            wall=wall,
            peak_rss_mb=int(reported) / 1024 if (reported := Path(peak.name).read_text()) else None,
            cpu_s=usage.ru_utime + usage.ru_stime,
            stdout=out.read().decode(errors="replace"),
            stderr=stderr,
        )


class Terminal:
    """A pseudo-terminal for a child's stderr; a thread copies what it shows into ``sink``."""

    def __init__(self, sink):
        self.controller, self.child_end = os.openpty()
        self._thread = threading.Thread(target=self._copy, args=(sink,), daemon=True)
        self._thread.start()

    def started(self) -> None:
        os.close(self.child_end)  # the child holds its own copy: the terminal closes when the child ends

    def _copy(self, sink) -> None:
        while True:
            try:
                chunk = os.read(self.controller, 65536)
            except OSError:  # EIO: every writer has closed its end
                break
            if not chunk:
                break
            sink.write(chunk)

    def drain(self) -> None:
        self._thread.join(timeout=10)
        os.close(self.controller)


def child_env(token: str | None = TOKEN) -> dict[str, str]:
    """The bench's environment, without a config override, with the project importable and the bench token."""
    env = {name: value for name, value in os.environ.items() if name not in ("FETCHER_CONFIG", "GITHUB_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(ROOT)]))
    if token:
        env["GITHUB_TOKEN"] = token
    return env


# --- what the stand-in saw ---------------------------------------------------------

KINDS = ("graphql", "repo", "contributors", "participation", "commits", "pypi", "other")


def request_kind(entry: Logged) -> str:
    """The kind of request the stand-in logged, as its latency variation names routes (standin/vary.py)."""
    return route_kind(entry.method, entry.path)


@dataclass
class Mark:
    """The stand-in's counters at one moment, to count one phase's share."""

    requests: int
    rest_points: int
    graphql_points: int
    slept: float  # seconds of latency the stand-in added to its answers

    @classmethod
    def of(cls, standin: StandIn) -> Mark:
        return cls(len(standin.requests), standin.points_charged, standin.graphql_points, standin.slept)


@dataclass
class Requests:
    total: int = 0
    graphql: int = 0
    repo: int = 0
    contributors: int = 0
    participation: int = 0
    commits: int = 0
    pypi: int = 0
    other: int = 0
    accepted_202: int = 0
    redirects_301: int = 0
    not_modified_304: int = 0
    client_errors_4xx: int = 0
    server_errors_5xx: int = 0
    by_kind_status: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> status -> requests


def count_requests(entries: list[Logged]) -> Requests:
    kinds = Counter(request_kind(entry) for entry in entries)
    statuses = Counter(entry.status for entry in entries)
    by_kind_status: dict[str, dict[str, int]] = {}
    for (kind, status), n in sorted(Counter((request_kind(e), e.status) for e in entries).items()):
        by_kind_status.setdefault(kind, {})[str(status)] = n
    return Requests(
        total=len(entries),
        **{kind: kinds[kind] for kind in KINDS},
        accepted_202=statuses[202],
        redirects_301=statuses[301],
        not_modified_304=statuses[304],
        client_errors_4xx=sum(n for status, n in statuses.items() if 400 <= status < 500),
        server_errors_5xx=sum(n for status, n in statuses.items() if status >= 500),
        by_kind_status=by_kind_status,
    )


# --- one measured run ----------------------------------------------------------------


@dataclass
class Run:
    client: str
    phase: str
    label: str
    packages: int
    exit_code: int
    wall_s: float
    packages_per_s: float
    requests: Requests
    rest_points: int
    graphql_points: int
    points: int
    points_per_package: float
    concurrency: int
    latency_floor_s: float
    wall_over_floor: float | None
    peak_rss_mb: float | None
    cpu_s: float
    cpu_ms_per_package: float
    standin_cpu_s: float  # the bench process meanwhile: mostly the stand-in; near wall time means it was the bottleneck
    summary: str
    # Mean requests in flight over the run (first request to last answer) divided by the concurrency: how busy
    # the client kept its request slots; and the requests in flight, on average, in each half second.
    utilisation: float | None = None
    in_flight: list[float] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_DONE = re.compile(r"\b(\d+) of (\d+) packages\b")


def measure(
    client: str,
    phase: str,
    label: str,
    standin: StandIn,
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    settings: Settings,
    packages: int,
    concurrency: int,
) -> Run:
    before, cpu_before = Mark.of(standin), _own_cpu()
    standin.in_flight.reset()
    process = run_process(argv, env, cwd, settings.timeout, tty=settings.tty and client == "fetcher")
    after, own_cpu = Mark.of(standin), _own_cpu() - cpu_before
    requests = count_requests(standin.requests[before.requests : after.requests])
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else ""
    done = _DONE.search(summary)  # "N of M packages": fewer than M when a run stopped early
    if done:
        packages = int(done[1])
    rest = after.rest_points - before.rest_points
    graphql = after.graphql_points - before.graphql_points
    # The latency the stand-in added over the slots: requests x latency, unless varied route by route.
    floor = (after.slept - before.slept) / concurrency
    per = max(packages, 1)
    return Run(
        client=client,
        phase=phase,
        label=label,
        packages=packages,
        exit_code=process.exit_code,
        wall_s=round(process.wall, 3),
        packages_per_s=round(packages / process.wall, 1) if process.wall else 0.0,
        requests=requests,
        rest_points=rest,
        graphql_points=graphql,
        points=rest + graphql,
        points_per_package=round((rest + graphql) / per, 4),
        concurrency=concurrency,
        latency_floor_s=round(floor, 3),
        wall_over_floor=round(process.wall / floor, 2) if floor else None,
        peak_rss_mb=None if process.peak_rss_mb is None else round(process.peak_rss_mb, 1),
        cpu_s=round(process.cpu_s, 3),
        cpu_ms_per_package=round(process.cpu_s * 1000 / per, 3),
        standin_cpu_s=round(own_cpu, 3),
        summary=summary,
        stderr_tail=[line for line in process.stderr.splitlines() if line.strip()][-5:],
        utilisation=round(standin.in_flight.mean() / concurrency, 3) if standin.in_flight.seconds() else None,
        in_flight=[round(mean, 2) for mean in standin.in_flight.timeline()],
    )


# --- the world and its pushes ----------------------------------------------------------


def make_world(settings: Settings, packages: int) -> tuple[World, list[dict[str, Any]]]:
    return World.generate(packages, seed=settings.seed, cold_stats=settings.cold_stats, stats_asks=settings.stats_asks)


def variation(settings: Settings) -> Variation | None:
    return None if settings.vary is None else Variation(settings.vary, settings.latency)


def describe(world: World, packages: int) -> dict[str, int]:
    """What the catalogue meets on the stand-in: missing repositories make fetcher exit 1, as they should."""
    repos = world.repos.values()
    return {
        "packages": packages,
        "repositories": len(world.repos),
        "renamed": len(world.renames),
        "missing": packages - len(world.repos),
        "empty": sum(repo.empty for repo in repos),
        "cold_stats": sum(repo.stats_cold or repo.pending_asks > 0 for repo in repos),
    }


def push_share(world: World, share: float, seed: int) -> int:
    """Push to a seeded random share of the existing repositories, each 1-5 commits by a random contributor."""
    rng = random.Random(f"push:{seed}")
    names = sorted(world.repos)
    chosen = rng.sample(names, round(len(names) * share))
    for name in chosen:
        repo = world.repos[name]
        author = rng.choice(repo.contributors) if repo.contributors else None
        world.push(name, commits=rng.randint(1, 5), author=author)
    return len(chosen)


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- fetcher ---------------------------------------------------------------------------


class FetcherRunner:
    """A store and a config in a temporary directory, and fetcher run as a subprocess against the stand-in."""

    def __init__(self, standin: StandIn, workdir: Path, settings: Settings, catalog: Path) -> None:
        self.standin = standin
        self.workdir = workdir
        self.settings = settings
        self.env = child_env()
        self.config = workdir / "config.toml"
        self.config.write_text(
            "[store]\n"
            'path = "bench.db"\n'
            "[github]\n"
            f'api_url = "{standin.url}"\n'
            f'graphql_url = "{standin.graphql_url}"\n'
            "pace = false\n"
            "[pypi]\n"
            f'url = "{standin.url}"\n'
            "[sync]\n"
            f"concurrency = {settings.concurrency}\n",
            encoding="utf-8",
        )
        self.catalog = catalog

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "fetcher", "--config", str(self.config), *args]

    def hour_passed(self) -> None:
        """Let the stored budgets' resets pass, as the stand-in's refill did: a cron run an hour later would find them so.

        fetcher plans a run from the budgets the last run saw (table rate_limit). The bench runs its phases
        back to back, so without this the resets stored by the last phase would still be ahead, and the plan
        would leave for the next run packages that an hourly run, after the reset, would take.
        """
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        with contextlib.closing(sqlite3.connect(self.workdir / "bench.db")) as db, db:
            db.execute("UPDATE rate_limit SET reset = ? WHERE reset > ?", (now, now))

    def import_catalog(self) -> Process:
        return run_process(self.argv("import", str(self.catalog)), self.env, self.workdir, self.settings.timeout)

    def phase(self, phase: str, label: str, packages: int, *args: str) -> Run:
        return measure(
            "fetcher", phase, label, self.standin, self.argv(*args), self.env, self.workdir,
            self.settings, packages, self.settings.concurrency,
        )  # fmt: skip


def run_fetcher(
    settings: Settings,
    packages: int,
    phases: tuple[str, ...],
    workdir: Path,
    results: Results,
    rate_limit: int,
    scale: bool = False,
) -> None:
    """Import, then each phase in order (cold sync, warm sync --all, push then sync --all).

    Each phase starts with a full budget, as a cron run an hour after the last would.
    """
    world, records = make_world(settings, packages)
    facts: dict[str, Any] = {**describe(world, packages), "rate_limit": rate_limit}
    varied = variation(settings)
    if varied is not None:
        facts["variation"] = varied.describe()
    results.worlds.append(facts)
    catalog = workdir / "catalog.json"
    catalog.write_text(json.dumps(records), encoding="utf-8")
    with StandIn(
        world, settings.latency, token=TOKEN, stats_delay=settings.stats_delay,
        rate_limit=rate_limit, graphql_rate_limit=rate_limit, variation=varied,
    ) as standin:  # fmt: skip
        fetcher = FetcherRunner(standin, workdir, settings, catalog)
        imported = fetcher.import_catalog()
        if imported.exit_code != 0:
            raise BenchError(f"fetcher import exited {imported.exit_code}: {imported.stderr.strip()}")
        for phase in phases:
            if phase == PUSHED:
                pushed = push_share(world, settings.pushed, settings.seed)
                facts["pushed"] = pushed
                _progress(f"pushed to {pushed} repositories")
            _progress(f"fetcher, {settings.label(phase)}, {packages} packages")
            standin.refill()
            fetcher.hour_passed()
            command = ("sync",) if phase == COLD else ("sync", "--all")
            run = fetcher.phase(phase, settings.label(phase), packages, *command)
            _progress(f"  exit {run.exit_code} in {run.wall_s:.1f}s: {run.summary}")
            results.add(run, scale)
            if run.exit_code not in FINISHED:
                raise BenchError(_failed("fetcher", run))


def run_baseline(settings: Settings, phases: tuple[str, ...], workdir: Path, results: Results) -> None:
    """The same phases against a fresh world of the same seed, so its statistics start as cold."""
    world, records = make_world(settings, settings.packages)
    catalog = workdir / "catalog.json"
    catalog.write_text(json.dumps(records), encoding="utf-8")
    env = child_env(None)
    with StandIn(
        world, settings.latency, token=TOKEN, stats_delay=settings.stats_delay,
        rate_limit=UNLIMITED, graphql_rate_limit=UNLIMITED, variation=variation(settings),
    ) as standin:  # fmt: skip
        argv = [
            sys.executable, "-m", "bench.baseline",
            "--api", standin.url, "--catalog", str(catalog), "--token", TOKEN,
        ]  # fmt: skip
        for phase in phases:
            if phase == PUSHED:
                push_share(world, settings.pushed, settings.seed)
            _progress(f"baseline, {settings.label(phase)}, {settings.packages} packages")
            run = measure(
                "baseline", phase, settings.label(phase), standin, argv, env, workdir, settings,
                settings.packages, 1,
            )  # fmt: skip
            _progress(f"  exit {run.exit_code} in {run.wall_s:.1f}s: {run.summary}")
            results.add(run)
            if run.exit_code not in FINISHED:
                raise BenchError(_failed("baseline", run))


class BenchError(Exception):
    """A run the benchmark cannot go on from: fetcher could not import, or a run crashed or was refused."""


class Interrupted(Exception):
    """SIGTERM: the benchmark stops, keeping what it measured."""


def _terminate(signum: int, frame: Any) -> None:
    raise Interrupted(f"stopped by {signal.Signals(signum).name}")


def _failed(client: str, run: Run) -> str:
    tail = "\n".join(run.stderr_tail)
    return f"{client} {run.label} exited {run.exit_code}:\n{tail}"


# --- the report ---------------------------------------------------------------------------

COLUMNS = (
    ("client", lambda r: r.client),
    ("phase", lambda r: r.label),
    ("exit", lambda r: str(r.exit_code)),
    ("wall s", lambda r: f"{r.wall_s:.2f}"),
    ("pkg/s", lambda r: f"{r.packages_per_s:.1f}"),
    ("requests", lambda r: str(r.requests.total)),
    ("GraphQL", lambda r: str(r.requests.graphql)),
    ("repo", lambda r: str(r.requests.repo)),
    ("contributors", lambda r: str(r.requests.contributors)),
    ("participation", lambda r: str(r.requests.participation)),
    ("202", lambda r: str(r.requests.accepted_202)),
    ("commits", lambda r: str(r.requests.commits)),
    ("304", lambda r: str(r.requests.not_modified_304)),
    ("4xx", lambda r: str(r.requests.client_errors_4xx)),
    ("PyPI", lambda r: str(r.requests.pypi)),
    ("points", lambda r: str(r.points)),
    ("pts/pkg", lambda r: f"{r.points_per_package:.3f}"),
    ("floor s", lambda r: f"{r.latency_floor_s:.2f}"),
    ("wall/floor", lambda r: "-" if r.wall_over_floor is None else f"{r.wall_over_floor:.2f}"),
    ("slots busy", lambda r: "-" if r.utilisation is None else f"{r.utilisation:.2f}"),
    ("RSS MB", lambda r: "?" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}"),
    ("CPU ms/pkg", lambda r: f"{r.cpu_ms_per_package:.2f}"),
)


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"

    rule = "| " + " | ".join("-" * width for width in widths) + " |"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def budget_hours(run: Run, rate_limit: int) -> float:
    """Hours of GitHub's budget the run needs: REST and GraphQL are budgets of their own."""
    return round(max(run.rest_points, run.graphql_points) / rate_limit, 2)


def ratios(runs: list[Run], rate_limit: int) -> list[dict[str, Any]]:
    by = {(run.client, run.phase): run for run in runs}
    out = []
    for phase in (COLD, WARM, PUSHED):
        mine, theirs = by.get(("fetcher", phase)), by.get(("baseline", phase))
        if mine is None or theirs is None:
            continue
        out.append(
            {
                "phase": phase,
                "label": mine.label,
                "speedup": round(theirs.wall_s / mine.wall_s, 1) if mine.wall_s else None,
                "fetcher_points_per_package": mine.points_per_package,
                "baseline_points_per_package": theirs.points_per_package,
                "points_ratio": round(mine.points / theirs.points, 3) if theirs.points else None,
                "fetcher_budget_hours": budget_hours(mine, rate_limit),
                "baseline_budget_hours": budget_hours(theirs, rate_limit),
            }
        )
    return out


def targets(runs: list[Run], scale: list[Run]) -> list[dict[str, Any]]:
    """Each target fetcher is held to, with what was measured; met is None when this run cannot tell."""
    by = {(run.client, run.phase): run for run in runs}
    out: list[dict[str, Any]] = []

    def add(target: str, measured: float | None, met: bool | None) -> None:
        out.append({"target": target, "measured": measured, "met": met})

    for phase, bound in POINTS_TARGETS:
        run = by.get(("fetcher", phase))
        if run:
            measured = run.points_per_package
            add(f"{run.label}: points/package <= {bound:g}", measured, measured <= bound)
    cold, base = by.get(("fetcher", COLD)), by.get(("baseline", COLD))
    if cold and base:
        speedup = round(base.wall_s / cold.wall_s, 1)
        add(f"cold: wall time >= {SPEEDUP_TARGET:g}x faster than the baseline", speedup, speedup >= SPEEDUP_TARGET)
    if cold:
        ratio = cold.wall_over_floor
        met = None if ratio is None else ratio <= FLOOR_TARGET
        add(f"cold: wall time <= {FLOOR_TARGET:g}x the latency floor", ratio, met)
    for run in scale:
        rss, small = run.peak_rss_mb, by.get(("fetcher", run.phase))
        add(f"scale {run.packages}, {run.label}: peak RSS < {SCALE_RSS_MB:g} MB", rss,
            None if rss is None else rss < SCALE_RSS_MB)  # fmt: skip
        if small and small.peak_rss_mb and rss is not None:
            growth = round(rss / small.peak_rss_mb, 2)
            add(f"scale {run.packages}, {run.label}: peak RSS <= {SCALE_RSS_GROWTH:g}x that at {small.packages}",
                growth, growth <= SCALE_RSS_GROWTH)  # fmt: skip
        if small and run.phase != COLD and small.wall_s and run.packages:
            per_package = round((run.wall_s / run.packages) / (small.wall_s / small.packages), 2)
            add(f"scale {run.packages}, {run.label}: wall time per package <= {WARM_LINEAR:g}x that at "
                f"{small.packages}", per_package, per_package <= WARM_LINEAR)  # fmt: skip
        add(
            f"scale {run.packages}, {run.label}: CPU < {SCALE_CPU_MS:g} ms/package",
            run.cpu_ms_per_package,
            run.cpu_ms_per_package < SCALE_CPU_MS,
        )
    return out


def render(result: dict[str, Any], runs: list[Run], scale: list[Run]) -> str:
    settings = result["settings"]
    world = result["worlds"][0] if result["worlds"] else {}
    cold = (f"202 to their first 1 to {settings['stats_asks']} asks" if settings.get("stats_asks")
            else f"{settings['stats_delay']:g}s to compute")  # fmt: skip
    parts = [
        f"{settings['packages']} packages, latency {settings['latency']:g}s, concurrency {settings['concurrency']}, "
        f"{settings['cold_stats'] * 100:g}% of statistics cold ({cold}), "
        f"{settings['pushed'] * 100:g}% pushed, seed {settings['seed']}"
        + ("" if settings.get("vary") is None else f"; the stand-in varied from seed {settings['vary']}"),
    ]
    if settings["baseline"] != "none":
        parts.append(
            f"fetcher's stand-in: {settings['rate_limit']:,} points an hour (REST and GraphQL each), refilled before"
            " each phase; the baseline's: no limit"
        )
    if world:
        parts.append(
            f"World: {world['repositories']} repositories ({world['renamed']} renamed, {world['empty']} empty, "
            f"{world['cold_stats']} with cold statistics), {world['missing']} missing"
            + (" (so exit 1 is expected)" if world["missing"] else "")
            + (f"; pushed to {world['pushed']} before the last phase" if "pushed" in world else "")
        )
    parts += [
        "",
        markdown([name for name, _ in COLUMNS], [[cell(run) for _, cell in COLUMNS] for run in runs]),
    ]
    if result["ratios"]:
        rows = [
            [
                entry["label"],
                "-" if entry["speedup"] is None else f"{entry['speedup']:g}x",
                f"{entry['fetcher_points_per_package']:.3f}",
                f"{entry['baseline_points_per_package']:.3f}",
                "-" if entry["points_ratio"] is None else f"{entry['points_ratio']:.3f}",
                f"{entry['fetcher_budget_hours']:g} / {entry['baseline_budget_hours']:g}",
            ]
            for entry in result["ratios"]
        ]
        headers = [
            "phase", "speed-up", "fetcher pts/pkg", "baseline pts/pkg", "points, fetcher/baseline",
            f"hours of a {settings['rate_limit']:,}/h budget, fetcher / baseline",
        ]  # fmt: skip
        parts += ["", markdown(headers, rows)]
    if scale:
        parts += [
            "",
            f"Scale: {scale[0].packages} packages, fetcher only",
            "",
            markdown([name for name, _ in COLUMNS], [[cell(run) for _, cell in COLUMNS] for run in scale]),
        ]
    if result["targets"]:
        rows = [
            [
                entry["target"],
                "-" if entry["measured"] is None else f"{entry['measured']:g}",
                {True: "met", False: "MISSED", None: "-"}[entry["met"]],
            ]
            for entry in result["targets"]
        ]
        parts += ["", markdown(["target", "measured", ""], rows)]
    for run in [*runs, *scale]:
        if run.client == "fetcher" and run.in_flight:
            parts += ["", f"Requests in flight, {run.label} ({run.packages} packages; each # is one of "
                          f"{run.concurrency} slots):", "", "```", *in_flight_chart(run.in_flight, run.concurrency), "```"]
    parts += ["", *(f"{run.client}, {run.label}: {run.summary}" for run in runs)]
    parts += [f"scale {run.packages}, {run.label}: {run.summary}" for run in scale]
    if result.get("error"):
        parts += ["", f"stopped: {result['error']}"]
    return "\n".join(parts)


IN_FLIGHT_BUCKET_S = 0.5  # the stand-in's InFlight default
CHART_ROWS = 24


def in_flight_chart(in_flight: list[float], concurrency: int) -> list[str]:
    """The requests in flight over a run as a text histogram: a row per stretch of time, at most CHART_ROWS."""
    per_row = -(-len(in_flight) // CHART_ROWS)  # buckets a row, rounded up
    rows = []
    for start in range(0, len(in_flight), per_row):
        stretch = in_flight[start : start + per_row]
        mean = sum(stretch) / len(stretch)
        at = start * IN_FLIGHT_BUCKET_S
        rows.append(f"{at:7.1f}s {'#' * round(mean):<{concurrency}} {mean:5.1f}")
    return rows


@dataclass
class Results:
    """Everything measured so far; written to the JSON file after every run, so a stopped benchmark keeps it."""

    settings: Settings
    path: Path | None  # None: nothing written
    runs: list[Run] = field(default_factory=list)
    scale: list[Run] = field(default_factory=list)
    worlds: list[dict[str, int]] = field(default_factory=list)

    def add(self, run: Run, scale: bool = False) -> None:
        (self.scale if scale else self.runs).append(run)
        self.write(complete=False)

    def write(self, complete: bool, error: str | None = None) -> str:
        """Write the JSON file; return the tables."""
        result: dict[str, Any] = {
            "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "complete": complete,
            "settings": {**asdict(self.settings), "python": sys.version.split()[0], "cpus": os.cpu_count()},
            "worlds": self.worlds,
            "runs": [asdict(run) for run in self.runs],
            "ratios": ratios(self.runs, self.settings.rate_limit),
            "scale": [asdict(run) for run in self.scale],
            "targets": targets(self.runs, self.scale),
            "error": error,
        }
        table = render(result, self.runs, self.scale)
        result["table"] = table
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        return table


def bench(settings: Settings, json_path: Path | None = None) -> int:
    """Run everything, print the tables, write the JSON.

    Exit 0 when every run finished (fetcher exits 0, 1 or 75), 1 when one could not, 143 on SIGTERM and
    130 on Ctrl-C; the JSON file holds whatever was measured in every case.
    """
    phases = (COLD, WARM, PUSHED)
    results = Results(settings, json_path)
    error, code = None, 0
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as temp:
            workdir = Path(temp)
            (workdir / "fetcher").mkdir()
            run_fetcher(settings, settings.packages, phases, workdir / "fetcher", results, settings.rate_limit)
            if settings.baseline != "none":
                (workdir / "baseline").mkdir()
                chosen = phases if settings.baseline == "all" else (COLD,)
                run_baseline(settings, chosen, workdir / "baseline", results)
            if settings.scale:
                (workdir / "scale").mkdir()
                run_fetcher(settings, settings.scale, phases, workdir / "scale", results, UNLIMITED, True)
    except BenchError as failure:
        error, code = str(failure), 1
    except Interrupted as stop:
        error, code = str(stop), 128 + signal.SIGTERM
    except KeyboardInterrupt:
        error, code = "stopped by SIGINT", 128 + signal.SIGINT
    finally:
        signal.signal(signal.SIGTERM, previous)
    table = results.write(complete=error is None, error=error)
    print(table, flush=True)
    if error:
        print(f"\nbench: {error}", file=sys.stderr)
    return code
