"""`fetcher status`: the store at a glance, from the store alone (no request is sent)."""

import heapq
import json
from collections import Counter
from datetime import datetime, timedelta

from fetcher.config import Config, Thresholds
from fetcher.durations import format_duration
from fetcher.errors import InputError
from fetcher.links import repo_host
from fetcher.record import parse_datetime, to_stored_datetime
from fetcher.show.text import ago, size, utc
from fetcher.store import Store
from fetcher.store.schedule import is_due
from fetcher.store.sql import STORE_ERRORS

TOP_FAILURES = 10
LAST_RUNS = 10
NO_TOKEN = "anonymous"  # the key of the budgets seen without a token
RUN_FIELDS = ("command", "started", "finished", "seconds", "packages", "synced", "unchanged", "failed", "skipped",
              "points", "rate_limit_wait", "stopped", "deferred", "host", "pid", "worker_id")  # fmt: skip
WORKER_FIELDS = ("host", "pid", "command", "started", "alive_until", "claims", "claimed", "gone")


def gather(store: Store, config: Config, now: datetime, running: dict | None = None) -> dict:
    """Everything `status` shows (date-times as date-times; `as_json` prints it as `status --json` does);
    `running`: the run holding the store's lock ({command, pid, since}), if one does; `workers`: the syncs and
    refreshes working on the store (table worker, on either backend), a worker whose lease passed shown as gone.

    Every value is read through store/stored.py. One another program stored that cannot be read is
    counted as a sync would take it (store/schedule.py: unknown, and never holding a package back), a
    run or a budget that holds one is left out, and each is named under "unreadable"."""
    hosts: Counter = Counter()
    due = resting = never = failing = worst = kept = 0
    oldest: datetime | None = None
    stalest: dict | None = None  # the package not failing with the oldest last fetch
    failures, unreadable = [], []
    for row in store.schedule.walk():
        hosts[_host(row["repo_url"])] += 1
        unreadable += row["unreadable"]
        if is_due(row, config.stale_after, now):
            due += 1
        elif row["failures"]:
            resting += 1
        if row["last_fetched"] is None:
            never += 1
        elif oldest is None or row["last_fetched"] < oldest:
            oldest = row["last_fetched"]
        if row["failures"] == 0 and row["last_fetched"] is not None and (
                stalest is None or (row["last_fetched"], row["id"]) < (stalest["last_fetched"], stalest["id"])):
            stalest = row
        if row["failures"] > 0:
            failing += 1
            worst = max(worst, row["failures"])
            failures.append(row)
        kept += row["pending"]
    # As the view `failing` orders them: the most failures in a row, then the longest failing, then by slug.
    failures = heapq.nsmallest(TOP_FAILURES, failures, key=lambda row: (
        -row["failures"], row["failing_since"] is not None, row["failing_since"] or now, row["slug"] or ""))
    errors, unread = store.reads.last_errors([row["id"] for row in failures])
    runs, unread_runs = store.runs.last(LAST_RUNS)
    budgets, unread_budgets = store.runs.read_budgets()
    limits: dict[str, dict] = {}
    for row in budgets:
        limits.setdefault(row["token_env"] or NO_TOKEN, {})[row["resource"]] = {
            "remaining": row["remaining"], "limit": row["budget"], "reset": row["reset"], "seen_at": row["seen_at"],
        }  # fmt: skip
    status = {
        "packages": sum(hosts.values()),
        "by_host": dict(sorted(hosts.items(), key=lambda item: (-item[1], item[0]))),
        "due": due,
        "never_fetched": never,
        "oldest_fetch": oldest,
        "stale_after_seconds": int(config.stale_after.total_seconds()),
        "failing": failing,
        "resting": resting,
        "failures": [{"slug": row["slug"], "consecutive_failures": row["failures"], "since": row["failing_since"],
                      "last_error": errors.get(row["id"])} for row in failures],
        "sparklines_kept": kept,
        "runs": [{**{name: run[name] for name in RUN_FIELDS}, "share": _share(run, runs)} for run in runs],
        "workers": _workers(store, now),
        "rate_limits": limits,
        # A SQLite store is a path, a PostgreSQL one a URL (with no password): named for what it is.
        "store": {"backend": store.db.dialect.name,
                  "path" if store.db.dialect.name == "sqlite" else "url": store.db.where(), "bytes": store.db.size()},
        "worst_failures": worst,
        "stalest": stalest and {"slug": stalest["slug"], "last_fetched": stalest["last_fetched"]},
        "thresholds": _thresholds(config.thresholds),
        "running": running,
        "unreadable": [problem.reason for problem in [*unreadable, *unread, *unread_runs, *unread_budgets]],
    }
    crossed = config.thresholds
    status["alarms"] = [{"threshold": name, "message": message} for name, message in (
        ("failures", _failing(status, crossed.failures)),
        ("stale_factor", _stale(status["stalest"], crossed.stale_factor, config.stale_after, now)),
        ("stopped_runs", _stopped(store.reads.last_syncs(crossed.stopped_runs) if crossed.stopped_runs else [],
                                  crossed.stopped_runs)),
        ("backlog_for", _backlog(store.reads.finished_syncs_since(now - crossed.backlog_for)
                                 if crossed.backlog_for else [], crossed.backlog_for, now)),
    ) if message]  # fmt: skip
    return status


def _workers(store: Store, now: datetime) -> list[dict]:
    """The workers' rows: none where the store has no table of them to read (an older one, opened read-only)."""
    try:
        return [{name: worker[name] for name in WORKER_FIELDS} for worker in store.workers.listed(now)]
    except STORE_ERRORS:
        return []


def _share(run: dict, runs: list[dict]) -> float | None:
    """The run's share of its pass: its packages of those of the runs of its kind that overlapped it in time (the
    workers of one pass run side by side); None when none had any."""
    together = [other for other in runs if other["command"] == run["command"] and other["started"] <= run["finished"]
                and other["finished"] >= run["started"]]
    total = sum(other["packages"] or 0 for other in together)
    return round((run["packages"] or 0) / total, 3) if total else None


def as_json(status: dict) -> str:
    """`status --json`: date-times as UTC ISO 8601, as the store keeps them."""
    return json.dumps(status, indent=2, ensure_ascii=False, default=_stamp)


def _stamp(value: datetime) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} is not JSON")
    return to_stored_datetime(value)


def exit_code(status: dict) -> int:
    """1 once a threshold of [status] is crossed (each crossed one is a line of `alarms`), or the store holds a
    value fetcher cannot read: either needs a person."""
    return 1 if status["alarms"] or status["unreadable"] else 0


def _thresholds(limits: Thresholds) -> dict:
    return {"failures": limits.failures, "stale_factor": limits.stale_factor, "stopped_runs": limits.stopped_runs,
            "backlog_for_seconds": int(limits.backlog_for.total_seconds())}  # fmt: skip


def _failing(status: dict, limit: int) -> str | None:
    """A package has failed `limit` times in a row or more (0: never an alarm)."""
    if not limit or status["worst_failures"] < limit:
        return None
    worst = status["failures"][0]  # the most failures in a row come first
    return f"{worst['slug']} has failed {worst['consecutive_failures']} times in a row ({limit} or more)"


def _stale(stalest: dict | None, factor: float, stale_after: timedelta, now: datetime) -> str | None:
    """The oldest fetch of a package not failing is older than factor × stale_after: the syncs do not keep up.

    A failing package is the failures alarm's; one never fetched has no fetch to be old (a backlog of them is the
    backlog alarm's)."""
    if not factor or stalest is None:
        return None
    fetched = _time(stalest["last_fetched"])
    if fetched >= now - stale_after * factor:
        return None
    return (f"{stalest['slug']} was last fetched {ago(fetched, now)} ({utc(fetched)}), more than "
            f"{factor:g} × sync.stale_after ({format_duration(stale_after)}) ago")  # fmt: skip


def _stopped(syncs: list[dict], count: int) -> str | None:
    """The last `count` syncs all stopped early (`syncs`: the last ones, newest first); a refresh counts for none."""
    if not count or len(syncs) < count or not all(run["stopped"] for run in syncs):
        return None
    return (f"the last {count} syncs all stopped early, the last at {utc(_time(syncs[0]['started']))}: "
            f"{_one_line(syncs[0]['stopped'])}")  # fmt: skip


def _backlog(syncs: list[dict], window: timedelta, now: datetime) -> str | None:
    """The deferred packages have been no fewer for `window`: the newest sync that ran to its end at or before
    now - window deferred some, and each one that ran to its end since deferred as many or more (at least one did).

    `syncs`: those since now - window, then that newest one before, newest first. A sync that stopped early is
    left out: it may have stopped before counting what it deferred (the stopped alarm is its)."""
    if not window or len(syncs) < 2:
        return None
    *since, before = syncs
    if _time(before["started"]) > now - window or not before["deferred"]:
        return None  # no sync that old to compare with, or nothing was deferred then
    if any(run["deferred"] < before["deferred"] for run in since):
        return None
    last = since[0]
    return (f"no fewer packages deferred for {format_duration(window)}: {before['deferred']} by the sync of "
            f"{utc(_time(before['started']))}, {last['deferred']} by the last ({utc(_time(last['started']))}), "
            "never fewer between")  # fmt: skip


def render(status: dict, now: datetime) -> str:
    """One screen for a person."""
    hosts = ", ".join(f"{host} {count}" for host, count in status["by_host"].items())
    oldest = status["oldest_fetch"]
    lines = [f"alarm       status.{alarm['threshold']}: {alarm['message']}" for alarm in status["alarms"]]
    lines += [
        f"store       {status['store'].get('path') or status['store']['url']} ({size(status['store']['bytes'])})",
        f"packages    {status['packages']}" + (f" ({hosts})" if hosts else ""),
        f"due         {status['due']} now, {status['never_fetched']} never fetched; "
        f"oldest fetch {utc(oldest)}" + (f" ({ago(oldest, now)})" if oldest else ""),
        f"sparklines  {status['sparklines_kept']} kept while GitHub was still computing them",
        f"failing     {status['failing']} package{'' if status['failing'] == 1 else 's'}"
        + (f" ({status['resting']} resting until their next try)" if status["resting"] else ""),
    ]
    for failure in status["failures"]:
        since = failure["since"]
        lines.append(
            f"  {failure['slug']}: {failure['consecutive_failures']} in a row"
            + (f" since {utc(since)} ({ago(since, now)})" if since else "") + f": {_one_line(failure['last_error'])}"
        )
    lines.append("rate limits" + ("" if status["rate_limits"] else "  none seen yet"))
    for token, budgets in status["rate_limits"].items():
        for resource, budget in budgets.items():
            reset = budget["reset"]
            lines.append(
                f"  {token} {resource}: {budget['remaining']} of {budget['limit']} left, resets {utc(reset)} "
                f"({ago(reset, now)}); seen {ago(budget['seen_at'], now)}"
            )
    if status["workers"]:
        live = sum(not worker["gone"] for worker in status["workers"])
        lines.append(f"workers     {live} running" + (f", {len(status['workers']) - live} gone" if live <
                                                       len(status["workers"]) else ""))
    for worker in status["workers"]:
        started = worker["started"]
        line = (f"  {worker['command']} pid {worker['pid']} on {worker['host']} since {utc(started)} "
                f"({ago(started, now)}): {worker['claims']} claimed now, {worker['claimed']} in the run")
        if worker["gone"]:
            line += (f"; gone: its lease passed {ago(worker['alive_until'], now)} (it died); its claims are taken "
                     "by the others")
        lines.append(line)
    lines.append("last runs" + ("" if status["runs"] or status["running"] else "   none yet"))
    if status["running"]:
        since = _time(status["running"]["since"])
        lines.append(f"  a {status['running']['command']} is running (pid {status['running']['pid']}, "
                     f"since {utc(since)}, {ago(since, now)})")  # fmt: skip
    for run in status["runs"]:
        line = (
            f"  {utc(run['started'])} {run['command']} {run['seconds']:.1f}s: {run['synced']} synced, "
            f"{run['unchanged']} unchanged, {run['failed']} failed, {run['skipped']} skipped; {run['points']} points"
        )
        if run.get("deferred"):
            line += f"; {run['deferred']} deferred (the tokens' budget)"
        if run["rate_limit_wait"]:
            line += f"; waited {run['rate_limit_wait']:.0f}s for rate limits"
        if run["share"] is not None and run["share"] < 1:  # one of several workers of a pass
            line += f"; {run['share']:.0%} of its pass, pid {run['pid']} on {run['host']}"
        if run["stopped"]:
            line += f"; stopped early: {_one_line(run['stopped'])}"
        lines.append(line)
    if status["unreadable"]:
        count = len(status["unreadable"])
        lines.append(f"unreadable  {count} value{'' if count == 1 else 's'} another program stored that fetcher "
                     "cannot read (counted as unknown): mend or remove them")
        lines += [f"  {reason}" for reason in status["unreadable"][:TOP_FAILURES]]
        if count > TOP_FAILURES:
            lines.append(f"  and {count - TOP_FAILURES} more")
    return "\n".join(lines)


def _host(repo_url: str) -> str:
    """The host a package's repository is on, read as a sync reads it; "none" for no repo_url or an unreadable one."""
    try:
        return repo_host(repo_url).removeprefix("www.") if repo_url else "none"
    except InputError:
        return "none"


def _time(stamp: datetime | str | None) -> datetime | None:
    """A date-time as gather reads it, or a run lock's `since` as stored text."""
    return parse_datetime(stamp) if isinstance(stamp, str) else stamp


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())
