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

A history is counted a page at a time as the pages come (`tally`), never held whole: a
count under way (`Paging`) is a value like the counts themselves, so a history longer than
one run may page is kept where it stopped and taken up again by the next run. Each count
is of one commit named by its id (`Paging.upto`), so a push while the pages are read shifts
none of them; a commit listed again on the next page all the same is counted once.

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
class Paging:
    """A count under way: the commits reachable from `upto` and not from the commit counted before (none, when
    counting from scratch), newest first; `next` is the page to ask next, under the host's API."""

    upto: str  # the commit counted up to, by id: every page is of it, whatever is pushed meanwhile
    next: str
    pages: int = 0  # pages read of it so far, over every run
    recent: tuple[str, ...] = ()  # the ids of the last page read: one listed again is counted once
    linked: bool = False  # a commit read so far has the commit counted before as a parent (a fast-forward)

    def as_json(self) -> dict:
        return {"upto": self.upto, "next": self.next, "pages": self.pages, "recent": list(self.recent),
                "linked": self.linked}

    @classmethod
    def from_json(cls, value) -> "Paging | None":
        try:
            upto, following, pages, recent = value["upto"], value["next"], value["pages"], value["recent"]
            if not (isinstance(upto, str) and isinstance(following, str) and _count(pages)
                    and isinstance(recent, list) and all(isinstance(i, str) for i in recent)
                    and isinstance(value["linked"], bool)):
                return None
            return cls(upto, following, pages, tuple(recent), value["linked"])
        except (KeyError, TypeError):
            return None


@dataclass(frozen=True)
class BranchCounts:
    """What was counted of a branch: complete up to `counted`, and, while `paging`, part of what follows it."""

    branch: str
    head: str | None  # the branch's newest commit when last asked (None: the branch has none)
    head_date: str | None  # its committer date (ISO 8601, UTC): the record's last_updated
    days: dict[str, int] = field(default_factory=dict)  # "YYYY-MM-DD" (UTC) -> commits counted that day
    authors: dict[str, int] | None = None  # None where the host lists contributors itself
    total: int | None = None  # every commit counted; None where only the window was counted
    counted: str | None = None  # the commit the counts are complete up to (None: none yet)
    host_total: int | None = None  # the host's own count of the head's commits, where its answer gives one
    paging: Paging | None = None  # a count under way

    @property
    def done(self) -> bool:
        """Everything up to the head is counted."""
        return self.paging is None and self.counted == self.head

    def commit_count(self) -> int | None:
        """The head's commit count: the host's own where it gives one, else what was counted, once complete."""
        if self.host_total is not None:
            return self.host_total
        return self.total if self.done else None

    def as_json(self) -> dict:
        return {"branch": self.branch, "head": self.head, "head_date": self.head_date, "days": self.days,
                "authors": self.authors, "total": self.total, "counted": self.counted,
                "host_total": self.host_total, "paging": self.paging.as_json() if self.paging else None}

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
            paging = None
            if value.get("paging") is not None:
                paging = Paging.from_json(value["paging"])
                if paging is None:
                    return None  # a count under way that cannot be taken up: counted again
            total = value.get("total")  # absent from a piece kept before totals were
            host_total = value.get("host_total")
            # A piece kept before counts were taken up across runs was complete up to its head.
            counted = value["counted"] if "counted" in value else value["head"]
            return cls(value["branch"], value["head"], value["head_date"], dict(days),
                       dict(authors) if authors is not None else None, total if _count(total) else None,
                       counted, host_total if _count(host_total) else None, paging)
        except (KeyError, TypeError, AttributeError):
            return None


def empty(branch: str, *, with_authors: bool, whole: bool) -> BranchCounts:
    """Nothing counted yet: `whole`, the whole history will be, so its number is the branch's total."""
    return BranchCounts(branch, None, None, {}, {} if with_authors else None, 0 if whole else None)


def begin(counts: BranchCounts, upto: str, first: str, *, scratch: bool, with_authors: bool,
          whole: bool) -> BranchCounts:
    """A count of `upto` whose first page is `first`: on top of the counted commit, or from `scratch`."""
    if scratch:
        start = empty(counts.branch, with_authors=with_authors, whole=whole)
        counts = replace(start, head=counts.head, head_date=counts.head_date, host_total=counts.host_total)
    return replace(counts, paging=Paging(upto, first))


def tally(counts: BranchCounts, page: list[Commit], following: str | None, now: datetime) -> BranchCounts:
    """`counts` with one page of the count under way added, each commit once; `following`: the next page's URL
    (None: that was the last)."""
    paging = counts.paging
    assert paging is not None, "tally without a count under way"
    days = dict(counts.days)
    authors = dict(counts.authors) if counts.authors is not None else None
    seen, added, linked = set(paging.recent), 0, paging.linked
    for commit in page:
        if commit.id in seen:
            continue  # listed again: a page shifted by a push
        seen.add(commit.id)
        added += 1
        linked = linked or (counts.counted is not None and counts.counted in commit.parents)
        if not commit.is_merge:
            day = commit.committed.astimezone(timezone.utc).date().isoformat()
            days[day] = days.get(day, 0) + 1
        if authors is not None and commit.author:
            authors[commit.author] = authors.get(commit.author, 0) + 1
    total = counts.total + added if counts.total is not None else None
    moved = Paging(paging.upto, following or "", paging.pages + 1, tuple(commit.id for commit in page), linked)
    return replace(counts, days=_pruned(days, now), authors=authors, total=total, paging=moved)


def finished(counts: BranchCounts) -> bool:
    """The count under way has read its last page."""
    return counts.paging is not None and counts.paging.pages > 0 and not counts.paging.next


def finish(counts: BranchCounts) -> BranchCounts | None:
    """The count under way, read to its last page, made the counts up to its commit; None when it was counted on
    top of a commit its new commits do not build on (the history was rewritten: count again from scratch).

    The new commits are those reachable from the new head and not from the old one: in a fast-forward the old
    head is a parent of one of them; after a force-push they end at an older fork point instead (or are none).
    """
    paging = counts.paging
    assert paging is not None and finished(counts)
    if counts.counted is not None and not paging.linked:
        return None
    return replace(counts, counted=paging.upto, paging=None)


def pruned(counts: BranchCounts, now: datetime) -> BranchCounts:
    return replace(counts, days=_pruned(counts.days, now))


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


def _pruned(days: dict[str, int], now: datetime) -> dict[str, int]:
    """Days before the oldest window can never count again: dropped, so the piece stays small."""
    first = window_start(now).date()
    return {day: n for day, n in sorted(days.items()) if _day(day) is not None and _day(day) >= first}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()
