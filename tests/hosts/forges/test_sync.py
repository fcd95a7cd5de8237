"""GitLab, Forgejo and Bitbucket through a whole sync, against the stand-in's forge world (no network).

Each test says what its world is like -- repositories and their histories, hosts that reject a token, are
throttled, cannot be reached, refuse, or lie -- and fetcher reaches the stand-in in-process: its
``ForgeTransport`` serves every host at its own API URL and answers with the stand-in's own forge code. What
each host was asked comes from the stand-in's request log.
"""

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.config import load
from fetcher.run import loop
from fetcher.run.report import FAILED, SYNCED, UNCHANGED
from fetcher.record import parse_datetime, to_stored_datetime, validate
from fetcher.standin.forges import ForgeRepo, Forges, ForgeTransport, Person
from fetcher.store import open_store
from tests.conftest import no_sleep

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
MIDNIGHT = datetime(2026, 11, 22, tzinfo=timezone.utc)
GITLAB, CODEBERG = "https://gitlab.com/api/v4", "https://codeberg.org/api/v1"
BITBUCKET = "https://api.bitbucket.org/2.0"
SELF_GITLAB, SELF_FORGEJO = "https://gitlab.example.org/api/v4", "https://git.example.org/api/v1"
HOSTS = f"""
[hosts."gitlab.example.org"]
kind = "gitlab"
api_url = "{SELF_GITLAB}"
token_env = "EXAMPLE_GITLAB_TOKEN"

[hosts."git.example.org"]
kind = "forgejo"
api_url = "{SELF_FORGEJO}"
"""
KINDS = {"gitlab.com": "gitlab", "gitlab.example.org": "gitlab", "codeberg.org": "forgejo",
         "git.example.org": "forgejo", "bitbucket.org": "bitbucket"}
OLD = dict(repo_forks=7, repo_watchers=70, repo_description="as it was", participants=["old-timer"],
           commits_over_52=[1] * 52, last_updated="2024-05-05T05:05:05+00:00")
TOKENS = ("GITHUB_TOKEN", "GITLAB_TOKEN", "CODEBERG_TOKEN", "BITBUCKET_TOKEN", "EXAMPLE_GITLAB_TOKEN")
# Each kind's repository as the recorded answers describe it, but for the values a test is about.
SHAPES = {"gitlab": dict(id=6812925, stars=33, forks=25, description="An app."),
          "forgejo": dict(id=12345, stars=21, forks=4, watchers=7, description="A Django app."),
          "bitbucket": dict(id=4242, stars=16, forks=37, description="A backend.")}  # Bitbucket's stars: watchers

ANN = Person("Ann Cient", "ann@example.org")  # no account on the host
ALICE = Person("Alice A", "alice@example.org", "alice")
BOB = Person("Bob B", "bob@example.org", "bob")
CAROL = Person("Carol Unlinked", "carol@example.org")
DAVE = Person("Dave D", "dave@example.org", "dave")
EVE = Person("Eve E", "eve@example.org", "eve")


def package(slug: str, repo_url: str, **fields) -> dict:
    return {"slug": slug, "title": slug, "repo_url": repo_url, "pypi_url": "",
            "created": "2020-01-01T00:00:00+00:00", "modified": "2020-01-01T00:00:00+00:00", **fields}


@pytest.fixture
def forges() -> Forges:
    """The five forge hosts, public and self-hosted, with no repository yet; the world's clock at NOW."""
    world = Forges(now=NOW)
    for name, kind in KINDS.items():
        world.add_host(name, kind)
    return world


@pytest.fixture
def setup(tmp_path, config_file, monkeypatch):
    for name in TOKENS:
        monkeypatch.delenv(name, raising=False)

    def make(*records, extra=""):
        config = load(str(config_file(HOSTS + extra)))
        store = open_store(config.store_path)
        store.catalogue.import_records([validate(r, "test") for r in records], NOW)
        return config, store

    return make


def run(config, store, forges: Forges, clock=NOW):
    return loop.run(store, store.schedule.due(None, None), config, "sync", sleep=no_sleep, clock=lambda: clock,
                    transport=ForgeTransport(forges))


def record(store, slug: str) -> dict:
    # As the store reads it (lists as lists), its date-times as it keeps them.
    return {k: to_stored_datetime(v) if isinstance(v, datetime) else v for k, v in store.reads.record(slug).items()}


def project(forges: Forges, url: str, *, people=(ANN, ALICE, BOB, CAROL), **values) -> ForgeRepo:
    """The repository at ``url`` (``https://HOST/PATH``) with ``history()``, its kind's SHAPES values unless given."""
    host, _, path = url.removeprefix("https://").partition("/")
    given = {**SHAPES[KINDS[host]], **values}
    repo = ForgeRepo(host, path, given.pop("id"), given.pop("stars"), given.pop("forks"), given.pop("description"),
                     created=datetime(2018, 6, 5, tzinfo=timezone.utc), **given)
    forges.add_repo(repo)
    history(forges, url, *people)
    return repo


def history(forges: Forges, url: str, ann=ANN, alice=ALICE, bob=BOB, carol=CAROL) -> None:
    """A history on both sides of the window edges, with a merge and authors with and without accounts."""
    start = MIDNIGHT - timedelta(days=364)
    forges.commit(url, start - timedelta(days=30), author=ann, sha="old0")
    forges.commit(url, start - timedelta(seconds=1), author=ann, sha="old1")
    forges.commit(url, start, author=alice, sha="w0")  # window 0's first second
    forges.commit(url, MIDNIGHT - timedelta(days=7, seconds=1), author=bob, sha="w50")  # last of 50
    forges.commit(url, MIDNIGHT - timedelta(days=6), author=alice, sha="f1", parents=("w0",), side=True)  # a branch
    forges.commit(url, MIDNIGHT - timedelta(days=3), author=bob, sha="m", parents=("w50", "f1"))  # a merge: not counted
    forges.commit(url, MIDNIGHT - timedelta(seconds=1), author=carol, sha="w51")
    forges.commit(url, MIDNIGHT + timedelta(hours=1), author=alice, sha="today")  # no window yet


EXPECTED_WEEKS = [1] + [0] * 49 + [1, 2]  # w0 | w50 | f1 and w51 (the merge and today's commit in none)


# -- each field on each host ----------------------------------------------------------------


def test_gitlab_nested_group_project_gives_every_field(setup, forges):
    path = "lansharkconsulting/django/django-encrypted-model-fields"
    config, store = setup(package("enc", f"https://gitlab.com/{path}/-/tree/develop", **OLD))
    # GitLab lists contributors by email: Scott Sharkey committed under two, so he is listed twice.
    scott, other_scott = Person("Scott Sharkey", "scott@example.org"), Person("Scott Sharkey", "ss@example.com")
    people = (Person("Dana Spiegel", "dana@example.org"), scott, other_scott, Person("ghalebkhaled", "g@example.org"))
    project(forges, f"https://gitlab.com/{path}", stars=33, forks=25, description=None, people=people)

    report = run(config, store, forges)

    got = record(store, "enc")
    assert report.exit_code == 0, report.failures
    assert (got["repo_watchers"], got["repo_forks"], got["repo_description"]) == (33, 25, "")
    assert got["participants"] == ["Scott Sharkey", "Dana Spiegel", "ghalebkhaled"]  # names, duplicates dropped
    assert got["commits_over_52"] == EXPECTED_WEEKS
    assert parse_datetime(got["last_updated"]) == MIDNIGHT + timedelta(hours=1)
    assert got["repo_url"] == f"https://gitlab.com/{path}/-/tree/develop"  # not moved: kept as written
    # The whole nested path, URL-encoded, is the project; then its numeric id.
    encoded = "lansharkconsulting%2Fdjango%2Fdjango-encrypted-model-fields"
    asked = forges.requests("gitlab.com", repo=path)
    assert asked[0].url == f"{GITLAB}/projects/{encoded}"
    commits = [e.url for e in asked if e.resource == "commits" and "per_page=100" in e.url]
    assert commits and all("since=2025-11-23T00:00:00Z" in url for url in commits)
    contributors = [e for e in asked if e.resource == "contributors"]
    assert "order_by=commits&sort=desc" in contributors[0].url
    assert contributors[0].items == 4  # GitLab listed Scott Sharkey twice, by his two emails


def test_forgejo_gives_stars_not_watchers_and_participants_from_the_history(setup, forges):
    config, store = setup(package("thing", "https://codeberg.org/someone/django-thing", **OLD))
    project(forges, "https://codeberg.org/someone/django-thing", stars=21, forks=4, watchers=7)

    report = run(config, store, forges)

    got = record(store, "thing")
    assert report.exit_code == 0, report.failures
    assert (got["repo_watchers"], got["repo_forks"], got["repo_description"]) == (21, 4, "A Django app.")
    assert got["commits_over_52"] == EXPECTED_WEEKS
    assert parse_datetime(got["last_updated"]) == MIDNIGHT + timedelta(hours=1)
    # alice 3, bob 2, then one commit each, by name: login where linked, else the author's name.
    assert got["participants"] == ["alice", "Ann Cient", "bob", "Carol Unlinked"]


def test_bitbucket_gives_watchers_as_stars_forks_and_nicknames_else_raw_names(setup, forges):
    config, store = setup(package("mssql", "https://bitbucket.org/Manfre/django-mssql", **OLD))
    project(forges, "https://bitbucket.org/Manfre/django-mssql", stars=16, forks=37)  # 16 watchers

    report = run(config, store, forges)

    got = record(store, "mssql")
    assert report.exit_code == 0, report.failures
    assert (got["repo_watchers"], got["repo_forks"], got["repo_description"]) == (16, 37, "A backend.")
    assert got["commits_over_52"] == EXPECTED_WEEKS
    assert parse_datetime(got["last_updated"]) == MIDNIGHT + timedelta(hours=1)
    assert got["participants"] == ["alice", "Ann Cient", "bob", "Carol Unlinked"]


# -- warm and incremental syncs ---------------------------------------------------------------

FIVE = {"gl": "https://gitlab.com/group/sub/gl", "sgl": "https://gitlab.example.org/team/sgl",
        "cb": "https://codeberg.org/someone/cb", "sfj": "https://git.example.org/someone/sfj",
        "bb": "https://bitbucket.org/someone/bb"}


def five_hosts(forges: Forges) -> list[dict]:
    """One repository with ``history()`` on each host (the self-hosted GitLab's is project 7); their packages."""
    for slug, url in FIVE.items():
        project(forges, url, **({"id": 7} if slug == "sgl" else {}))
    return [package(slug, url) for slug, url in FIVE.items()]


def asked(forges: Forges, slug: str) -> list:
    """What the host of FIVE[slug] was asked about that repository, from the stand-in's log."""
    host, _, path = FIVE[slug].removeprefix("https://").partition("/")
    return forges.requests(host, repo=path)


# Resources read per repository when nothing changed: metadata and newest commit (Bitbucket: and watchers, forks),
# each a 304; Forgejo, which sends no ETag, its metadata alone, whose updated_at says nothing was pushed since.
RESOURCES_WARM = {"gl": 2, "sgl": 2, "cb": 1, "sfj": 1, "bb": 4}
FORGEJO = ("cb", "sfj")


def test_a_warm_sync_of_unchanged_repositories_sends_only_conditional_requests_and_forgejo_one(setup, forges):
    config, store = setup(*five_hosts(forges))
    run(config, store, forges)
    before = {slug: record(store, slug) for slug in FIVE}
    sent = {slug: len(asked(forges, slug)) for slug in FIVE}
    # Cold: metadata, newest commit, one page of commits; GitLab its commit count and contributors, Bitbucket its
    # watchers and forks.
    assert sent == {"gl": 5, "sgl": 5, "cb": 3, "sfj": 3, "bb": 5}

    report = run(config, store, forges, clock=NOW + timedelta(hours=1))

    for slug in FIVE:
        warm = asked(forges, slug)[sent[slug]:]
        assert len(warm) == RESOURCES_WARM[slug], (slug, [entry.url for entry in warm])
        if slug in FORGEJO:
            assert [(entry.resource, entry.status, entry.conditional) for entry in warm] == [("repo", 200, False)]
        else:
            assert all(entry.conditional for entry in warm), slug
            assert [entry.status for entry in warm] == [304] * len(warm), slug
        assert len({entry.url for entry in warm}) == len(warm)  # at most one per resource
        after = record(store, slug)
        assert {k: v for k, v in after.items() if k != "last_fetched"} == \
            {k: v for k, v in before[slug].items() if k != "last_fetched"}
    assert report.outcomes[UNCHANGED] == 5
    assert report.not_modified == sum(count for slug, count in RESOURCES_WARM.items() if slug not in FORGEJO)
    by_host = "(bitbucket.org 4, codeberg.org 1, git.example.org 1, gitlab.com 2, gitlab.example.org 2)"
    assert by_host in report.summary()


def push_two(forges: Forges) -> None:
    """dave's two new commits on every repository of FIVE, after today's."""
    for url in FIVE.values():
        forges.commit(url, MIDNIGHT + timedelta(hours=2), author=DAVE, sha="n1")
        forges.commit(url, MIDNIGHT + timedelta(hours=3), author=DAVE, sha="n2")


def test_after_new_commits_only_the_new_ones_are_asked(setup, forges):
    config, store = setup(*five_hosts(forges))
    run(config, store, forges)
    push_two(forges)
    sent = {slug: len(asked(forges, slug)) for slug in FIVE}

    later = NOW + timedelta(days=1)  # today's commits enter window 51
    report = run(config, store, forges, clock=later)

    assert report.exit_code == 0, report.failures
    for slug in FIVE:
        new = asked(forges, slug)[sent[slug]:]
        listing = [entry for entry in new if entry.resource == "commits" and any(
            size in entry.url for size in ("per_page=100", "limit=50", "pagelen=100"))]
        assert len(listing) == 1, (slug, [entry.url for entry in new])  # one page: just the two new commits
        assert listing[0].items == 2 and ("n1" in listing[0].url) is False
        assert any(marker in listing[0].url for marker in ("today..n2", "not=today", "exclude=today")), listing
        got = record(store, slug)
        assert parse_datetime(got["last_updated"]) == MIDNIGHT + timedelta(hours=3)
        # A day later the windows moved on: w0 fell out, f1 joined window 51 with w51, today, n1 and n2.
        assert got["commits_over_52"] == [0] * 50 + [1, 5]
        if slug in ("cb", "sfj", "bb"):
            # dave's two new commits added to the kept counts: alice 3, then 2 each by name, then Carol's 1
            assert got["participants"] == ["alice", "Ann Cient", "bob", "dave", "Carol Unlinked"]
    expected_requests = {"gl": 4, "sgl": 4, "cb": 3, "sfj": 3, "bb": 5}  # GitLab re-reads its contributors too
    assert {slug: len(asked(forges, slug)) - sent[slug] for slug in FIVE} == expected_requests


def test_an_unchanged_forgejo_repository_costs_one_request_and_a_pushed_one_only_its_new_commits(setup, forges):
    urls = {f"cb{n}": f"https://codeberg.org/someone/r{n}" for n in range(4)}
    urls.update({f"sfj{n}": f"https://git.example.org/team/r{n}" for n in range(2)})
    for number, url in enumerate(urls.values()):
        project(forges, url, id=100 + number)
    config, store = setup(*(package(slug, url) for slug, url in urls.items()))

    def asked_of(slug: str) -> list:
        host, _, path = urls[slug].removeprefix("https://").partition("/")
        return forges.requests(host, repo=path)

    run(config, store, forges)
    cold = {slug: len(asked_of(slug)) for slug in urls}
    day = NOW + timedelta(days=1)
    warm = run(config, store, forges, clock=day)
    before_push = {slug: len(asked_of(slug)) for slug in urls}
    for slug in ("cb1", "sfj0"):
        forges.push(urls[slug], 2, when=day - timedelta(hours=1), author=DAVE)
    later = NOW + timedelta(days=2)
    pushed = run(config, store, forges, clock=later)

    assert warm.exit_code == pushed.exit_code == 0, (warm.failures, pushed.failures)
    # Warm, nothing pushed: the metadata alone, once per repository; its updated_at as before says so.
    assert {slug: [(e.resource, e.status, e.conditional) for e in asked_of(slug)[cold[slug]:before_push[slug]]]
            for slug in urls} == {slug: [("repo", 200, False)] for slug in urls}
    for slug in urls:
        new = asked_of(slug)[before_push[slug]:]
        if slug in ("cb1", "sfj0"):  # updated_at moved: the newest commit, then the two new commits alone
            assert [(e.resource, e.items) for e in new] == [("repo", None), ("commits", 1), ("commits", 2)], slug
            assert "not=today" in new[2].url
        else:
            assert [e.resource for e in new] == ["repo"], slug
        got = record(store, slug)
        want = forges.expected(urls[slug], later)  # the windows slid two days on, pushed or not
        assert (got["commits_over_52"], got["participants"]) == (want["commits_over_52"], want["participants"]), slug
        assert parse_datetime(got["last_updated"]) == forges.repo(urls[slug]).newest
        count = store.reads.facts(store.reads.record(slug)["id"])["commit_count"]
        assert count == forges.expected_commit_count(urls[slug]) == (10 if slug in ("cb1", "sfj0") else 8)


def test_a_forgejo_push_just_before_a_sync_has_the_next_one_ask_the_newest_commit_again(setup, forges):
    url = "https://codeberg.org/someone/busy"
    project(forges, url)
    forges.commit(url, NOW - timedelta(seconds=30), author=DAVE, sha="late")  # updated_at: 30 s before the sync
    config, store = setup(package("busy", url))
    run(config, store, forges)
    counts = []
    for hours in (1, 2):
        mark = len(forges.requests("codeberg.org"))
        assert run(config, store, forges, clock=NOW + timedelta(hours=hours)).exit_code == 0
        counts.append([entry.resource for entry in forges.requests("codeberg.org")[mark:]])

    # Read within the second updated_at has, the first answer vouches for nothing: the newest commit is asked once
    # more (the same one: nothing listed); the answer read then, an hour after its updated_at, vouches.
    assert counts == [["repo", "commits"], ["repo"]]
    assert parse_datetime(record(store, "busy")["last_updated"]) == NOW - timedelta(seconds=30)


def test_a_rewritten_history_is_counted_again_from_scratch(setup, forges):
    url = "https://codeberg.org/someone/django-thing"
    config, store = setup(package("thing", url))
    project(forges, url)
    run(config, store, forges)
    # A force-push: "today" and "w51" are gone, "x" sits on the merge instead.
    forges.reset(url, "m")
    forges.commit(url, MIDNIGHT + timedelta(hours=2), author=EVE, sha="x")
    sent = len(forges.requests("codeberg.org"))

    run(config, store, forges)

    urls = [entry.url for entry in forges.requests("codeberg.org")[sent:]]
    assert any("not=today" in url for url in urls)  # the new commits were asked first...
    assert any("limit=50" in url and "not=" not in url for url in urls)  # ...then the whole history again
    got = record(store, "thing")
    assert got["commits_over_52"] == [1] + [0] * 49 + [1, 1]  # w0 | w50 | f1 (w51 is gone)
    assert "Carol Unlinked" not in got["participants"] and "eve" in got["participants"]


# -- moved, missing -------------------------------------------------------------------------


def test_a_moved_gitlab_project_stores_its_new_url(setup, forges):
    config, store = setup(package("p", "https://gitlab.com/old-group/proj"))
    forges.move("old-group/proj", project(forges, "https://gitlab.com/old-group/proj"), "New-Group/sub/proj")

    run(config, store, forges)

    assert record(store, "p")["repo_url"] == "https://gitlab.com/New-Group/sub/proj"
    # GitLab answered the old path by the project's id: the move was confirmed by asking the new path once...
    confirmed = [entry for entry in forges.requests("gitlab.com", "repo") if "New-Group" in entry.url]
    assert [entry.status for entry in confirmed] == [200]
    forges.clear_log()
    run(config, store, forges, clock=NOW + timedelta(days=1))
    # ...and from then on it is asked there, conditionally: its answers were kept under the new path.
    asked_again = forges.requests("gitlab.com", "repo")
    assert [(entry.status, entry.conditional) for entry in asked_again] == [(304, True)]
    assert "New-Group%2Fsub%2Fproj" in asked_again[0].url


def test_a_renamed_forgejo_repository_is_followed_and_its_new_url_stored(setup, forges):
    config, store = setup(package("p", "https://codeberg.org/someone/old-name"))
    forges.move("someone/old-name", project(forges, "https://codeberg.org/someone/old-name"), "Someone/new-name")

    report = run(config, store, forges)

    assert report.exit_code == 0, report.failures
    assert record(store, "p")["repo_url"] == "https://codeberg.org/Someone/new-name"
    # Only the metadata went through the redirect: the rest is asked under the new name.
    paths = [entry.url.removeprefix("https://codeberg.org") for entry in forges.requests("codeberg.org")]
    assert sum(path.startswith("/api/v1/repos/someone/old-name") for path in paths) == 1


@pytest.mark.parametrize("host", ["gitlab.com", "codeberg.org", "bitbucket.org"])
def test_a_missing_project_fails_its_package_keeping_the_old_values(setup, forges, host):
    # The host is there; no repository a/b is.
    config, store = setup(package("p", f"https://{host}/a/b", **OLD))
    before = record(store, "p")

    report = run(config, store, forges)

    assert report.exit_code == 1 and "not found" in report.failures[0][1]
    assert [entry.status for entry in forges.requests(host)] == [404]
    after = record(store, "p")
    assert {k: after[k] for k in OLD} == {k: before[k] for k in OLD}
    assert store.reads.fetch_state("p")["consecutive_failures"] == 1


# -- tokens, and one host failing ---------------------------------------------------------------


def test_each_token_goes_to_its_own_host_only(setup, forges, monkeypatch):
    tokens = {"GITLAB_TOKEN": "glpat-gitlab-com-secret", "CODEBERG_TOKEN": "codeberg-secret-0001",
              "BITBUCKET_TOKEN": "bitbucket-secret-0001", "EXAMPLE_GITLAB_TOKEN": "glpat-example-secret"}
    for name, value in tokens.items():
        monkeypatch.setenv(name, value)
    # Each host accepts its own token only: another host's would be answered 401.
    hosts = {"gitlab.com": "GITLAB_TOKEN", "codeberg.org": "CODEBERG_TOKEN", "bitbucket.org": "BITBUCKET_TOKEN",
             "gitlab.example.org": "EXAMPLE_GITLAB_TOKEN"}
    for host, name in hosts.items():
        forges.hosts[host].token = tokens[name]
    forges.hosts["git.example.org"].token = "a-token-no-one-was-given"
    config, store = setup(*five_hosts(forges))

    report = run(config, store, forges)

    assert report.exit_code == 0, report.failures
    expected = {"gl": "Bearer glpat-gitlab-com-secret", "sgl": "Bearer glpat-example-secret",
                "cb": "token codeberg-secret-0001", "sfj": None, "bb": "Bearer bitbucket-secret-0001"}
    for slug in FIVE:
        assert {entry.credential for entry in asked(forges, slug)} == {expected[slug]}, slug


def test_a_next_link_off_the_api_origin_is_refused_and_gets_no_token(setup, forges, monkeypatch):
    monkeypatch.setenv("BITBUCKET_TOKEN", "bitbucket-secret-0001")
    url = "https://bitbucket.org/a/b"
    project(forges, url)
    forges.push(url, 150, when=MIDNIGHT + timedelta(hours=2))  # more than one page
    forges.misdirect_next(url, "https://evil.example.com/steal?page=2")
    config, store = setup(package("p", url, **OLD))

    report = run(config, store, forges)

    assert [entry for entry in forges.log if entry.host != "bitbucket.org"] == []  # nothing asked elsewhere
    assert report.exit_code == 1 and "points outside the API" in report.failures[0][1]
    assert "bitbucket-secret-0001" not in report.summary() + report.failures[0][1]


def test_a_host_rejecting_its_token_fails_its_packages_and_every_other_host_goes_on(setup, forges, monkeypatch):
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-revoked-secret")
    forges.hosts["gitlab.com"].token = "glpat-the-current-one"  # the token fetcher has is no longer it
    project(forges, "https://gitlab.com/a/b")
    project(forges, "https://codeberg.org/someone/cb")
    config, store = setup(package("gl", "https://gitlab.com/a/b", **OLD),
                          package("cb", "https://codeberg.org/someone/cb"))

    report = run(config, store, forges)

    assert report.exit_code == 1 and report.stopped is None
    assert report.outcomes[FAILED] == 1 and report.outcomes[SYNCED] == 1
    assert report.failures[0][0] == "gl" and "gitlab.com rejected the token (401)" in report.failures[0][1]
    assert "glpat-revoked-secret" not in report.failures[0][1]
    assert {entry.status for entry in forges.requests("gitlab.com")} == {401}
    assert record(store, "gl")["repo_forks"] == OLD["repo_forks"]


def test_gitlab_ratelimit_headers_pause_gitlab_alone(setup, forges):
    forges.throttle("gitlab.com", until=NOW + timedelta(hours=2))
    for url in ("https://gitlab.com/a/one", "https://gitlab.com/a/two", "https://codeberg.org/someone/cb"):
        project(forges, url, **({"id": 2} if url.endswith("two") else {}))
    config, store = setup(package("gl1", "https://gitlab.com/a/one", **OLD), package("gl2", "https://gitlab.com/a/two"),
                          package("cb", "https://codeberg.org/someone/cb"))

    report = run(config, store, forges)

    limited = forges.requests("gitlab.com")
    assert [entry.status for entry in limited] == [429]  # the second GitLab package is not asked at all
    # Beyond sync.max_rate_limit_wait: GitLab's packages are left due for the next run, none failed.
    assert report.outcomes[FAILED] == 0 and report.outcomes[SYNCED] == 1 and report.stopped is None
    assert report.exit_code == 75
    assert "2 left due for the next run: gitlab.com rate limit until 2026-11-22 14:00:00 UTC" in report.summary()
    assert store.reads.fetch_state("gl1") is None  # never failed: no failure, no rest


def test_a_last_counted_commit_the_host_no_longer_knows_means_counting_again(setup, forges):
    url = "https://gitlab.com/a/b"
    config, store = setup(package("p", url))
    project(forges, url)
    run(config, store, forges)
    # A force-push, and the old commits were garbage-collected: asking from them answers 404.
    forges.reset(url, "m")
    forges.commit(url, MIDNIGHT + timedelta(hours=2), author=EVE, sha="x")
    assert sorted(forges.prune(url)) == ["today", "w51"]
    sent = len(forges.requests("gitlab.com"))

    report = run(config, store, forges)

    assert report.exit_code == 0, report.failures
    ranges = [entry for entry in forges.requests("gitlab.com")[sent:] if "today..x" in entry.url]
    assert [entry.status for entry in ranges] == [404]
    assert record(store, "p")["commits_over_52"] == [1] + [0] * 49 + [1, 1]


def test_a_forge_token_echoed_in_an_answer_is_scrubbed_from_the_failure_and_the_store(setup, forges, monkeypatch):
    monkeypatch.setenv("CODEBERG_TOKEN", "codeberg-secret-echoed")
    project(forges, "https://codeberg.org/a/b")
    forges.refuse("https://codeberg.org/a/b", 400, "bad {authorization}")  # "bad token codeberg-secret-echoed"
    config, store = setup(package("p", "https://codeberg.org/a/b", **OLD))

    report = run(config, store, forges)

    assert report.exit_code == 1
    assert "codeberg-secret-echoed" not in report.failures[0][1] and "***" in report.failures[0][1]
    assert "codeberg-secret-echoed" not in store.reads.fetch_state("p")["last_error"]


def test_a_bad_hosts_table_is_exit_2_naming_the_key(run_cli, config_file):
    config = config_file('[hosts."git.example.org"]\nkind = "svn"\napi_url = "https://git.example.org/api"\n')

    result = run_cli(config, "sync")

    assert result.exit_code == 2
    assert 'hosts."git.example.org".kind must be one of gitlab, forgejo, bitbucket' in result.output


def test_an_unreachable_host_leaves_its_packages_due_at_once_and_the_others_go_on(setup, forges):
    forges.take_down("gitlab.example.org")
    project(forges, "https://codeberg.org/someone/cb")
    config, store = setup(*[package(f"sgl{i}", f"https://gitlab.example.org/a/p{i}", **OLD) for i in range(6)],
                          package("cb", "https://codeberg.org/someone/cb"), extra="[sync]\nconcurrency = 1\n")
    before = {i: store.reads.fetch_state(f"sgl{i}") for i in range(6)}

    report = run(config, store, forges)

    assert report.stopped is None and report.outcomes[SYNCED] == 1 and report.outcomes[FAILED] == 0
    assert report.exit_code == 75  # a re-run later does what this one could not
    assert ("6 left due for the next run: gitlab.example.org unreachable: cannot connect: connection refused"
            in report.summary())
    assert {i: store.reads.fetch_state(f"sgl{i}") for i in range(6)} == before  # no failure, no rest earned
    # One package's tries (1 + 4 retries) reached for the host, not six packages' worth.
    tries = forges.requests("gitlab.example.org")
    assert {entry.status for entry in tries} == {0} and len(tries) < 2 * 5


def test_forge_tokens_show_nowhere_even_verbose(run_cli, config_file, respx_mock, forges, monkeypatch, tmp_path):
    secrets = {"GITLAB_TOKEN": "glpat-verbose-secret-1", "EXAMPLE_GITLAB_TOKEN": "glpat-verbose-secret-2"}
    config = config_file(HOSTS)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([package("gl", "https://gitlab.com/a/b"),
                                   package("sgl", "https://gitlab.example.org/c/d")]))
    assert run_cli(config, "import", str(catalog)).exit_code == 0
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    # Errors whose messages carry the request's headers, were anything to print them.
    forges.take_down("gitlab.com", "refused (Authorization: {authorization})")
    project(forges, "https://gitlab.example.org/c/d")
    forges.refuse("https://gitlab.example.org/c/d", 400, "token {authorization} is malformed")
    respx_mock.route().mock(side_effect=ForgeTransport(forges).handle)

    result = run_cli(config, "--verbose", "sync")

    assert result.exit_code == 75  # gitlab.com left due: a re-run later asks it again
    assert "left due for the next run: gitlab.com unreachable: cannot connect: refused (Authorization: Bearer ***)" \
        in result.stdout
    assert "HTTP Request: GET" in result.stderr
    assert [entry.credential for entry in forges.requests("gitlab.example.org")] == [
        "Bearer glpat-verbose-secret-2"]  # the refusal quoted it
    for value in secrets.values():
        assert value not in result.output
        assert value not in "\n".join(sqlite3.connect(tmp_path / "test.db").iterdump())


def test_check_probes_each_forge_the_config_names_or_has_a_token_for(run_cli, config_file, respx_mock, forges,
                                                                     monkeypatch):
    reset = int((NOW + timedelta(hours=1)).timestamp())
    respx_mock.get("https://api.github.com/rate_limit").respond(
        json={"resources": {"core": {"limit": 60, "remaining": 60, "reset": reset}}})
    respx_mock.get("https://pypi.org/pypi/pip/json").respond(json={"info": {"version": "25.0"}})
    monkeypatch.setenv("EXAMPLE_GITLAB_TOKEN", "glpat-check-secret-1")
    monkeypatch.setenv("BITBUCKET_TOKEN", "bitbucket-check-secret")
    forges.hosts["gitlab.example.org"].token = "glpat-another-one"  # the token set is rejected
    forges.hosts["git.example.org"].version = "9.0.3+gitea-1.22.0"
    forges.hosts["bitbucket.org"].token = "bitbucket-check-secret"  # the token set is accepted
    respx_mock.route().mock(side_effect=ForgeTransport(forges).handle)  # the forges: the stand-in's

    result = run_cli(config_file(HOSTS), "check")

    lines = result.stdout.splitlines()
    assert result.exit_code == 2  # a rejected token is the person's to fix
    assert f"✗ gitlab.example.org (gitlab) {SELF_GITLAB}: the token in EXAMPLE_GITLAB_TOKEN was rejected (401)" in lines
    assert f"✓ git.example.org (forgejo) {SELF_FORGEJO}: answers; no token" in lines
    # An access token is no user's, and no Bitbucket package is in the catalogue to try it on
    # (tests/hosts/forges/test_bitbucket_credentials.py tries them).
    assert (f"✓ bitbucket.org (bitbucket) {BITBUCKET}: answers; the token in BITBUCKET_TOKEN (Bearer) is accepted, "
            "not as a user's (403 for GET /user), and there is no Bitbucket package in the catalogue to try it on"
            ) in lines
    assert not any("gitlab.com" in line or "codeberg.org" in line for line in lines)  # named nowhere, no token
    probes = {entry.host: entry for entry in forges.log}
    assert set(probes) == {"gitlab.example.org", "git.example.org", "bitbucket.org"}  # nothing else was asked
    assert (probes["gitlab.example.org"].url, probes["gitlab.example.org"].status) == (
        f"{SELF_GITLAB}/projects?per_page=1", 401)
    assert probes["gitlab.example.org"].credential == "Bearer glpat-check-secret-1"
    assert (probes["git.example.org"].url, probes["git.example.org"].credential) == (f"{SELF_FORGEJO}/version", None)
    assert (probes["bitbucket.org"].url, probes["bitbucket.org"].status) == (f"{BITBUCKET}/user", 403)
    assert probes["bitbucket.org"].credential == "Bearer bitbucket-check-secret"
    assert "glpat-check-secret-1" not in result.output


def test_a_forge_token_with_whitespace_stops_sync_with_exit_2_naming_the_variable(run_cli, config_file, monkeypatch,
                                                                                 tmp_path):
    config = config_file(HOSTS)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([package("gl", "https://gitlab.com/a/b")]))
    assert run_cli(config, "import", str(catalog)).exit_code == 0
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-with-newline\n")

    result = run_cli(config, "sync")

    assert result.exit_code == 2
    assert "$GITLAB_TOKEN holds whitespace or control characters" in result.output
    assert "glpat-with-newline" not in result.output


def test_an_archived_gitlab_project_is_a_fact_beside_its_record(setup, forges):
    config, store = setup(package("p", "https://gitlab.com/a/b"))
    project(forges, "https://gitlab.com/a/b", archived=True)

    run(config, store, forges)

    facts = store.reads.facts(store.reads.record("p")["id"])
    assert facts["archived"] and facts["archived_at"]  # GitLab does not say since when: since fetcher saw it


def test_commit_count_is_forgejos_total_bitbuckets_paged_history_and_gitlabs_sequence(setup, forges):
    config, store = setup(*five_hosts(forges))
    run(config, store, forges)
    cold = {slug: store.reads.facts(store.reads.record(slug)["id"])["commit_count"] for slug in FIVE}
    push_two(forges)
    sent = {slug: len(asked(forges, slug)) for slug in FIVE}

    run(config, store, forges, clock=NOW + timedelta(days=1))

    pushed = {slug: store.reads.facts(store.reads.record(slug)["id"])["commit_count"] for slug in FIVE}
    # Eight commits reach `today` (the feature branch's through the merge): Forgejo's X-Total-Count says so in the
    # newest-commit answer, Bitbucket's history paging counts them, then adds the two new ones; GitLab (whose
    # commits list sends no total, and of which only the window is paged) asks the head's sequence.
    assert cold == {"gl": 8, "sgl": 8, "cb": 8, "sfj": 8, "bb": 8}
    assert pushed == {"gl": 10, "sgl": 10, "cb": 10, "sfj": 10, "bb": 10}
    # Cold, GitLab asked its head's sequence once; after the push the two new commits listed were added to the kept
    # count (Forgejo's came with the newest commit): no request more on any host.
    sequences = [entry.url for entry in asked(forges, "gl") if entry.resource == "sequence"]
    assert sequences == [f"{GITLAB}/projects/6812925/repository/commits/today/sequence"]
    assert {slug: len(asked(forges, slug)) - sent[slug] for slug in FIVE} == {
        "gl": 4, "sgl": 4, "cb": 3, "sfj": 3, "bb": 5}


def test_a_gitlab_older_than_the_sequence_endpoint_leaves_the_commit_count_unknown(setup, forges):
    forges.hosts["gitlab.com"].version = "16.8.2"  # the commit sequence came with 16.9
    config, store = setup(package("p", "https://gitlab.com/a/b"))
    project(forges, "https://gitlab.com/a/b")

    report = run(config, store, forges)

    assert report.exit_code == 0, report.failures
    assert [entry.status for entry in forges.requests("gitlab.com", "sequence")] == [404]
    assert store.reads.facts(store.reads.record("p")["id"])["commit_count"] is None
    assert record(store, "p")["commits_over_52"] == EXPECTED_WEEKS


def test_a_forgejo_total_that_is_no_count_fails_its_package_keeping_its_facts(setup, forges):
    url = "https://codeberg.org/someone/django-thing"
    config, store = setup(package("thing", url, **OLD))
    project(forges, url)
    run(config, store, forges)
    forges.commit(url, MIDNIGHT + timedelta(hours=2), sha="n1")
    forges.misreport_total(url, "-3")  # the newest-commit answer's X-Total-Count is no count

    report = run(config, store, forges, clock=NOW + timedelta(days=1))

    assert report.exit_code == 1 and "X-Total-Count '-3' is not a commit count" in str(report.failures)
    assert store.reads.facts(store.reads.record("thing")["id"])["commit_count"] == 8


def test_a_forges_answers_are_read_by_the_forges_own_rules_never_githubs(setup, forges):
    # What GitHub means by a 403 "too large to list contributors" or a 400 about the API version is GitHub's:
    # from GitLab they are GitLab's refusals of one package, named as GitLab's.
    project(forges, "https://gitlab.com/a/large")
    forges.refuse("https://gitlab.com/a/large", 403,
                  "The history or contributor list is too large to list contributors for this repository")
    project(forges, "https://gitlab.com/a/version", id=2)
    forges.refuse("https://gitlab.com/a/version", 400, "400 Bad request - this API version is no longer supported")
    config, store = setup(package("large", "https://gitlab.com/a/large", **OLD),
                          package("version", "https://gitlab.com/a/version", **OLD))

    report = run(config, store, forges)

    assert report.exit_code == 1 and report.stopped is None and report.outcomes[FAILED] == 2
    reasons = dict(report.failures)
    assert reasons["large"].startswith("gitlab.com answered HTTP 403: The history or contributor list is too large")
    assert reasons["version"].startswith("gitlab.com answered HTTP 400: 400 Bad request")
    assert not any("GitHub" in reason for reason in reasons.values())
    assert record(store, "large")["repo_forks"] == OLD["repo_forks"]
