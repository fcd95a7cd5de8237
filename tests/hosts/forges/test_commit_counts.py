"""Counting a branch's history to GitHub's definitions: window edges, merges, incremental updates, rewrites."""

from datetime import datetime, timedelta, timezone

from fetcher.hosts import commit_counts
from fetcher.hosts.commit_counts import Commit, BranchCounts

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=timezone.utc)  # a Sunday afternoon
MIDNIGHT = datetime(2026, 11, 22, tzinfo=timezone.utc)  # where window 51 ends


def at(moment: datetime, ident: str, parents=("p",), author="ann") -> Commit:
    return Commit(ident, tuple(parents), moment, author)


def weeks_of(commits: list[Commit], now=NOW) -> list[int]:
    return commit_counts.weekly_counts(commit_counts.count("main", commits, now, with_authors=False).days, now)


def test_the_window_ends_at_the_most_recent_utc_midnight_and_spans_364_days():
    assert commit_counts.window_end(NOW) == MIDNIGHT
    assert commit_counts.window_start(NOW) == MIDNIGHT - timedelta(days=364)
    # Another zone's clock names the same instant: the windows are UTC's.
    assert commit_counts.window_end(NOW.astimezone(timezone(timedelta(hours=-10)))) == MIDNIGHT


def test_a_commit_just_before_midnight_is_in_the_last_window_and_one_at_midnight_in_none_yet():
    weeks = weeks_of([at(MIDNIGHT - timedelta(seconds=1), "a"), at(MIDNIGHT, "b")])
    assert weeks[51] == 1 and sum(weeks) == 1


def test_window_edges_include_their_start_and_exclude_their_end():
    start_51 = MIDNIGHT - timedelta(days=7)
    weeks = weeks_of([at(start_51, "a"), at(start_51 - timedelta(seconds=1), "b")])
    assert (weeks[50], weeks[51]) == (1, 1)
    first = commit_counts.window_start(NOW)
    weeks = weeks_of([at(first, "c"), at(first - timedelta(seconds=1), "d")])
    assert weeks[0] == 1 and sum(weeks) == 1  # the older one is outside every window


def test_the_committer_date_counts_in_utc_whatever_its_offset():
    # 23:30 on Saturday in New York is Sunday 04:30 UTC: after the last midnight, in no window yet.
    late = datetime(2026, 11, 21, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert sum(weeks_of([at(late, "a")])) == 0
    # 00:30 Sunday in Berlin is Saturday 23:30 UTC: in window 51.
    early = datetime(2026, 11, 22, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert weeks_of([at(early, "b")])[51] == 1


def test_merge_commits_are_not_counted_in_the_weeks_but_count_for_their_author():
    day = MIDNIGHT - timedelta(days=3)
    commits = [at(day, "m", parents=("a", "b"), author="merger"), at(day, "a", author="dev")]
    counted = commit_counts.count("main", commits, NOW, with_authors=True)
    assert commit_counts.weekly_counts(counted.days, NOW)[51] == 1
    assert counted.authors == {"merger": 1, "dev": 1}


def test_weeks_are_recomputed_locally_as_days_pass():
    commit_day = MIDNIGHT - timedelta(days=2)
    counted = commit_counts.count("main", [at(commit_day, "a")], NOW, with_authors=False)
    assert commit_counts.weekly_counts(counted.days, NOW)[51] == 1
    week_later = NOW + timedelta(days=7)
    assert commit_counts.weekly_counts(counted.days, week_later)[50] == 1
    assert commit_counts.weekly_counts(counted.days, week_later)[51] == 0
    # A commit made today (after midnight) enters window 51 tomorrow.
    today = commit_counts.count("main", [at(NOW - timedelta(hours=1), "b")], NOW, with_authors=False)
    assert sum(commit_counts.weekly_counts(today.days, NOW)) == 0
    assert commit_counts.weekly_counts(today.days, NOW + timedelta(days=1))[51] == 1


def test_days_older_than_the_window_are_dropped_from_the_kept_counts():
    old = at(commit_counts.window_start(NOW) - timedelta(days=1), "old")
    recent = at(MIDNIGHT - timedelta(days=1), "new")
    counted = commit_counts.count("main", [recent, old], NOW, with_authors=True)
    assert list(counted.days) == [(MIDNIGHT - timedelta(days=1)).date().isoformat()]
    assert counted.authors == {"ann": 2}  # participants count the whole history
    later = commit_counts.add(counted, [], NOW + timedelta(days=400))
    assert later.days == {}


def test_the_head_is_the_newest_commit_and_its_date_is_last_updated():
    commits = [at(MIDNIGHT - timedelta(days=1), "new"), at(MIDNIGHT - timedelta(days=2), "old")]
    counted = commit_counts.count("main", commits, NOW, with_authors=False)
    assert counted.head == "new"
    assert counted.head_date == (MIDNIGHT - timedelta(days=1)).isoformat()


def test_incremental_update_adds_only_the_new_commits():
    day = MIDNIGHT - timedelta(days=10)
    first = commit_counts.count("main", [at(day, "b", parents=("a",)), at(day, "a", parents=())], NOW, with_authors=True)
    new = [at(day + timedelta(days=5), "d", parents=("c",), author="bob"), at(day + timedelta(days=5), "c",
                                                                              parents=("b",), author="bob")]
    assert commit_counts.builds_on("b", new)
    updated = commit_counts.add(first, new, NOW)
    assert updated.head == "d"
    assert sum(commit_counts.weekly_counts(updated.days, NOW)) == 4
    assert updated.authors == {"ann": 2, "bob": 2}
    assert commit_counts.participants(updated.authors) == ["ann", "bob"]  # equal counts: by name


def test_a_merge_of_an_old_branch_builds_on_the_old_head():
    # main: a - b (old head); a feature branch forked at a: f; merged: m(b, f)
    new = [at(NOW, "m", parents=("b", "f")), at(NOW - timedelta(days=30), "f", parents=("a",))]
    assert commit_counts.builds_on("b", new)


def test_a_rewritten_history_does_not_build_on_the_old_head():
    # main was a - b - c (c counted); a force-push made a - b - x: git log x ^c lists only x, whose parent is b
    assert not commit_counts.builds_on("c", [at(NOW, "x", parents=("b",))])
    # a reset to an older commit lists nothing new at all
    assert not commit_counts.builds_on("c", [])


def test_participants_most_commits_first():
    assert commit_counts.participants({"b": 1, "a": 3, "c": 3}) == ["a", "c", "b"]


def test_a_history_round_trips_through_json_and_foreign_pieces_are_refused():
    counted = commit_counts.count("main", [at(MIDNIGHT - timedelta(days=1), "a")], NOW, with_authors=True)
    assert BranchCounts.from_json(counted.as_json()) == counted
    assert BranchCounts.from_json({"repo": "x", "pushed_at": "t", "last_updated": None}) is None  # GitHub's commits piece
    assert BranchCounts.from_json({"branch": "main", "head": None, "head_date": None, "days": [], "authors": None}) is None
