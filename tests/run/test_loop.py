"""How a sync behaves against GitHub's and PyPI's answers, good and bad (respx, no network)."""

import asyncio
import logging
import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from fetcher.config import DEFAULTS, load
from fetcher.hosts.github.host import SPARKLINE_PENDING
from fetcher.run import loop
from fetcher.run.report import FAILED, SKIPPED, SYNCED
from fetcher.record import to_stored_datetime, validate
from fetcher.store import open_store
from fetcher.store.shape import shape
from tests.conftest import API, PYPI, GitHubRepo, pypi_body, pypi_route, recorded, response_from, simple_route, BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def package(slug="pkg", repo="owner/pkg", pypi="pkg", **fields) -> dict:
    return {
        "slug": slug,
        "title": slug,
        "repo_url": repo if not repo or repo.startswith(("http", "git@")) else f"https://github.com/{repo}",
        "pypi_url": f"https://pypi.org/project/{pypi}/" if pypi else "",
        "created": "2020-01-01T00:00:00+00:00",
        "modified": "2020-01-01T00:00:00+00:00",
        **fields,
    }


OLD = dict(
    repo_forks=7,
    repo_watchers=70,
    repo_description="as it was",
    pypi_version="0.9",
    participants=["old-timer"],
    commits_over_52=[1] * 52,
    last_updated="2024-05-05T05:05:05+00:00",
    last_fetched="2025-01-01T00:00:00+00:00",
)


class Sleeps:
    """An asyncio.sleep stand-in that records how long fetcher meant to wait."""

    def __init__(self):
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def setup(tmp_path, config_file, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)

    def make(*records, extra="", github=""):
        config = load(str(config_file(extra, github=github)))
        store = open_store(config.store)
        store.catalogue.import_records([validate(r, "test") for r in records], NOW)
        return config, store

    return make


def run(config, store, sleeps=None, clock=None):
    packages = store.schedule.due(None, None)
    return loop.run(store, packages, config, "sync", sleep=sleeps or Sleeps(), clock=clock or (lambda: NOW))


def stored(store, slug="pkg") -> dict:
    # As the store reads it (lists as lists), its date-times as it keeps them.
    return {k: to_stored_datetime(v) if isinstance(v, datetime) else v for k, v in store.reads.record(slug).items()}


async def written(store, slug: str) -> None:
    """Until the package's record is written (a fixed wait was too short on a loaded machine), or 1,000 turns."""
    for _ in range(1000):
        if stored(store, slug)["repo_forks"]:
            return
        await asyncio.sleep(0.01)


@respx.mock(assert_all_mocked=True)
def test_a_package_is_fetched_and_every_field_written(setup, respx_mock):
    config, store = setup(package())
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=3, stars=30, description=None,
                    contributors=["a", "dependabot[bot]", "b"], newest_commit="2026-11-01T10:00:00Z")
    pypi_route(respx_mock, "pkg", "2.0.1")

    report = run(config, store)

    row = stored(store)
    assert (row["repo_forks"], row["repo_watchers"], row["repo_description"]) == (3, 30, "")
    assert row["participants"] == ["a", "dependabot[bot]", "b"]
    assert row["commits_over_52"] == gh.weeks
    assert row["last_updated"] == "2026-11-01T10:00:00.000000+00:00"
    assert row["pypi_version"] == "2.0.1"
    assert row["last_fetched"] == row["modified"] == "2026-11-22T12:00:00.000000+00:00"
    assert row["repo_url"] == "https://github.com/owner/pkg"
    assert (report.outcomes[SYNCED], report.requests, report.exit_code) == (1, 6, 0)  # 4 GitHub, 2 PyPI
    assert store.reads.fetch_state("pkg")["consecutive_failures"] == 0


@respx.mock
def test_participation_202_is_asked_again_until_ready(setup, respx_mock):
    config, store = setup(package(**OLD))
    gh = GitHubRepo(respx_mock, "owner/pkg", weeks=[2] * 52)
    pypi_route(respx_mock, "pkg", "1.0")
    pending = response_from(recorded("api_github_com_repos_django_deps"), status=202, body={})
    gh.participation.side_effect = [pending, pending, gh.participation.return_value]
    sleeps = Sleeps()

    report = run(config, store, sleeps)

    assert gh.participation.call_count == 3
    assert stored(store)["commits_over_52"] == [2] * 52
    assert len(sleeps.delays) == 2 and report.pending == 0


@respx.mock
def test_participation_still_202_keeps_the_old_sparkline_and_updates_the_rest(setup, respx_mock):
    config, store = setup(package(**OLD), extra="")
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=99, weeks=[2] * 52)
    pypi_route(respx_mock, "pkg", "1.0")
    gh.participation.mock(return_value=response_from(recorded("api_github_com_repos_django_deps"), status=202, body={}))
    sleeps = Sleeps()

    report = run(config, store, sleeps)

    row = stored(store)
    assert gh.participation.call_count == 1 + config.retries == 5  # four more asks
    assert row["commits_over_52"] == [1] * 52  # kept
    assert row["repo_forks"] == 99 and row["pypi_version"] == "1.0"
    assert row["last_fetched"] == "2026-11-22T12:00:00.000000+00:00"
    assert report.pending == 1 and report.exit_code == 0
    assert "1 sparkline still computing on GitHub, kept" in report.summary()
    assert store.reads.fetch_state("pkg")["note"] == SPARKLINE_PENDING


def test_participation_retries_span_about_fifteen_seconds_by_default():
    waits = [sync_policy_delay(attempt) for attempt in range(1, 5)]
    assert 15 <= sum(waits) <= 15 * 1.25


def sync_policy_delay(attempt):
    from fetcher.net.retry import backoff_delay

    return backoff_delay(attempt, DEFAULTS["http"]["backoff"][0])


@respx.mock
def test_contributors_are_read_from_every_page_in_order(setup, respx_mock):
    config, store = setup(package())
    gh = GitHubRepo(respx_mock, "owner/pkg", contributors=["p1a", "p1b"])
    pypi_route(respx_mock, "pkg", "1.0")
    page = recorded("api_github_com_repos_django_deps_contributors_per_page_100")
    from tests.conftest import contributor_objects

    link = '<{api}/repositories/1/contributors?per_page=100&page={n}>; rel="next", <{api}/repositories/1/contributors?per_page=100&page=3>; rel="last"'
    gh.contributors.mock(
        return_value=response_from(page, body=contributor_objects(["p1a", "p1b"]), headers={"Link": link.format(api=API, n=2)})
    )
    respx_mock.get(f"{API}/repositories/1/contributors", params={"page": "2"}).mock(
        return_value=response_from(page, body=contributor_objects(["p2a", "p1b"]), headers={"Link": link.format(api=API, n=3)})
    )
    respx_mock.get(f"{API}/repositories/1/contributors", params={"page": "3"}).mock(
        return_value=response_from(page, body=contributor_objects(["p3a"]), headers={"Link": ""})
    )

    run(config, store)

    assert stored(store)["participants"] == ["p1a", "p1b", "p2a", "p3a"]


@respx.mock
def test_a_renamed_repository_is_followed_and_its_new_url_stored(setup, respx_mock):
    config, store = setup(package(repo="old-owner/old-name"))
    respx_mock.get(f"{API}/repos/old-owner/old-name").mock(
        return_value=httpx.Response(
            301,
            headers={"Location": f"{API}/repositories/42"},
            json={"message": "Moved Permanently", "url": f"{API}/repositories/42"},
        )
    )
    gh = GitHubRepo(respx_mock, "New-Owner/New-Name", forks=5)
    respx_mock.get(f"{API}/repositories/42").mock(return_value=gh.repo.return_value)
    pypi_route(respx_mock, "pkg", "1.0")

    report = run(config, store)

    row = stored(store)
    assert row["repo_url"] == "https://github.com/New-Owner/New-Name"
    assert row["repo_forks"] == 5
    assert gh.contributors.called and gh.commits.called and gh.participation.called
    assert report.requests == 7  # the redirect hop counts, and PyPI is asked twice (version, status)


@respx.mock
def test_same_repo_in_another_form_keeps_the_url_as_written(setup, respx_mock):
    config, store = setup(package(repo="git@github.com:Owner/Pkg.git"))
    GitHubRepo(respx_mock, "Owner/Pkg")
    pypi_route(respx_mock, "pkg", "1.0")

    run(config, store)

    assert stored(store)["repo_url"] == "git@github.com:Owner/Pkg.git"


@pytest.mark.parametrize("status", [404, 451])
@respx.mock
def test_a_missing_repository_fails_its_package_and_keeps_every_value(setup, respx_mock, status):
    config, store = setup(package(**OLD), package("fine", repo="o/fine", pypi="fine"))
    missing = recorded("api_github_com_repos_djangopackages_does_not_exist")
    respx_mock.get(f"{API}/repos/owner/pkg").mock(return_value=response_from(missing, status=status))
    pypi_route(respx_mock, "pkg", "5.0")
    GitHubRepo(respx_mock, "o/fine")
    pypi_route(respx_mock, "fine", "1.0")
    before = stored(store)

    report = run(config, store)
    run(config, store)

    assert stored(store) == before
    state = store.reads.fetch_state("pkg")
    assert state["consecutive_failures"] == 2
    assert state["last_error"].startswith(("not found", "blocked (451)"))
    assert f"{API}/repos/owner/pkg" in state["last_error"]
    assert report.outcomes[FAILED] == 1 and report.outcomes[SYNCED] == 1
    assert report.exit_code == 1
    assert report.failures == [("pkg", state["last_error"])]


@respx.mock
def test_success_after_failures_resets_the_error(setup, respx_mock):
    config, store = setup(package())
    gh = GitHubRepo(respx_mock, "owner/pkg")
    pypi_route(respx_mock, "pkg", "1.0")
    ok = gh.repo.return_value
    gh.repo.side_effect = [httpx.Response(404, json={"message": "Not Found"}), ok]

    run(config, store)
    assert store.reads.fetch_state("pkg")["consecutive_failures"] == 1
    run(config, store)

    state = store.reads.fetch_state("pkg")
    assert (state["consecutive_failures"], state["last_error"], state["last_error_at"]) == (0, None, None)


@respx.mock
def test_server_errors_are_retried_with_backoff(setup, respx_mock):
    config, store = setup(package())
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=12)
    pypi_route(respx_mock, "pkg", "1.0")
    gh.repo.side_effect = [httpx.Response(502), httpx.Response(503), gh.repo.return_value]
    sleeps = Sleeps()

    report = run(config, store, sleeps)

    assert gh.repo.call_count == 3
    assert stored(store)["repo_forks"] == 12
    assert report.exit_code == 0
    assert len(sleeps.delays) == 2
    assert report.retries == 2 and "(0 not modified, 2 retries)" in report.summary()


@respx.mock
def test_timeouts_and_resets_are_retried(setup, respx_mock):
    config, store = setup(package())
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=12)
    pypi_route(respx_mock, "pkg", "1.0")
    gh.repo.side_effect = [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("peer closed"), gh.repo.return_value]

    report = run(config, store)

    assert stored(store)["repo_forks"] == 12 and report.exit_code == 0


@respx.mock
def test_a_server_error_that_persists_fails_the_package_untouched(setup, respx_mock):
    config, store = setup(package(**OLD))
    gh = GitHubRepo(respx_mock, "owner/pkg")
    pypi_route(respx_mock, "pkg", "1.0")
    gh.contributors.mock(return_value=httpx.Response(500))
    before = stored(store)

    report = run(config, store)

    assert gh.contributors.call_count == 1 + config.retries
    assert stored(store) == before  # not even pypi_version moved: all or nothing
    assert "server error 500" in store.reads.fetch_state("pkg")["last_error"]
    assert report.exit_code == 1


@respx.mock
def test_malformed_json_fails_the_package_and_keeps_the_values(setup, respx_mock):
    config, store = setup(package(**OLD))
    gh = GitHubRepo(respx_mock, "owner/pkg")
    pypi_route(respx_mock, "pkg", "1.0")
    gh.repo.mock(return_value=httpx.Response(200, content=b'{"forks_count": 3, "watch'))
    before = stored(store)

    report = run(config, store)

    assert stored(store) == before
    assert store.reads.fetch_state("pkg")["last_error"].startswith("invalid JSON in the answer")
    assert report.outcomes[FAILED] == 1


@respx.mock
def test_an_answer_of_the_wrong_shape_fails_the_package(setup, respx_mock):
    config, store = setup(package(**OLD))
    gh = GitHubRepo(respx_mock, "owner/pkg")
    pypi_route(respx_mock, "pkg", "1.0")
    gh.participation.mock(return_value=httpx.Response(200, json={"all": [1, 2, 3]}))
    before = stored(store)

    run(config, store)

    assert stored(store) == before
    assert "52 weekly counts" in store.reads.fetch_state("pkg")["last_error"]


@respx.mock
def test_an_empty_repository_syncs_to_empty_values(setup, respx_mock):
    config, store = setup(package(**OLD))
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=0, stars=0)
    pypi_route(respx_mock, "pkg", "1.0")
    gh.contributors.mock(return_value=httpx.Response(204))
    gh.participation.mock(return_value=httpx.Response(204))
    gh.commits.mock(return_value=httpx.Response(409, json={"message": "Git Repository is empty."}))

    report = run(config, store)

    row = stored(store)
    assert (row["participants"], row["commits_over_52"], row["last_updated"]) == ([], [], None)
    assert report.outcomes[SYNCED] == 1 and report.exit_code == 0


@respx.mock(assert_all_mocked=True)
def test_another_host_is_skipped_for_repo_stats_but_pypi_is_fetched(setup, respx_mock):
    config, store = setup(package(repo="https://git.example.org/group/pkg", **OLD))
    pypi_route(respx_mock, "pkg", "3.1")

    report = run(config, store)

    row = stored(store)
    assert row["pypi_version"] == "3.1" and row["repo_forks"] == 7
    assert report.outcomes[SKIPPED] == 1 and report.exit_code == 0
    assert "1 skipped (1 unsupported host)" in report.summary()
    assert store.reads.fetch_state("pkg")["note"] == "repository not asked: unsupported host"
    assert all("pypi" in str(call.request.url) for call in respx_mock.calls)


@respx.mock
def test_pypi_404_fails_the_package_and_keeps_the_github_values_too(setup, respx_mock):
    config, store = setup(package(**OLD))
    GitHubRepo(respx_mock, "owner/pkg", forks=1000)
    respx_mock.get(f"{PYPI}/pypi/pkg/json").mock(return_value=httpx.Response(404, json={"message": "Not Found"}))
    respx_mock.get(f"{PYPI}/simple/pkg/").mock(return_value=httpx.Response(404, text="404 Not Found"))
    before = stored(store)

    report = run(config, store)

    assert stored(store) == before
    assert store.reads.fetch_state("pkg")["last_error"] == f"not found ({PYPI}/pypi/pkg/json)"
    assert report.exit_code == 1


@respx.mock(assert_all_mocked=True)
def test_a_quarantined_project_keeps_its_version_and_facts_stores_its_status_and_does_not_fail(
        setup, respx_mock, caplog):
    # PyPI (warehouse) hides a quarantined project from its JSON API (404) while the index still names it.
    config, store = setup(package(**OLD))
    GitHubRepo(respx_mock, "owner/pkg", forks=1000)
    json_api = respx_mock.get(f"{PYPI}/pypi/pkg/json").mock(
        return_value=httpx.Response(404, json={"message": "Not Found"}))
    index = simple_route(respx_mock, "pkg", status="quarantined")

    with caplog.at_level(logging.INFO, logger="fetcher.run.loop"):
        report = run(config, store)

    row = stored(store)
    assert (row["repo_forks"], row["pypi_version"]) == (1000, "0.9")  # GitHub's written; the last version stands
    state = store.reads.fetch_state("pkg")
    assert (state["consecutive_failures"], state["last_error"]) == (0, None)
    assert state["note"] == "PyPI version and facts kept: the project is quarantined on PyPI"
    assert store.reads.facts(row["id"])["pypi_status"] == "quarantined"
    assert (report.outcomes[SYNCED], report.outcomes[FAILED], report.exit_code) == (1, 0, 0)
    assert (json_api.call_count, index.call_count) == (1, 1)  # the two requests it always makes, no more
    assert "pkg: synced (PyPI version and facts kept: the project is quarantined on PyPI)" in caplog.messages


@pytest.mark.parametrize("status", ["active", "archived", "deprecated"])
@respx.mock(assert_all_mocked=True)
def test_a_json_api_404_the_index_status_does_not_explain_fails_the_package(setup, respx_mock, status):
    # Archived and deprecated projects are served by PyPI's JSON API as any other: its 404 is a real not-found.
    config, store = setup(package(**OLD))
    GitHubRepo(respx_mock, "owner/pkg")
    respx_mock.get(f"{PYPI}/pypi/pkg/json").mock(return_value=httpx.Response(404, json={"message": "Not Found"}))
    simple_route(respx_mock, "pkg", status=status)
    before = stored(store)

    report = run(config, store)

    assert stored(store) == before
    assert store.reads.fetch_state("pkg")["last_error"] == f"not found ({PYPI}/pypi/pkg/json)"
    assert report.exit_code == 1


@respx.mock(assert_all_mocked=True)
def test_an_index_404_fails_the_package_even_when_the_json_api_answers(setup, respx_mock):
    config, store = setup(package(**OLD))
    GitHubRepo(respx_mock, "owner/pkg")
    respx_mock.get(f"{PYPI}/pypi/pkg/json").mock(return_value=httpx.Response(200, json=pypi_body("django-minify-html")))
    respx_mock.get(f"{PYPI}/simple/pkg/").mock(return_value=httpx.Response(404, text="404 Not Found"))
    before = stored(store)

    report = run(config, store)

    assert stored(store) == before
    assert store.reads.fetch_state("pkg")["last_error"] == f"not found ({PYPI}/simple/pkg/)"
    assert report.exit_code == 1


@respx.mock(assert_all_mocked=True)
def test_pypi_names_are_normalized_before_asking(setup, respx_mock):
    config, store = setup(package(repo="", pypi="Django_Minify.HTML"))
    route = pypi_route(respx_mock, "django-minify-html", "1.0.0")

    run(config, store)

    assert route.call_count == 1 and stored(store)["pypi_version"] == "1.0.0"


@respx.mock
def test_a_primary_rate_limit_that_resets_soon_is_waited_for(setup, respx_mock):
    config, store = setup(package())
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=4)
    pypi_route(respx_mock, "pkg", "1.0")
    reset = int((NOW + timedelta(minutes=5)).timestamp())
    exhausted = httpx.Response(
        403,
        headers={"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        json={"message": "API rate limit exceeded for user ID 1."},
    )
    gh.repo.side_effect = [exhausted, gh.repo.return_value]
    sleeps = Sleeps()

    report = run(config, store, sleeps)

    assert stored(store)["repo_forks"] == 4 and report.exit_code == 0
    assert 300 <= sleeps.delays[0] <= 302  # until the reset, plus a second of slack
    assert (report.requests, report.points) == (7, 4)  # the refused request cost nothing; 2 of 7 are PyPI


@pytest.mark.parametrize("status", [403, 429])
@respx.mock
def test_a_secondary_rate_limit_honours_retry_after(setup, respx_mock, status):
    config, store = setup(package())
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=4)
    pypi_route(respx_mock, "pkg", "1.0")
    limited = httpx.Response(
        status, headers={"Retry-After": "30"}, json={"message": "You have exceeded a secondary rate limit."}
    )
    gh.contributors.side_effect = [limited, gh.contributors.return_value]
    sleeps = Sleeps()

    report = run(config, store, sleeps)

    assert report.exit_code == 0 and gh.contributors.call_count == 2
    assert 30 <= sleeps.delays[0] <= 32


@respx.mock
def test_a_rate_limit_beyond_the_allowed_wait_stops_the_run_keeping_what_was_done(setup, respx_mock):
    first = package("aaa", repo="o/aaa", pypi="aaa", last_fetched="2024-01-01T00:00:00+00:00")
    second = package("bbb", repo="o/bbb", pypi="bbb", last_fetched="2025-01-01T00:00:00+00:00", **{
        k: v for k, v in OLD.items() if k != "last_fetched"})
    config, store = setup(first, second)
    GitHubRepo(respx_mock, "o/aaa", forks=11)
    pypi_route(respx_mock, "aaa", "1.0")
    reset = int((NOW + timedelta(hours=1)).timestamp())
    gh_b = GitHubRepo(respx_mock, "o/bbb")

    async def exhausted_once_aaa_is_done(request):
        await written(store, "aaa")
        return httpx.Response(
            403,
            headers={"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
            json={"message": "API rate limit exceeded"},
        )

    gh_b.repo.mock(side_effect=exhausted_once_aaa_is_done)
    pypi_route(respx_mock, "bbb", "1.0")
    before = stored(store, "bbb")
    sleeps = Sleeps()

    report = run(config, store, sleeps)

    assert report.exit_code == 75
    assert stored(store, "aaa")["repo_forks"] == 11
    assert stored(store, "bbb") == before
    assert store.reads.fetch_state("bbb") is None  # not the package's fault: nothing recorded on it
    assert sleeps.delays == []
    assert "beyond sync.max_rate_limit_wait (15m)" in report.stopped
    assert store.db.execute("SELECT stopped FROM sync_run").fetchone()[0] == report.stopped


@respx.mock
def test_no_connection_at_all_stops_the_run_as_network_down(setup, respx_mock):
    config, store = setup(package(**OLD), package("two", repo="o/two", pypi="two"))
    respx_mock.route().mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    before = stored(store)

    report = run(config, store)

    assert report.exit_code == 75
    assert report.stopped.startswith("https://api.github.com:443 has not answered in this run (network down? wrong URL?): cannot connect")
    assert stored(store) == before and store.reads.fetch_state("pkg") is None


@respx.mock
def test_token_is_sent_to_github_only_and_never_stored(setup, respx_mock, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_SECRET123")
    config, store = setup(package(), github="graphql = false")
    GitHubRepo(respx_mock, "owner/pkg")
    pypi_route(respx_mock, "pkg", "1.0")

    run(config, store)

    for call in respx_mock.calls:
        headers = call.request.headers
        assert headers["User-Agent"].startswith("fetcher/")
        if "pypi" in str(call.request.url):
            assert "Authorization" not in headers
        else:
            assert headers["Authorization"] == "Bearer ghp_SECRET123"
            assert headers["Accept"] == "application/vnd.github+json"
            assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    dump = "\n".join(str(row) for table in shape().tables for row in store.db.rows(f"SELECT * FROM {table}"))
    assert "SECRET123" not in dump


@respx.mock
def test_no_token_sends_no_authorization(setup, respx_mock):
    config, store = setup(package())
    GitHubRepo(respx_mock, "owner/pkg")
    pypi_route(respx_mock, "pkg", "1.0")

    run(config, store)

    assert not any("Authorization" in call.request.headers for call in respx_mock.calls)


@respx.mock
def test_a_rejected_token_stops_the_run(setup, respx_mock, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "expired")
    config, store = setup(package(**OLD), github="graphql = false")
    respx_mock.get(f"{API}/repos/owner/pkg").mock(return_value=httpx.Response(401, json={"message": "Bad credentials"}))
    pypi_route(respx_mock, "pkg", "1.0")

    from fetcher.errors import TokenRejected

    with pytest.raises(TokenRejected):
        run(config, store)
    assert store.reads.fetch_state("pkg") is None


@respx.mock
def test_requests_in_flight_never_exceed_the_concurrency(setup, respx_mock):
    records = [package(f"p{i}", repo=f"o/p{i}", pypi="") for i in range(12)]
    config, store = setup(*records, extra="\n[sync]\nconcurrency = 3\n")
    in_flight, peak = 0, 0

    async def answer(request):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        path = request.url.path
        if path.endswith("/contributors"):
            return httpx.Response(200, json=[])
        if path.endswith("/participation"):
            return httpx.Response(200, json={"all": [0] * 52, "owner": [0] * 52})
        if path.endswith("/commits"):
            return httpx.Response(409, json={"message": "Git Repository is empty."})
        name = path.split("/")[-1]
        from tests.conftest import repo_body

        return httpx.Response(200, json=repo_body(f"o/{name}", forks=1, stars=1, description=""))

    respx_mock.route(host="api.github.com").mock(side_effect=answer)

    report = run(config, store)

    assert report.outcomes[SYNCED] == 12
    assert peak == 3


@respx.mock
def test_a_token_rejected_mid_run_keeps_the_packages_already_written(setup, respx_mock, monkeypatch):
    from fetcher.errors import TokenRejected

    monkeypatch.setenv("GITHUB_TOKEN", "expired-meanwhile")
    config, store = setup(package("aaa", repo="o/aaa", pypi="aaa"), package("bbb", repo="o/bbb", pypi="bbb", **OLD),
                          github="graphql = false")
    GitHubRepo(respx_mock, "o/aaa", forks=11)
    pypi_route(respx_mock, "aaa", "1.0")
    pypi_route(respx_mock, "bbb", "1.0")
    before = stored(store, "bbb")

    async def rejected_once_aaa_is_done(request):
        await written(store, "aaa")
        return httpx.Response(401, json={"message": "Bad credentials"})

    respx_mock.get(f"{API}/repos/o/bbb").mock(side_effect=rejected_once_aaa_is_done)

    with pytest.raises(TokenRejected):
        run(config, store)

    assert stored(store, "aaa")["repo_forks"] == 11
    assert stored(store, "bbb") == before
    assert store.reads.fetch_state("bbb") is None


def test_a_run_that_stops_ends_even_where_a_fetch_took_the_cancellation_for_a_failure(setup, monkeypatch):
    # The run's group cancels every worker when one package stops the run. Here every other fetch swallows that
    # cancellation and fails its package instead, as a library below might: the worker must still stop, not go
    # on to a next package, or to wait forever for one the stopped producer never puts.
    from fetcher.errors import RateLimited, Transient

    asked = []

    async def fetch(item, *args):
        asked.append(item.slug)
        if item.slug == "pkg000":
            await asyncio.sleep(0)
            raise RateLimited("https://api.github.com/x", NOW + timedelta(days=1), secondary=False, ends_run=True)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise Transient("https://api.github.com/x", "cancelled, and taken for a failure") from None

    monkeypatch.setattr(loop, "fetch", fetch)
    outcome = {}

    def sync():  # in a thread, so that a run that never ends fails the test rather than hanging it
        config, store = setup(*(package(f"pkg{i:03}", repo=f"o/pkg{i:03}", pypi=f"pkg{i:03}") for i in range(200)),
                              extra="\n[sync]\nconcurrency = 2\n")
        outcome["report"] = run(config, store)

    syncing = threading.Thread(target=sync, daemon=True)
    syncing.start()
    syncing.join(60)

    assert not syncing.is_alive(), "the run never ended"
    report = outcome["report"]
    assert report.stopped.startswith("GitHub rate limit exhausted until")
    assert len(asked) == 8  # the first 8 the 8 workers took, and no more
