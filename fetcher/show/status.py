"""`fetcher status`: the store at a glance, from the store alone (no request is sent)."""

from collections import Counter
from datetime import datetime

from fetcher.config import Config
from fetcher.errors import InputError
from fetcher.links import repo_host
from fetcher.record import parse_datetime
from fetcher.show.text import ago, size, utc
from fetcher.store import Store

# A package failing this many times in a row makes `status` exit 1, for a monitoring check.
ALARM_FAILURES = 3
TOP_FAILURES = 10
LAST_RUNS = 10
NO_TOKEN = "anonymous"  # the key of the budgets seen without a token
RUN_FIELDS = ("command", "started", "finished", "seconds", "packages", "synced", "unchanged", "failed", "skipped",
              "points", "rate_limit_wait", "stopped", "deferred")  # fmt: skip


def gather(store: Store, config: Config, now: datetime) -> dict:
    """Everything `status` shows, as the JSON object `status --json` prints."""
    overview = store.reads.overview(config.stale_after, now, TOP_FAILURES, LAST_RUNS)
    hosts = Counter(_host(url) for url in overview["repo_urls"])
    limits: dict[str, dict] = {}
    for row in overview["rate_limits"]:
        limits.setdefault(row["token_env"] or NO_TOKEN, {})[row["resource"]] = {
            "remaining": row["remaining"], "limit": row["budget"], "reset": row["reset"], "seen_at": row["seen_at"],
        }  # fmt: skip
    return {
        "packages": sum(hosts.values()),
        "by_host": dict(sorted(hosts.items(), key=lambda item: (-item[1], item[0]))),
        "due": overview["due"],
        "never_fetched": overview["never_fetched"],
        "oldest_fetch": overview["oldest_fetch"],
        "stale_after_seconds": int(config.stale_after.total_seconds()),
        "failing": overview["failing"],
        "resting": overview["resting"],
        "failures": overview["failures"],
        "sparklines_kept": overview["sparklines_kept"],
        "runs": [{name: run[name] for name in RUN_FIELDS} for run in overview["runs"]],
        "rate_limits": limits,
        "store": {"path": store.db.where(), "bytes": store.db.size()},
        "worst_failures": overview["worst_failures"],
    }


def exit_code(status: dict) -> int:
    return 1 if status["worst_failures"] >= ALARM_FAILURES else 0


def render(status: dict, now: datetime) -> str:
    """One screen for a person."""
    hosts = ", ".join(f"{host} {count}" for host, count in status["by_host"].items())
    oldest = _time(status["oldest_fetch"])
    lines = [
        f"store       {status['store']['path']} ({size(status['store']['bytes'])})",
        f"packages    {status['packages']}" + (f" ({hosts})" if hosts else ""),
        f"due         {status['due']} now, {status['never_fetched']} never fetched; "
        f"oldest fetch {utc(oldest)}" + (f" ({ago(oldest, now)})" if oldest else ""),
        f"sparklines  {status['sparklines_kept']} kept while GitHub was still computing them",
        f"failing     {status['failing']} package{'' if status['failing'] == 1 else 's'}"
        + (f" ({status['resting']} resting until their next try)" if status["resting"] else ""),
    ]
    for failure in status["failures"]:
        since = _time(failure["since"])
        lines.append(
            f"  {failure['slug']}: {failure['consecutive_failures']} in a row since {utc(since)} "
            f"({ago(since, now)}): {_one_line(failure['last_error'])}"
        )
    lines.append("rate limits" + ("" if status["rate_limits"] else "  none seen yet"))
    for token, budgets in status["rate_limits"].items():
        for resource, budget in budgets.items():
            reset = _time(budget["reset"])
            lines.append(
                f"  {token} {resource}: {budget['remaining']} of {budget['limit']} left, resets {utc(reset)} "
                f"({ago(reset, now)}); seen {ago(_time(budget['seen_at']), now)}"
            )
    lines.append("last runs" + ("" if status["runs"] else "   none yet"))
    for run in status["runs"]:
        line = (
            f"  {utc(_time(run['started']))} {run['command']} {run['seconds']:.1f}s: {run['synced']} synced, "
            f"{run['unchanged']} unchanged, {run['failed']} failed, {run['skipped']} skipped; {run['points']} points"
        )
        if run.get("deferred"):
            line += f"; {run['deferred']} deferred (the tokens' budget)"
        if run["rate_limit_wait"]:
            line += f"; waited {run['rate_limit_wait']:.0f}s for rate limits"
        if run["stopped"]:
            line += f"; stopped early: {_one_line(run['stopped'])}"
        lines.append(line)
    return "\n".join(lines)


def _host(repo_url: str) -> str:
    """The host a package's repository is on, read as a sync reads it; "none" for no repo_url or an unreadable one."""
    try:
        return repo_host(repo_url).removeprefix("www.") if repo_url else "none"
    except InputError:
        return "none"


def _time(stamp: str | None) -> datetime | None:
    return parse_datetime(stamp) if stamp else None


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())
