"""A default branch's history, counted to GitHub's definitions, for forges without GitHub's statistics.

GitHub's `stats/participation` gives 52 weekly counts for free; GitLab, Forgejo and
Bitbucket do not, so the counts are made here from the commits themselves, and kept
as per-day counts so that later syncs only add what is new:

- `commits_over_52`: 52 counts, oldest first, of the default branch's commits whose
  committer date falls in each of the 52 seven-day windows ending at the most recent
  UTC midnight (index 51 ends today at 00:00 UTC; a window includes its start and
  excludes its end). Merge commits (more than one parent) are not counted.
- per-author counts (every commit, merges included, as GitHub's contributors count
  them), for the forges whose participants come from the history.
- the branch's total commit count (merges included, as `git rev-list --count`), where
  the whole history was counted: kept, and the new commits added to it.

Pure functions over plain values: the host modules ask, this module counts.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone

WEEKS = 52
DAYS = WEEKS * 7


@dataclass(frozen=True)
class Commit:
    id: str
    parents: tuple[str, ...]
    committed: datetime  # the committer date, time-zone aware
    author: str | None = None  # the participant it counts for, where the host's history gives participants

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


@dataclass(frozen=True)
class BranchCounts:
    """What was counted of a branch, up to and including its `head` commit."""

    branch: str
    head: str | None  # None: the branch has no commits
    head_date: str | None  # the head's committer date (ISO 8601, UTC): the record's last_updated
    days: dict[str, int] = field(default_factory=dict)  # "YYYY-MM-DD" (UTC) -> commits counted that day
    authors: dict[str, int] | None = None  # None where the host lists contributors itself
    total: int | None = None  # every commit up to the head; None where only the window was counted

    def as_json(self) -> dict:
        return {"branch": self.branch, "head": self.head, "head_date": self.head_date,
                "days": self.days, "authors": self.authors, "total": self.total}

    @classmethod
    def from_json(cls, value: dict) -> "BranchCounts | None":
        """The kept history, or None when what was kept is not one (an older or foreign piece)."""
        try:
            days, authors = value["days"], value["authors"]
            counts = [*days.values(), *(authors or {}).values()] if isinstance(days, dict) else [None]
            if not (isinstance(value["branch"], str) and isinstance(days, dict)
                    and (authors is None or isinstance(authors, dict))
                    and all(isinstance(n, int) and not isinstance(n, bool) for n in counts)):
                return None
            total = value.get("total")  # absent from a piece kept before totals were
            if not (total is None or (isinstance(total, int) and not isinstance(total, bool) and total >= 0)):
                total = None
            return cls(value["branch"], value["head"], value["head_date"], dict(days),
                       dict(authors) if authors is not None else None, total)
        except (KeyError, TypeError):
            return None


def window_end(now: datetime) -> datetime:
    """The most recent UTC midnight: where window 51 ends."""
    return datetime.combine(now.astimezone(timezone.utc).date(), time(), timezone.utc)


def window_start(now: datetime) -> datetime:
    """Where window 0 starts: the oldest commit date that counts."""
    return window_end(now) - timedelta(days=DAYS)


def weekly_counts(days: dict[str, int], now: datetime) -> list[int]:
    """The 52 weekly counts, oldest first, as of `now`, from per-day counts."""
    first = window_start(now).date()
    return [
        sum(days.get((first + timedelta(days=week * 7 + day)).isoformat(), 0) for day in range(7))
        for week in range(WEEKS)
    ]


def participants(authors: dict[str, int]) -> list[str]:
    """Most commits first; equal counts by name, so the order does not depend on the paging."""
    return [name for name, _ in sorted(authors.items(), key=lambda item: (-item[1], item[0]))]


def count(branch: str, commits: list[Commit], now: datetime, *, with_authors: bool, whole: bool = False) -> BranchCounts:
    """A history counted from scratch: `commits` newest first, the branch's head first of all;
    `whole`: they are the branch's whole history, so their number is its total."""
    empty = BranchCounts(branch, None, None, {}, {} if with_authors else None, 0 if whole else None)
    return add(empty, commits, now) if commits else empty


def add(history: BranchCounts, new: list[Commit], now: datetime) -> BranchCounts:
    """`history` with the commits made on top of its head added; `new` newest first, new[0] the new head."""
    if not new:
        return replace(history, days=_pruned(history.days, now))
    days = dict(history.days)
    authors = dict(history.authors) if history.authors is not None else None
    for commit in new:
        if not commit.is_merge:
            day = commit.committed.astimezone(timezone.utc).date().isoformat()
            days[day] = days.get(day, 0) + 1
        if authors is not None and commit.author:
            authors[commit.author] = authors.get(commit.author, 0) + 1
    head = new[0]
    total = history.total + len(new) if history.total is not None else None
    return BranchCounts(history.branch, head.id, _iso(head.committed), _pruned(days, now), authors, total)


def builds_on(old_head: str, new: list[Commit]) -> bool:
    """True when the new commits were made on top of `old_head` (a fast-forward), False if history was rewritten.

    `new` is every commit reachable from the new head and not from the old one: in a
    fast-forward the old head is a parent of one of them; after a force-push the
    commits end at an older fork point instead.
    """
    listed = {commit.id for commit in new}
    return any(parent == old_head for commit in new for parent in commit.parents if parent not in listed)


def _pruned(days: dict[str, int], now: datetime) -> dict[str, int]:
    """Days before the oldest window can never count again: dropped, so the piece stays small."""
    first = window_start(now).date()
    return {day: n for day, n in sorted(days.items()) if _day(day) is not None and _day(day) >= first}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()
