"""One GitHub repository as the stand-in serves it, and what a push does to it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

WEEKS = 52


@dataclass
class Repo:
    """One GitHub repository as the stand-in serves it.

    ``pushed_at`` left empty means ``newest_commit_date`` (or ``created_at``
    for an empty repository). ``commit_count`` is raised to at least the
    participation total. ``contributions`` are the contributors' commit
    counts, in the same order (left empty: a Zipf-like spread, 400, 200,
    133, ...); contributors are kept sorted by them, most first, as GitHub
    lists them.

    Weekly statistics are ready or not in one of two ways:

    - by time (the default): ``stats_cold`` statistics are not computed yet.
      The first ask starts the computation and answers 202, as do asks until
      the stand-in's ``stats_delay`` has passed; then they answer 200 and stay
      warm until the next push.
    - by count, when ``pending_asks`` is above 0: that many asks answer 202,
      then 200; ``World.push`` resets it to the value the repository was
      created with.
    """

    owner: str
    name: str
    id: int
    forks: int
    stars: int
    description: str | None
    default_branch: str = "main"
    contributors: list[str] = field(default_factory=list)
    participation: list[int] = field(default_factory=lambda: [0] * WEEKS)
    newest_commit_date: str | None = None
    pushed_at: str = ""
    archived: bool = False
    archived_at: str | None = None  # None for an archived repository: facts.archived_at says
    pending_asks: int = 0
    owner_type: str = "User"
    created_at: str = "2015-01-01T00:00:00Z"
    homepage: str | None = None
    open_issues: int = 0
    subscribers: int = 0
    commit_count: int = 0
    contributions: list[int] = field(default_factory=list)
    stats_cold: bool = False
    _asks_per_push: int = field(init=False, repr=False, compare=False)
    # time.monotonic() of the ask that started computing cold statistics
    _stats_since: float | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.participation) != WEEKS:
            raise ValueError(f"participation needs {WEEKS} weekly counts, got {len(self.participation)}")
        if not self.contributions:
            self.contributions = [max(1, 400 // (position + 1)) for position in range(len(self.contributors))]
        elif len(self.contributions) != len(self.contributors):
            raise ValueError(
                f"{len(self.contributors)} contributors but {len(self.contributions)} contribution counts"
            )
        self._sort_contributors()
        if not self.pushed_at:
            self.pushed_at = self.newest_commit_date or self.created_at
        if not self.empty:
            self.commit_count = max(self.commit_count, sum(self.participation), 1)
        self._asks_per_push = self.pending_asks

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def key(self) -> str:
        """Lowercase "owner/name": GitHub looks repositories up case-insensitively."""
        return self.full_name.lower()

    @property
    def empty(self) -> bool:
        return self.newest_commit_date is None

    def _sort_contributors(self, pairs: Iterable[tuple[str, int]] | None = None) -> None:
        """Most contributions first; a stable sort keeps the order of equals.

        Both lists are replaced, never changed in place, so a reader holding
        the old pair (under the world's lock) sees a consistent one.
        """
        ranked = sorted(pairs or zip(self.contributors, self.contributions), key=lambda pair: -pair[1])
        self.contributors = [login for login, _ in ranked]
        self.contributions = [count for _, count in ranked]

    def set_contributors(self, pairs: Iterable[tuple[str, int]]) -> None:
        """Replace the contributors and their commit counts (sorted as GitHub lists them); before serving only."""
        self._sort_contributors(list(pairs))

    def apply_push(self, commits: int, moment: str, author: str | None) -> None:
        """New commits this week by ``author`` (see ``World.push``); the caller holds the world's lock."""
        self.participation[-1] += commits
        self.commit_count += commits
        self.newest_commit_date = moment
        self.pushed_at = moment
        login = author or (self.contributors[0] if self.contributors else self.owner)
        counts = dict(zip(self.contributors, self.contributions))
        counts[login] = counts.get(login, 0) + commits
        self._sort_contributors(counts.items())
        if self._asks_per_push > 0:
            self.pending_asks = self._asks_per_push
        else:
            self.stats_cold = True
            self._stats_since = None

    def count_stats_ask(self, now: float, delay: float) -> bool:
        """Count one ask for the weekly statistics at ``now`` (``time.monotonic()``); True once they are computed.

        Count-based repositories (``pending_asks`` above 0) spend one ask.
        Cold ones start computing at the first ask and are ready once
        ``delay`` seconds have passed since it. The caller holds the world's lock.
        """
        if self.pending_asks > 0:
            self.pending_asks -= 1
            return False
        if not self.stats_cold:
            return True
        if self._stats_since is None:
            self._stats_since = now
            return False
        if now - self._stats_since >= delay:
            self.stats_cold = False
            self._stats_since = None
            return True
        return False

    def count_stats_by_asks(self, asks: int) -> None:
        """Make the statistics count-based: ``asks`` asks answer 202, now and again after every push."""
        self.pending_asks = self._asks_per_push = asks
