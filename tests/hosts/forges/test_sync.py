"""GitLab, Forgejo and Bitbucket through a whole sync (respx fakes built from recorded answers, no network)."""

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from fetcher.config import load
from fetcher.run import loop
from fetcher.run.report import FAILED, SYNCED, UNCHANGED
from fetcher.record import parse_datetime, validate
from fetcher.store import open_store
from tests.conftest import no_sleep
from tests.hosts.forges.fakes import FakeBitbucket, FakeForgejo, FakeGitLab, Graph

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
OLD = dict(repo_forks=7, repo_watchers=70, repo_description="as it was", participants=["old-timer"],
           commits_over_52=[1] * 52, last_updated="2024-05-05T05:05:05+00:00")
TOKENS = ("GITHUB_TOKEN", "GITLAB_TOKEN", "CODEBERG_TOKEN", "BITBUCKET_TOKEN", "EXAMPLE_GITLAB_TOKEN")


def package(slug: str, repo_url: str, **fields) -> dict:
    return {"slug": slug, "title": slug, "repo_url": repo_url, "pypi_url": "",
            "created": "2020-01-01T00:00:00+00:00", "modified": "2020-01-01T00:00:00+00:00", **fields}


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


def run(config, store, clock=NOW):
    return loop.run(store, store.schedule.due(None, None), config, "sync", sleep=no_sleep, clock=lambda: clock)


def record(store, slug: str) -> dict:
    row = store.reads.record(slug)
    return {k: json.loads(v) if k in ("participants", "commits_over_52", "grids") else v for k, v in row.items()}


def history() -> Graph:
    """A history on both sides of the window edges, with a merge and authors with and without accounts."""
    graph = Graph()
    start = MIDNIGHT - timedelta(days=364)
    graph.linear("old", [start - timedelta(days=30), start - timedelta(seconds=1)], login=None, name="Ann Cient")
    graph.commit("w0", (graph.heads["main"],), start, login="alice", name="Alice A")  # window 0's first second
    graph.commit("w50", ("w0",), MIDNIGHT - timedelta(days=7, seconds=1), login="bob", name="Bob B")  # last of 50
    graph.commit("f1", ("w0",), MIDNIGHT - timedelta(days=6), branch="feature", login="alice", name="Alice A")
    graph.commit("m", ("w50", "f1"), MIDNIGHT - timedelta(days=3), login="bob", name="Bob B")  # a merge: not counted
    graph.commit("w51", ("m",), MIDNIGHT - timedelta(seconds=1), login=None, name="Carol Unlinked")
    graph.commit("today", ("w51",), MIDNIGHT + timedelta(hours=1), login="alice", name="Alice A")  # no window yet
    return graph


EXPECTED_WEEKS = [1] + [0] * 49 + [1, 2]  # w0 | w50 | f1 and w51 (the merge and today's commit in none)


# -- each field on each host ----------------------------------------------------------------


@respx.mock(assert_all_mocked=True)
def test_gitlab_nested_group_project_gives_every_field(setup, respx_mock):
    path = "lansharkconsulting/django/django-encrypted-model-fields"
    config, store = setup(package("enc", f"https://gitlab.com/{path}/-/tree/develop", **OLD))
    gitlab = FakeGitLab(respx_mock, GITLAB, path, history(), stars=33, forks=25, description=None,
                        contributors=["Scott Sharkey", "Dana Spiegel", "Scott Sharkey", "ghalebkhaled"])

    report = run(config, store)

    got = record(store, "enc")
    assert report.exit_code == 0, report.failures
    assert (got["repo_watchers"], got["repo_forks"], got["repo_description"]) == (33, 25, "")
    assert got["participants"] == ["Scott Sharkey", "Dana Spiegel", "ghalebkhaled"]  # names, duplicates dropped
    assert got["commits_over_52"] == EXPECTED_WEEKS
    assert parse_datetime(got["last_updated"]) == MIDNIGHT + timedelta(hours=1)
    assert got["repo_url"] == f"https://gitlab.com/{path}/-/tree/develop"  # not moved: kept as written
    # The whole nested path, URL-encoded, is the project; then its numeric id.
    encoded = "lansharkconsulting%2Fdjango%2Fdjango-encrypted-model-fields"
    assert str(gitlab.requests[0].url) == f"{GITLAB}/projects/{encoded}"
    commits = [r for r in gitlab.requests if "/repository/commits" in str(r.url) and "per_page=100" in str(r.url)]
    assert commits and all("since=2025-11-23T00:00:00Z" in str(r.url) for r in commits)
    contributors = [r for r in gitlab.requests if "/contributors" in str(r.url)]
    assert "order_by=commits&sort=desc" in str(contributors[0].url)


@respx.mock(assert_all_mocked=True)
def test_forgejo_gives_stars_not_watchers_and_participants_from_the_history(setup, respx_mock):
    config, store = setup(package("thing", "https://codeberg.org/someone/django-thing", **OLD))
    FakeForgejo(respx_mock, CODEBERG, "someone/django-thing", history(), stars=21, forks=4, watchers=7)

    report = run(config, store)

    got = record(store, "thing")
    assert report.exit_code == 0, report.failures
    assert (got["repo_watchers"], got["repo_forks"], got["repo_description"]) == (21, 4, "A Django app.")
    assert got["commits_over_52"] == EXPECTED_WEEKS
    assert parse_datetime(got["last_updated"]) == MIDNIGHT + timedelta(hours=1)
    # alice 3, bob 2, then one commit each, by name: login where linked, else the author's name.
    assert got["participants"] == ["alice", "Ann Cient", "bob", "Carol Unlinked"]


@respx.mock(assert_all_mocked=True)
def test_bitbucket_gives_watchers_as_stars_forks_and_nicknames_else_raw_names(setup, respx_mock):
    config, store = setup(package("mssql", "https://bitbucket.org/Manfre/django-mssql", **OLD))
    FakeBitbucket(respx_mock, BITBUCKET, "Manfre/django-mssql", history(), watchers=16, forks=37)

    report = run(config, store)

    got = record(store, "mssql")
    assert report.exit_code == 0, report.failures
    assert (got["repo_watchers"], got["repo_forks"], got["repo_description"]) == (16, 37, "A backend.")
    assert got["commits_over_52"] == EXPECTED_WEEKS
    assert parse_datetime(got["last_updated"]) == MIDNIGHT + timedelta(hours=1)
    assert got["participants"] == ["alice", "Ann Cient", "bob", "Carol Unlinked"]


# -- warm and incremental syncs ---------------------------------------------------------------


def five_hosts(respx_mock):
    graphs = {name: history() for name in ("gl", "sgl", "cb", "sfj", "bb")}
    fakes = {
        "gl": FakeGitLab(respx_mock, GITLAB, "group/sub/gl", graphs["gl"]),
        "sgl": FakeGitLab(respx_mock, SELF_GITLAB, "team/sgl", graphs["sgl"], project_id=7),
        "cb": FakeForgejo(respx_mock, CODEBERG, "someone/cb", graphs["cb"]),
        "sfj": FakeForgejo(respx_mock, SELF_FORGEJO, "someone/sfj", graphs["sfj"]),
        "bb": FakeBitbucket(respx_mock, BITBUCKET, "someone/bb", graphs["bb"]),
    }
    records = [
        package("gl", "https://gitlab.com/group/sub/gl"), package("sgl", "https://gitlab.example.org/team/sgl"),
        package("cb", "https://codeberg.org/someone/cb"), package("sfj", "https://git.example.org/someone/sfj"),
        package("bb", "https://bitbucket.org/someone/bb"),
    ]
    return graphs, fakes, records


# Resources read per repository when nothing changed: metadata and newest commit (Bitbucket: and watchers, forks).
RESOURCES_WARM = {"gl": 2, "sgl": 2, "cb": 2, "sfj": 2, "bb": 4}


@respx.mock(assert_all_mocked=True)
def test_a_warm_sync_of_unchanged_repositories_sends_only_conditional_requests(setup, respx_mock):
    graphs, fakes, records = five_hosts(respx_mock)
    config, store = setup(*records)
    run(config, store)
    before = {slug: record(store, slug) for slug in fakes}
    sent = {slug: len(fake.requests) for slug, fake in fakes.items()}
    # Cold: metadata, newest commit, one page of commits; GitLab its commit count and contributors, Bitbucket its
    # watchers and forks.
    assert sent == {"gl": 5, "sgl": 5, "cb": 3, "sfj": 3, "bb": 5}

    report = run(config, store, clock=NOW + timedelta(hours=1))

    for slug, fake in fakes.items():
        warm = fake.requests[sent[slug]:]
        assert len(warm) == RESOURCES_WARM[slug], (slug, [str(r.url) for r in warm])
        assert all("if-none-match" in r.headers for r in warm), slug
        assert len({str(r.url) for r in warm}) == len(warm)  # at most one per resource
        after = record(store, slug)
        assert {k: v for k, v in after.items() if k != "last_fetched"} == \
            {k: v for k, v in before[slug].items() if k != "last_fetched"}
    assert report.outcomes[UNCHANGED] == 5 and report.not_modified == sum(RESOURCES_WARM.values())
    by_host = "(bitbucket.org 4, codeberg.org 2, git.example.org 2, gitlab.com 2, gitlab.example.org 2)"
    assert by_host in report.summary()


@respx.mock(assert_all_mocked=True)
def test_after_new_commits_only_the_new_ones_are_asked(setup, respx_mock):
    graphs, fakes, records = five_hosts(respx_mock)
    config, store = setup(*records)
    run(config, store)
    for graph in graphs.values():
        graph.commit("n1", ("today",), MIDNIGHT + timedelta(hours=2), login="dave", name="Dave D")
        graph.commit("n2", ("n1",), MIDNIGHT + timedelta(hours=3), login="dave", name="Dave D")
    sent = {slug: len(fake.requests) for slug, fake in fakes.items()}

    later = NOW + timedelta(days=1)  # today's commits enter window 51
    report = run(config, store, clock=later)

    assert report.exit_code == 0, report.failures
    for slug, fake in fakes.items():
        new = [str(r.url) for r in fake.requests[sent[slug]:]]
        listing = [url for url in new if "/commits" in url.split("?")[0] and any(
            size in url for size in ("per_page=100", "limit=50", "pagelen=100"))]
        assert len(listing) == 1, (slug, new)  # one page: just the two new commits
        assert ("n1" in listing[0]) is False
        assert any(marker in listing[0] for marker in ("today..main", "not=today", "exclude=today")), listing
        got = record(store, slug)
        assert parse_datetime(got["last_updated"]) == MIDNIGHT + timedelta(hours=3)
        # A day later the windows moved on: w0 fell out, f1 joined window 51 with w51, today, n1 and n2.
        assert got["commits_over_52"] == [0] * 50 + [1, 5]
        if slug in ("cb", "sfj", "bb"):
            # dave's two new commits added to the kept counts: alice 3, then 2 each by name, then Carol's 1
            assert got["participants"] == ["alice", "Ann Cient", "bob", "dave", "Carol Unlinked"]
    expected_requests = {"gl": 4, "sgl": 4, "cb": 3, "sfj": 3, "bb": 5}  # GitLab re-reads its contributors too
    assert {slug: len(f.requests) - sent[slug] for slug, f in fakes.items()} == expected_requests


@respx.mock(assert_all_mocked=True)
def test_a_rewritten_history_is_counted_again_from_scratch(setup, respx_mock):
    graph = history()
    config, store = setup(package("thing", "https://codeberg.org/someone/django-thing"))
    fake = FakeForgejo(respx_mock, CODEBERG, "someone/django-thing", graph)
    run(config, store)
    # A force-push: "today" and "w51" are gone, "x" sits on the merge instead.
    graph.commit("x", ("m",), MIDNIGHT + timedelta(hours=2), login="eve", name="Eve E")
    sent = len(fake.requests)

    run(config, store)

    asked = [str(r.url) for r in fake.requests[sent:]]
    assert any("not=today" in url for url in asked)  # the new commits were asked first...
    assert any("limit=50" in url and "not=" not in url for url in asked)  # ...then the whole history again
    got = record(store, "thing")
    assert got["commits_over_52"] == [1] + [0] * 49 + [1, 1]  # w0 | w50 | f1 (w51 is gone)
    assert "Carol Unlinked" not in got["participants"] and "eve" in got["participants"]


# -- moved, missing -------------------------------------------------------------------------


@respx.mock(assert_all_mocked=True)
def test_a_moved_gitlab_project_stores_its_new_url(setup, respx_mock):
    config, store = setup(package("p", "https://gitlab.com/old-group/proj"))
    FakeGitLab(respx_mock, GITLAB, "old-group/proj", history(), moved_to="New-Group/sub/proj")

    run(config, store)

    assert record(store, "p")["repo_url"] == "https://gitlab.com/New-Group/sub/proj"


@respx.mock(assert_all_mocked=True)
def test_a_renamed_forgejo_repository_is_followed_and_its_new_url_stored(setup, respx_mock):
    config, store = setup(package("p", "https://codeberg.org/someone/old-name"))
    fake = FakeForgejo(respx_mock, CODEBERG, "Someone/new-name", history(), renamed_from="someone/old-name")

    report = run(config, store)

    assert report.exit_code == 0, report.failures
    assert record(store, "p")["repo_url"] == "https://codeberg.org/Someone/new-name"
    # Only the metadata went through the redirect: the rest is asked under the new name.
    assert sum(r.url.path.startswith("/api/v1/repos/someone/old-name") for r in fake.requests) == 1


@pytest.mark.parametrize("host", ["gitlab", "forgejo", "bitbucket"])
@respx.mock(assert_all_mocked=True)
def test_a_missing_project_fails_its_package_keeping_the_old_values(setup, respx_mock, host):
    url, fake = {
        "gitlab": ("https://gitlab.com/a/b", lambda: FakeGitLab(respx_mock, GITLAB, "a/b", history(), missing=True)),
        "forgejo": ("https://codeberg.org/a/b", lambda: FakeForgejo(respx_mock, CODEBERG, "a/b", history(),
                                                                    missing=True)),
        "bitbucket": ("https://bitbucket.org/a/b", lambda: FakeBitbucket(respx_mock, BITBUCKET, "a/b", history(),
                                                                         missing=True)),
    }[host]
    fake()
    config, store = setup(package("p", url, **OLD))
    before = record(store, "p")

    report = run(config, store)

    assert report.exit_code == 1 and "not found" in report.failures[0][1]
    after = record(store, "p")
    assert {k: after[k] for k in OLD} == {k: before[k] for k in OLD}
    assert store.reads.fetch_state("p")["consecutive_failures"] == 1


# -- tokens, and one host failing ---------------------------------------------------------------


@respx.mock(assert_all_mocked=True)
def test_each_token_goes_to_its_own_host_only(setup, respx_mock, monkeypatch):
    tokens = {"GITLAB_TOKEN": "glpat-gitlab-com-secret", "CODEBERG_TOKEN": "codeberg-secret-0001",
              "BITBUCKET_TOKEN": "bitbucket-secret-0001", "EXAMPLE_GITLAB_TOKEN": "glpat-example-secret"}
    for name, value in tokens.items():
        monkeypatch.setenv(name, value)
    graphs, fakes, records = five_hosts(respx_mock)
    config, store = setup(*records)

    report = run(config, store)

    assert report.exit_code == 0, report.failures
    expected = {"gl": "Bearer glpat-gitlab-com-secret", "sgl": "Bearer glpat-example-secret",
                "cb": "token codeberg-secret-0001", "sfj": None, "bb": "Bearer bitbucket-secret-0001"}
    for slug, fake in fakes.items():
        assert {r.headers.get("authorization") for r in fake.requests} == {expected[slug]}, slug


@respx.mock(assert_all_mocked=True, assert_all_called=False)
def test_a_next_link_off_the_api_origin_is_refused_and_gets_no_token(setup, respx_mock, monkeypatch):
    monkeypatch.setenv("BITBUCKET_TOKEN", "bitbucket-secret-0001")
    graph = history()
    graph.linear("more", [MIDNIGHT - timedelta(days=d) for d in range(150, 0, -1)])  # more than one page
    elsewhere = respx_mock.get(url__regex=r"^https://evil\.example\.com/").mock(return_value=None)
    FakeBitbucket(respx_mock, BITBUCKET, "a/b", graph, next_elsewhere="https://evil.example.com/steal?page=2")
    config, store = setup(package("p", "https://bitbucket.org/a/b", **OLD))

    report = run(config, store)

    assert not elsewhere.called
    assert report.exit_code == 1 and "points outside the API" in report.failures[0][1]
    assert "bitbucket-secret-0001" not in report.summary() + report.failures[0][1]


@respx.mock(assert_all_mocked=True)
def test_a_host_rejecting_its_token_fails_its_packages_and_every_other_host_goes_on(setup, respx_mock, monkeypatch):
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-revoked-secret")
    respx_mock.get(url__regex=rf"^{GITLAB}/").respond(401, json={"message": "401 Unauthorized"})
    FakeForgejo(respx_mock, CODEBERG, "someone/cb", history())
    config, store = setup(package("gl", "https://gitlab.com/a/b", **OLD),
                          package("cb", "https://codeberg.org/someone/cb"))

    report = run(config, store)

    assert report.exit_code == 1 and report.stopped is None
    assert report.outcomes[FAILED] == 1 and report.outcomes[SYNCED] == 1
    assert report.failures[0][0] == "gl" and "gitlab.com rejected the token (401)" in report.failures[0][1]
    assert "glpat-revoked-secret" not in report.failures[0][1]
    assert record(store, "gl")["repo_forks"] == OLD["repo_forks"]


@respx.mock(assert_all_mocked=True)
def test_gitlab_ratelimit_headers_pause_gitlab_alone(setup, respx_mock):
    reset = int((NOW + timedelta(hours=2)).timestamp())
    limited = respx_mock.get(url__regex=rf"^{GITLAB}/").respond(
        429, json={"message": "Retry later"},
        headers={"RateLimit-Limit": "600", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)})
    FakeForgejo(respx_mock, CODEBERG, "someone/cb", history())
    config, store = setup(package("gl1", "https://gitlab.com/a/one", **OLD), package("gl2", "https://gitlab.com/a/two"),
                          package("cb", "https://codeberg.org/someone/cb"))

    report = run(config, store)

    assert limited.call_count == 1  # the second GitLab package waits for the reset instead of asking
    assert report.outcomes[FAILED] == 2 and report.outcomes[SYNCED] == 1 and report.stopped is None
    assert all("gitlab.com rate limit until" in reason for _, reason in report.failures)


@respx.mock(assert_all_mocked=True)
def test_a_last_counted_commit_the_host_no_longer_knows_means_counting_again(setup, respx_mock):
    graph = history()
    config, store = setup(package("p", "https://gitlab.com/a/b"))
    fake = FakeGitLab(respx_mock, GITLAB, "a/b", graph)
    run(config, store)
    # A force-push, and the old commits were garbage-collected: asking from them answers 404.
    del graph.nodes["today"], graph.nodes["w51"]
    graph.commit("x", ("m",), MIDNIGHT + timedelta(hours=2), login="eve", name="Eve E")
    original = fake.handle
    fake.handle = lambda request, path, params: (
        httpx.Response(404, json={"message": "404 Commit Not Found"}) if ".." in params.get("ref_name", "")
        else original(request, path, params))

    report = run(config, store)

    assert report.exit_code == 0, report.failures
    assert record(store, "p")["commits_over_52"] == [1] + [0] * 49 + [1, 1]


@respx.mock(assert_all_mocked=True)
def test_a_forge_token_echoed_in_an_answer_is_scrubbed_from_the_failure_and_the_store(setup, respx_mock, monkeypatch):
    monkeypatch.setenv("CODEBERG_TOKEN", "codeberg-secret-echoed")
    respx_mock.get(url__regex=rf"^{CODEBERG}/").respond(400, json={"message": "bad token codeberg-secret-echoed"})
    config, store = setup(package("p", "https://codeberg.org/a/b", **OLD))

    report = run(config, store)

    assert report.exit_code == 1
    assert "codeberg-secret-echoed" not in report.failures[0][1] and "***" in report.failures[0][1]
    assert "codeberg-secret-echoed" not in store.reads.fetch_state("p")["last_error"]


def test_a_bad_hosts_table_is_exit_2_naming_the_key(run_cli, config_file):
    config = config_file('[hosts."git.example.org"]\nkind = "svn"\napi_url = "https://git.example.org/api"\n')

    result = run_cli(config, "sync")

    assert result.exit_code == 2
    assert 'hosts."git.example.org".kind must be one of gitlab, forgejo, bitbucket' in result.output


@respx.mock(assert_all_mocked=True)
def test_an_unreachable_host_fails_its_packages_at_once_and_the_others_go_on(setup, respx_mock):
    down = respx_mock.get(url__regex=rf"^{SELF_GITLAB}/").mock(side_effect=httpx.ConnectError("connection refused"))
    FakeForgejo(respx_mock, CODEBERG, "someone/cb", history())
    config, store = setup(*[package(f"sgl{i}", f"https://gitlab.example.org/a/p{i}", **OLD) for i in range(6)],
                          package("cb", "https://codeberg.org/someone/cb"), extra="[sync]\nconcurrency = 1\n")

    report = run(config, store)

    assert report.stopped is None and report.outcomes[SYNCED] == 1 and report.outcomes[FAILED] == 6
    assert all("gitlab.example.org unreachable" in reason for _, reason in report.failures)
    # One package's tries (1 + 4 retries) reached the host, not six packages' worth.
    assert down.call_count < 2 * 5


@respx.mock(assert_all_mocked=True)
def test_forge_tokens_show_nowhere_even_verbose(run_cli, config_file, respx_mock, monkeypatch, tmp_path):
    secrets = {"GITLAB_TOKEN": "glpat-verbose-secret-1", "EXAMPLE_GITLAB_TOKEN": "glpat-verbose-secret-2"}
    config = config_file(HOSTS)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([package("gl", "https://gitlab.com/a/b"),
                                   package("sgl", "https://gitlab.example.org/c/d")]))
    assert run_cli(config, "import", str(catalog)).exit_code == 0
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    # Errors whose messages carry the request's headers, were anything to print them.
    respx_mock.get(url__regex=rf"^{GITLAB}/").mock(
        side_effect=httpx.ConnectError("refused (Authorization: Bearer glpat-verbose-secret-1)"))
    respx_mock.get(url__regex=rf"^{SELF_GITLAB}/").respond(
        400, json={"message": "token glpat-verbose-secret-2 is malformed"})

    result = run_cli(config, "--verbose", "sync")

    assert result.exit_code == 1
    assert "failed gl: gitlab.com unreachable: cannot connect: refused (Authorization: Bearer ***)" in result.stderr
    assert "HTTP Request: GET" in result.stderr
    for value in secrets.values():
        assert value not in result.output
        assert value not in "\n".join(sqlite3.connect(tmp_path / "test.db").iterdump())


@respx.mock(assert_all_mocked=True)
def test_check_probes_each_forge_the_config_names_or_has_a_token_for(run_cli, config_file, respx_mock, monkeypatch):
    reset = int((NOW + timedelta(hours=1)).timestamp())
    respx_mock.get("https://api.github.com/rate_limit").respond(
        json={"resources": {"core": {"limit": 60, "remaining": 60, "reset": reset}}})
    respx_mock.get("https://pypi.org/pypi/pip/json").respond(json={"info": {"version": "25.0"}})
    monkeypatch.setenv("EXAMPLE_GITLAB_TOKEN", "glpat-check-secret-1")
    monkeypatch.setenv("BITBUCKET_TOKEN", "bitbucket-check-secret")
    gitlab = respx_mock.get(f"{SELF_GITLAB}/projects", params={"per_page": "1"}).respond(401, json={"message": "401"})
    forgejo = respx_mock.get(f"{SELF_FORGEJO}/version").respond(json={"version": "9.0.3"})
    bitbucket = respx_mock.get(f"{BITBUCKET}/repositories", params={"pagelen": "1"}).respond(json={"values": []})

    result = run_cli(config_file(HOSTS), "check")

    lines = result.stdout.splitlines()
    assert result.exit_code == 2  # a rejected token is the person's to fix
    assert f"✗ gitlab.example.org (gitlab) {SELF_GITLAB}: the token in EXAMPLE_GITLAB_TOKEN was rejected (401)" in lines
    assert f"✓ git.example.org (forgejo) {SELF_FORGEJO}: answers; no token" in lines
    assert f"✓ bitbucket.org (bitbucket) {BITBUCKET}: answers; token from BITBUCKET_TOKEN accepted" in lines
    assert not any("gitlab.com" in line or "codeberg.org" in line for line in lines)  # named nowhere, no token
    assert gitlab.calls[0].request.headers["authorization"] == "Bearer glpat-check-secret-1"
    assert "authorization" not in forgejo.calls[0].request.headers
    assert bitbucket.calls[0].request.headers["authorization"] == "Bearer bitbucket-check-secret"
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


@respx.mock(assert_all_mocked=True)
def test_an_archived_gitlab_project_is_a_fact_beside_its_record(setup, respx_mock):
    config, store = setup(package("p", "https://gitlab.com/a/b"))
    FakeGitLab(respx_mock, GITLAB, "a/b", history(), archived=True)

    run(config, store)

    facts = store.reads.facts(store.reads.record("p")["id"])
    assert facts["archived"] and facts["archived_at"]  # GitLab does not say since when: since fetcher saw it


@respx.mock(assert_all_mocked=True)
def test_commit_count_is_forgejos_total_bitbuckets_paged_history_and_gitlabs_sequence(setup, respx_mock):
    graphs, fakes, records = five_hosts(respx_mock)
    config, store = setup(*records)
    run(config, store)
    cold = {slug: store.reads.facts(store.reads.record(slug)["id"])["commit_count"] for slug in fakes}
    for graph in graphs.values():
        graph.commit("n1", ("today",), MIDNIGHT + timedelta(hours=2), login="dave", name="Dave D")
        graph.commit("n2", ("n1",), MIDNIGHT + timedelta(hours=3), login="dave", name="Dave D")
    sent = {slug: len(fake.requests) for slug, fake in fakes.items()}

    run(config, store, clock=NOW + timedelta(days=1))

    pushed = {slug: store.reads.facts(store.reads.record(slug)["id"])["commit_count"] for slug in fakes}
    # Eight commits reach `today` (the feature branch's through the merge): Forgejo's X-Total-Count says so in the
    # newest-commit answer, Bitbucket's history paging counts them, then adds the two new ones; GitLab (whose
    # commits list sends no total, and of which only the window is paged) asks the head's sequence.
    assert cold == {"gl": 8, "sgl": 8, "cb": 8, "sfj": 8, "bb": 8}
    assert pushed == {"gl": 10, "sgl": 10, "cb": 10, "sfj": 10, "bb": 10}
    # Cold, GitLab asked its head's sequence once; after the push the two new commits listed were added to the kept
    # count (Forgejo's came with the newest commit): no request more on any host.
    sequences = [r.url.path for r in fakes["gl"].requests if r.url.path.endswith("/sequence")]
    assert sequences == ["/api/v4/projects/6812925/repository/commits/today/sequence"]
    assert {slug: len(f.requests) - sent[slug] for slug, f in fakes.items()} == {
        "gl": 4, "sgl": 4, "cb": 3, "sfj": 3, "bb": 5}


@respx.mock(assert_all_mocked=True)
def test_a_gitlab_older_than_the_sequence_endpoint_leaves_the_commit_count_unknown(setup, respx_mock):
    config, store = setup(package("p", "https://gitlab.com/a/b"))
    FakeGitLab(respx_mock, GITLAB, "a/b", history(), sequence=False)

    report = run(config, store)

    assert report.exit_code == 0, report.failures
    assert store.reads.facts(store.reads.record("p")["id"])["commit_count"] is None
    assert record(store, "p")["commits_over_52"] == EXPECTED_WEEKS


class LyingForgejo(FakeForgejo):
    """Forgejo whose newest-commit answer carries an X-Total-Count that is no count, once told to."""

    lie: str | None = None

    def handle(self, request, path, params):
        answer = super().handle(request, path, params)
        if self.lie is not None and params.get("limit") == "1":
            answer.headers["X-Total-Count"] = self.lie
        return answer


@respx.mock(assert_all_mocked=True)
def test_a_forgejo_total_that_is_no_count_fails_its_package_keeping_its_facts(setup, respx_mock):
    config, store = setup(package("thing", "https://codeberg.org/someone/django-thing", **OLD))
    fake = LyingForgejo(respx_mock, CODEBERG, "someone/django-thing", history())
    run(config, store)
    fake.graph.commit("n1", ("today",), MIDNIGHT + timedelta(hours=2))
    fake.lie = "-3"

    report = run(config, store, clock=NOW + timedelta(days=1))

    assert report.exit_code == 1 and "X-Total-Count '-3' is not a commit count" in str(report.failures)
    assert store.reads.facts(store.reads.record("thing")["id"])["commit_count"] == 8


@respx.mock(assert_all_mocked=True)
def test_a_forges_answers_are_read_by_the_forges_own_rules_never_githubs(setup, respx_mock):
    # What GitHub means by a 403 "too large to list contributors" or a 400 about the API version is GitHub's:
    # from GitLab they are GitLab's refusals of one package, named as GitLab's.
    too_large = {"message": "The history or contributor list is too large to list contributors for this repository"}
    respx_mock.get(url__regex=rf"^{GITLAB}/projects/a%2Flarge").respond(403, json=too_large)
    version = {"message": "400 Bad request - this API version is no longer supported"}
    respx_mock.get(url__regex=rf"^{GITLAB}/projects/a%2Fversion").respond(400, json=version)
    config, store = setup(package("large", "https://gitlab.com/a/large", **OLD),
                          package("version", "https://gitlab.com/a/version", **OLD))

    report = run(config, store)

    assert report.exit_code == 1 and report.stopped is None and report.outcomes[FAILED] == 2
    reasons = dict(report.failures)
    assert reasons["large"].startswith("gitlab.com answered HTTP 403: The history or contributor list is too large")
    assert reasons["version"].startswith("gitlab.com answered HTTP 400: 400 Bad request")
    assert not any("GitHub" in reason for reason in reasons.values())
    assert record(store, "large")["repo_forks"] == OLD["repo_forks"]
