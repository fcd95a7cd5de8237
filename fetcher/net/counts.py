"""What a run's requests came to: how many, answered how, and the points they cost.

The points are also counted against the package being fetched (`package_cost`), so the
next run can expect each package to cost what it cost this time.
"""

from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class RequestCounts:
    sent: int = 0  # every request on the wire, redirect hops and retries included
    answered: int = 0  # requests that got any HTTP answer back
    not_modified: int = 0
    retries: int = 0  # further tries after a transient failure or a rate-limit wait
    by_resource: Counter = field(default_factory=Counter)  # repo, contributors, …, graphql, pypi
    by_service: Counter = field(default_factory=Counter)  # "github", "pypi", or a forge's host name
    points: int = 0  # charged per answer by its service's cost rule (GitHub REST: a point, 304s free)
    query_points: int = 0  # what query answers say they cost (GitHub GraphQL)
    rate_limit_wait: float = 0.0  # seconds of the run spent waiting for a rate limit to reset

    @property
    def all_points(self) -> int:
        return self.points + self.query_points


_package_points: ContextVar[list[int] | None] = ContextVar("package_points", default=None)


@contextmanager
def package_cost(box: list[int] | None = None) -> Iterator[list[int]]:
    """Count the points the requests made inside (and in the tasks they start) are charged: [points], added to
    `box` when one is given (a package's points counted in more than one place)."""
    box = [0] if box is None else box
    reset = _package_points.set(box)
    try:
        yield box
    finally:
        _package_points.reset(reset)


def charge(points: int) -> None:
    """Count `points` against the package being fetched, if any."""
    box = _package_points.get()
    if box is not None:
        box[0] += points
