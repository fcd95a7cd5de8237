"""A run that fits its budget: what the due packages will cost, and how many of them the pool can pay for.

The estimate is each package's REST points of its last fetch (`fetch_state.last_points`, counted per package as
the run goes), or COLD_POINTS for a package never fetched with the count kept. Over a catalogue, what packages
cost last time is what they cost this time give or take the packages pushed since, so the sum is a fair forecast.
GraphQL is left out: a point per hundred packages, from a budget of its own.

What the pool can pay is read from the budgets the last run saw (table `rate_limit`; a token no run has seen is
asked first, see sync.fit_budget): each token's points left, or its whole budget once its reset has passed, less
`[sync] reserve`; plus one more window when its reset comes within `max_rate_limit_wait`. A token whose budget is
still not known is not counted on: with any such token nothing is planned and the run takes every due package,
as without a pool.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Iterator

# A first fetch with GraphQL metadata: the weekly counts (plus a retry or two of a 202) and a page of
# contributors. The bench's cold phase measures 2.3 REST points a package; 3 errs on the side of deferring.
COLD_POINTS = 3

_points: ContextVar[list[int] | None] = ContextVar("package_points", default=None)


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count the REST points the requests made inside (and in the tasks they start) cost: [points]."""
    box = [0]
    reset = _points.set(box)
    try:
        yield box
    finally:
        _points.reset(reset)


def charge(points: int) -> None:
    """Http counts each answer's REST points here, against the package being fetched, if any."""
    box = _points.get()
    if box is not None:
        box[0] += points


def estimate(last_points: int | None) -> int:
    return COLD_POINTS if last_points is None else last_points


@dataclass(frozen=True)
class Capacity:
    points: int  # what the pool can spend before max_rate_limit_wait runs out, reserve kept
    tokens: int  # tokens counted


def capacity(
    budgets: list[dict], token_envs: Iterable[str], reserve: int, max_wait: timedelta, now: datetime
) -> Capacity | None:
    """What the pool can pay for: None when a token's budget has never been seen (nothing to plan with).

    `budgets`: rows of rate_limit (token_env, resource, budget, remaining, reset as datetime).
    """
    core = {row["token_env"]: row for row in budgets if row["resource"] == "core"}
    points = 0
    envs = list(token_envs)
    for env in envs:
        row = core.get(env)
        if row is None:
            return None
        fresh = row["reset"] <= now
        points += max(0, (row["budget"] if fresh else row["remaining"]) - reserve)
        if not fresh and row["reset"] <= now + max_wait:
            points += max(0, row["budget"] - reserve)  # the next window opens within the allowed wait
    return Capacity(points, len(envs))


def affordable(costs: Iterable[int], points: int) -> tuple[int, int, int]:
    """How many of the packages, in due order, `points` pays for; what those cost; what all of them cost.

    The first that does not fit ends the taking: the most overdue go first, and a cheap one never
    jumps ahead of an older one.
    """
    taken = spent = total = 0
    fits = True
    for cost in costs:
        total += cost
        fits = fits and spent + cost <= points
        if fits:
            taken += 1
            spent += cost
    return taken, spent, total
