"""Counting a branch's history to GitHub's definitions: window edges, merges, incremental updates, rewrites, a page
at a time."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from fetcher.hosts import commit_counts
from fetcher.hosts.commit_counts import Commit, BranchCounts, Paging

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=timezone.utc)  # a Sunday afternoon
MIDNIGHT = datetime(2026, 11, 22, tzinfo=timezone.utc)  # where window 51 ends


def at(moment: datetime, ident: str, parents=("p",), author="ann") -> Commit:
    return Commit(ident, tuple(parents), moment, author)


def count(commits: list[Commit], now=NOW, *, with_authors=False, pages=1) -> BranchCounts:
    """`commits` (newest first) counted from scratch as the whole history, read in `pages` pages."""
    start = commit_counts.empty("main", with_authors=with_authors, whole=True)
    counts = commit_counts.begin(replace(start, head=commits[0].id), commits[0].id, "page-1", scratch=True,
                                 with_authors=with_authors, whole=True)
    size = -(-len(commits) // pages)
    for number in range(pages):
        following = f"page-{number + 2}" if number < pages - 1 else None
        counts = commit_counts.tally(counts, commits[number * size:(number + 1) * size], following, now)
    assert commit_counts.finished(counts)
    return commit_counts.finish(counts)


def add(counts: BranchCounts, new: list[Commit], now=NOW) -> BranchCounts | None:
    """The commits made on top of the counted one (newest first) added; None when they do not build on it."""
    upto = new[0].id if new else "elsewhere"
    counts = commit_counts.begin(replace(counts, head=upto), upto, "page-1", scratch=False, with_authors=True,
                                 whole=True)
    return commit_counts.finish(commit_counts.tally(counts, new, None, now))


def weeks_of(commits: list[Commit], now=NOW) -> list[int]:
    return commit_counts.weekly_counts(count(commits, now).days, now)


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
    counted = count(commits, with_authors=True)
    assert commit_counts.weekly_counts(counted.days, NOW)[51] == 1
    assert counted.authors == {"merger": 1, "dev": 1}


def test_weeks_are_recomputed_locally_as_days_pass():
    commit_day = MIDNIGHT - timedelta(days=2)
    counted = count([at(commit_day, "a")])
    assert commit_counts.weekly_counts(counted.days, NOW)[51] == 1
    week_later = NOW + timedelta(days=7)
    assert commit_counts.weekly_counts(counted.days, week_later)[50] == 1
    assert commit_counts.weekly_counts(counted.days, week_later)[51] == 0
    # A commit made today (after midnight) enters window 51 tomorrow.
    today = count([at(NOW - timedelta(hours=1), "b")])
    assert sum(commit_counts.weekly_counts(today.days, NOW)) == 0
    assert commit_counts.weekly_counts(today.days, NOW + timedelta(days=1))[51] == 1


def test_days_older_than_the_window_are_dropped_from_the_kept_counts():
    old = at(commit_counts.window_start(NOW) - timedelta(days=1), "old")
    recent = at(MIDNIGHT - timedelta(days=1), "new")
    counted = count([recent, old], with_authors=True)
    assert list(counted.days) == [(MIDNIGHT - timedelta(days=1)).date().isoformat()]
    assert counted.authors == {"ann": 2}  # participants count the whole history
    later = commit_counts.pruned(counted, NOW + timedelta(days=400))
    assert later.days == {}


def test_a_count_reaches_the_commit_it_was_of_and_its_whole_history_is_the_total():
    commits = [at(MIDNIGHT - timedelta(days=1), "new"), at(MIDNIGHT - timedelta(days=2), "old", parents=("m", "x")),
               at(MIDNIGHT - timedelta(days=3), "x", parents=())]
    counted = count(commits)
    assert (counted.counted, counted.head, counted.paging) == ("new", "new", None) and counted.done
    assert counted.total == 3  # merges included, as git rev-list --count
    assert counted.commit_count() == 3
    assert replace(counted, host_total=40).commit_count() == 40  # the host's own count beats what was paged


def test_incremental_update_adds_only_the_new_commits():
    day = MIDNIGHT - timedelta(days=10)
    first = count([at(day, "b", parents=("a",)), at(day, "a", parents=())], with_authors=True)
    new = [at(day + timedelta(days=5), "d", parents=("c",), author="bob"), at(day + timedelta(days=5), "c",
                                                                              parents=("b",), author="bob")]
    updated = add(first, new)
    assert updated.counted == "d" and updated.total == 4
    assert sum(commit_counts.weekly_counts(updated.days, NOW)) == 4
    assert updated.authors == {"ann": 2, "bob": 2}
    assert commit_counts.participants(updated.authors) == ["ann", "bob"]  # equal counts: by name


def test_a_merge_of_an_old_branch_builds_on_the_old_head():
    # main: a - b (old head); a feature branch forked at a: f; merged: m(b, f)
    first = count([at(NOW - timedelta(days=40), "b", parents=("a",)), at(NOW - timedelta(days=50), "a", parents=())])
    new = [at(NOW, "m", parents=("b", "f")), at(NOW - timedelta(days=30), "f", parents=("a",))]
    assert add(first, new).counted == "m"


def test_a_rewritten_history_does_not_build_on_the_old_head():
    # main was a - b - c (c counted); a force-push made a - b - x: git log x ^c lists only x, whose parent is b
    first = count([at(NOW - timedelta(days=1), "c", parents=("b",)), at(NOW - timedelta(days=2), "b", parents=())])
    assert add(first, [at(NOW, "x", parents=("b",))]) is None
    # a reset to an older commit lists nothing new at all
    assert add(first, []) is None


def test_a_history_counted_a_page_at_a_time_is_the_history_counted_whole():
    commits = [at(MIDNIGHT - timedelta(hours=hour), f"c{hour}", parents=(f"c{hour + 1}",), author=f"a{hour % 3}")
               for hour in range(1, 200)]
    whole, paged = count(commits, with_authors=True), count(commits, with_authors=True, pages=7)
    assert (paged.days, paged.authors, paged.total) == (whole.days, whole.authors, whole.total)


def test_a_commit_listed_again_on_the_next_page_is_counted_once():
    # Offset paging while a commit is pushed: the next page starts with the last commit of the page before.
    commits = [at(MIDNIGHT - timedelta(hours=hour), f"c{hour}", parents=(f"c{hour + 1}",)) for hour in range(1, 7)]
    start = commit_counts.begin(replace(commit_counts.empty("main", with_authors=True, whole=True), head="c1"), "c1",
                                "page-1", scratch=True, with_authors=True, whole=True)
    first = commit_counts.tally(start, commits[:3], "page-2", NOW)
    second = commit_counts.tally(first, commits[2:], None, NOW)  # c3 again
    assert second.total == 6 and sum(second.days.values()) == 6 and second.authors == {"ann": 6}


def test_a_count_under_way_keeps_where_it_stopped():
    commits = [at(MIDNIGHT - timedelta(hours=hour), f"c{hour}", parents=(f"c{hour + 1}",)) for hour in range(1, 5)]
    start = commit_counts.begin(replace(commit_counts.empty("main", with_authors=True, whole=True), head="c1"), "c1",
                                "page-1", scratch=True, with_authors=True, whole=True)
    part = commit_counts.tally(start, commits[:2], "https://host/api/commits?page=2", NOW)
    assert not part.done and not commit_counts.finished(part) and part.commit_count() is None
    assert part.paging == Paging("c1", "https://host/api/commits?page=2", 1, ("c1", "c2"), False)
    assert BranchCounts.from_json(part.as_json()) == part


def test_participants_most_commits_first():
    assert commit_counts.participants({"b": 1, "a": 3, "c": 3}) == ["a", "c", "b"]


def test_a_history_round_trips_through_json_and_foreign_pieces_are_refused():
    counted = count([at(MIDNIGHT - timedelta(days=1), "a")], with_authors=True)
    assert BranchCounts.from_json(counted.as_json()) == counted
    assert BranchCounts.from_json({"repo": "x", "pushed_at": "t", "last_updated": None}) is None  # GitHub's commits piece
    assert BranchCounts.from_json({"branch": "main", "head": None, "head_date": None, "days": [], "authors": None}) is None
    assert BranchCounts.from_json({**counted.as_json(), "paging": {"upto": 1}}) is None  # a cursor unreadable


def test_a_history_kept_before_counts_went_on_across_runs_reads_as_counted_up_to_its_head():
    kept = {"branch": "main", "head": "a", "head_date": "2026-11-21T00:00:00+00:00", "days": {}, "authors": {},
            "total": 5}
    counted = BranchCounts.from_json(kept)
    assert counted.counted == "a" and counted.done and counted.commit_count() == 5
