"""Seeded fault injection for the stand-in: what a cron worker meets over the years, on demand.

Each request draws once from a seeded generator; with the probability given
for a kind, it gets that fault instead of its answer. A failing run can be
replayed with the same seed (and the same order of requests).

Kinds:
- 500, 502, 503: a server error with GitHub's body.
- reset: the connection is closed without an answer.
- truncated: the headers promise a body that stops halfway, then the connection closes.
- invalid_json: a 200 whose body is not JSON.
- stall: the answer comes only after `stall_seconds`, past the client's timeout.
- stuck_202: the repository's weekly statistics answer 202 from now on (participation requests only).
- secondary_403: 403 "secondary rate limit" with Retry-After (GitHub only).
- 429: 429 with Retry-After (GitHub only).
- exhausted: 403 with X-RateLimit-Remaining 0 and a reset a moment away (GitHub only).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

KINDS = ("500", "502", "503", "reset", "truncated", "invalid_json", "stall", "stuck_202",
         "secondary_403", "429", "exhausted")
GITHUB_ONLY = frozenset({"secondary_403", "429", "exhausted", "stuck_202"})
TRANSPORT = frozenset({"reset", "truncated", "stall"})


@dataclass
class Fault:
    kind: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class FaultPlan:
    rates: dict[str, float]
    seed: int = 0
    stall_seconds: float = 2.0
    retry_after: int = 1
    reset_in: int = 2
    injected: Counter = field(default_factory=Counter)
    stuck: set[str] = field(default_factory=set)  # repository paths whose statistics never settle

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    @classmethod
    def uniform(cls, rate: float, seed: int = 0, **options) -> FaultPlan:
        """Every kind at the same rate."""
        return cls({kind: rate for kind in KINDS}, seed, **options)

    def draw(self, method: str, path: str) -> Fault | None:
        """The fault this request gets, if any; counted in `injected`."""
        github = not path.startswith("/pypi/")
        participation = path.split("?")[0].endswith("/stats/participation")
        repo = path.split("/stats/")[0]
        with self._lock:
            if participation and repo in self.stuck:
                return Fault("stuck_202", 202, {"Content-Type": "application/json"}, b"{}")
            roll = self._rng.random()
            for kind in KINDS:
                rate = self.rates.get(kind, 0.0)
                if roll < rate:
                    if (kind in GITHUB_ONLY and not github) or (kind == "stuck_202" and not participation):
                        return None
                    self.injected[kind] += 1
                    if kind == "stuck_202":
                        self.stuck.add(repo)
                    return self._fault(kind)
                roll -= rate
        return None

    def _fault(self, kind: str) -> Fault:
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        if kind in ("500", "502", "503"):
            return Fault(kind, int(kind), json_type, _body({"message": "Server Error"}))
        if kind == "invalid_json":
            return Fault(kind, 200, json_type, b'{"id": 1, "full_name": "cut/sh')
        if kind == "stuck_202":
            return Fault(kind, 202, json_type, b"{}")
        if kind in ("secondary_403", "429"):
            message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            return Fault(kind, 403 if kind == "secondary_403" else 429,
                         {**json_type, "Retry-After": str(self.retry_after)}, _body({"message": message}))
        if kind == "exhausted":
            reset = int(time.time()) + self.reset_in
            headers = {**json_type, "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Used": "5000", "X-RateLimit-Reset": str(reset), "X-RateLimit-Resource": "core"}
            return Fault(kind, 403, headers, _body({"message": "API rate limit exceeded for user ID 1."}))
        return Fault(kind)  # reset, truncated, stall: the handler acts them out on the connection

    def clear(self) -> None:
        """Faults off: statistics settle again."""
        with self._lock:
            self.rates = {}
            self.stuck.clear()


def _body(payload: dict) -> bytes:
    return json.dumps(payload).encode()
