"""What a run did: its counts, what it spent, why it stopped; the summary line and the run's row."""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from fetcher.config import Config
from fetcher.errors import StoreUnavailable
from fetcher.hosts.registry import Hosts
from fetcher.net.client import Client
from fetcher.record import to_stored_datetime
from fetcher.run import signals
from fetcher.store import Store

SYNCED, UNCHANGED, FAILED, SKIPPED = "synced", "unchanged", "failed", "skipped"
LEFT_DUE = "left due"  # skipped: its host could not be asked in this run
EDITED_MEANWHILE = "links edited during the run"
CLAIMED = "fetched by another worker"  # skipped: a package named for the run another worker holds (run/claiming.py)


@dataclass
class RunReport:
    command: str
    started: datetime
    packages: int
    outcomes: Counter = field(default_factory=Counter)
    pending: int = 0  # written without a part the host was still computing (GitHub's sparkline), still pending
    written_later: int = 0  # written first without that part, the part itself later in the run
    failures: list[tuple[str, str]] = field(default_factory=list)  # (slug, reason)
    skips: Counter = field(default_factory=Counter)  # reason -> packages
    requests: int = 0
    by_service: Counter = field(default_factory=Counter)  # "github", "pypi", or a forge's host name -> requests
    not_modified: int = 0
    retries: int = 0
    points: int = 0  # every point spent: per answer, and what queries said they cost
    graphql_points: int = 0  # of those, what queries said they cost (GitHub's GraphQL)
    points_left: int | None = None
    seconds: float = 0.0
    rate_limit_wait: float = 0.0  # seconds spent waiting for rate limits to reset
    budgets: list[dict] = field(default_factory=list)  # each window last seen: token_env, resource, budget, …
    stopped: str | None = None  # why the run ended early
    signal: int | None = None  # the signal that stopped it, if one did
    resting: int = 0  # failing packages not due yet (fetcher.due)
    tokens: list[dict] = field(default_factory=list)  # per pool token and resource: spent, remaining (TokenPool)
    deferred: int = 0  # due packages left for the next run: the budgets could not pay for them (run/plan.py)
    deferred_why: str = ""
    left_due: Counter = field(default_factory=Counter)  # why a host could not be asked -> its packages left due
    worker: dict | None = None  # the run's row of table worker (store/workers.py): id, host, pid, pass_started

    @property
    def exit_code(self) -> int:
        if self.signal is not None:
            return signals.exit_code(self.signal)
        if self.stopped or self.left_due:  # a re-run later does what this one could not
            return 75
        return 1 if self.outcomes[FAILED] else 0

    def summary(self) -> str:
        """One line a person can take in at a glance."""
        done = sum(self.outcomes.values())
        counts = ", ".join(f"{self.outcomes[k]} {k}" for k in (SYNCED, UNCHANGED, FAILED, SKIPPED))
        line = (
            f"{self.command}: {done} of {self.packages} packages in {self.seconds:.1f}s, "
            f"started {self.started.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC: {counts}"
        )
        if self.skips:
            line += " (" + ", ".join(f"{n} {reason}" for reason, n in sorted(self.skips.items())) + ")"
        if self.resting:
            line += f"; {self.resting} resting after failing (due later)"
        if self.deferred:
            line += f"; {self.deferred} deferred to the next run: {self.deferred_why}"
        for reason, n in sorted(self.left_due.items()):
            line += f"; {n} left due for the next run: {reason}"
        if self.pending:
            line += f"; {self.pending} sparkline{'s' if self.pending != 1 else ''} still computing on GitHub, kept"
        if self.written_later:
            line += f"; {self.written_later} sparkline{'s' if self.written_later != 1 else ''} written later"
        line += f"; {self.requests} requests ({self.not_modified} not modified"
        line += f", {self.retries} retries)" if self.retries else ")"
        if set(self.by_service) - {"github", "pypi"}:  # forges asked: say which host had how many
            line += " (" + ", ".join(f"{host} {n}" for host, n in sorted(self.by_service.items())) + ")"
        line += f"; {self.points} GitHub points ({self.graphql_points} GraphQL)"
        if self.points_left is not None:
            line += f", {self.points_left} REST points left"
        if len({row["token_env"] for row in self.tokens}) > 1:
            line += "; " + ", ".join(_token_summary(row) for row in self.tokens if row["resource"] == "core")
        if self.rate_limit_wait:
            line += f"; waited {self.rate_limit_wait:.0f}s for rate limits"
        if self.stopped:
            line += f"; stopped early: {self.stopped}"
        return line

    def as_row(self, finished: datetime) -> dict:
        return {
            "command": self.command,
            "started": to_stored_datetime(self.started),
            "finished": to_stored_datetime(finished),
            "packages": self.packages,
            "synced": self.outcomes[SYNCED],
            "unchanged": self.outcomes[UNCHANGED],
            "failed": self.outcomes[FAILED],
            "skipped": self.outcomes[SKIPPED],
            "pending": self.pending,
            "requests": self.requests,
            "not_modified": self.not_modified,
            "retries": self.retries,
            "graphql_points": self.graphql_points,
            "points": self.points,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "rate_limit_wait": round(self.rate_limit_wait, 3),
            "deferred": self.deferred,
            "tokens": json.dumps(self.by_token()) if self.tokens else None,
            "worker_id": self.worker["id"] if self.worker else None,
            "host": self.worker["host"] if self.worker else None,
            "pid": self.worker["pid"] if self.worker else None,
        }

    def by_token(self) -> dict[str, dict]:
        """Per token variable: each budget's points spent and left, and whether GitHub rejected the token."""
        tokens: dict[str, dict] = {}
        for row in self.tokens:
            token = tokens.setdefault(row["token_env"], {"rejected": bool(row["rejected"])})
            token[row["resource"]] = {"spent": row["spent"], "left": row["remaining"]}
        return tokens

    def took(self, client: Client, hosts: Hosts) -> None:
        """What the run's requests came to, from the client and the hosts, as the run ends however it ends."""
        counts = client.counts
        self.requests, self.not_modified, self.retries = counts.sent, counts.not_modified, counts.retries
        self.by_service = counts.by_service
        self.points, self.graphql_points = counts.all_points, counts.query_points
        self.rate_limit_wait = counts.rate_limit_wait
        self.budgets = [
            {"token_env": token_env, "resource": name, "budget": budget.limit, "remaining": budget.remaining,
             "reset": budget.reset_at}
            for (token_env, name), budget in sorted(client.budgets.items())
        ]
        self.tokens = [row for host in hosts.all for row in host.token_report()]
        self.points_left = next((left for host in hosts.all if (left := host.points_left()) is not None), None)

    def record(self, store: Store, config: Config, finished: datetime) -> None:
        """The run's row, the budgets it last saw and the settings the views need."""
        try:
            store.runs.record(self.as_row(finished), self.tokens)
            for token_env in dict.fromkeys(row["token_env"] for row in self.budgets):
                store.runs.save_budgets(token_env, [row for row in self.budgets if row["token_env"] == token_env],
                                        finished)
            store.runs.save_setting("stale_after_seconds", str(int(config.stale_after.total_seconds())))
        except StoreUnavailable as exc:
            self.stopped = self.stopped or str(exc)  # the run's own row is what could not be written


def _token_summary(row: dict) -> str:
    """One pool token's REST budget in the summary: its variable, never its value."""
    if row["rejected"]:
        return f"${row['token_env']} rejected"
    left = "?" if row["remaining"] is None else row["remaining"]
    return f"${row['token_env']} {row['spent']} spent, {left} left"
