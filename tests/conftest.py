"""Shared test helpers: recorded GitHub/PyPI answers turned into respx routes, the other forges' recorded
answers, configs, the CLI."""

import copy
import itertools
import json
import os
import shutil
import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from fetcher.cli import cli
from fetcher.location import PostgresURL
from tests import postgres_server as throwaway

ROOT = Path(__file__).resolve().parent.parent  # the checkout
FIXTURES = Path(__file__).parent / "fixtures"
# The recorded real answers, in the shared checkout beside this one (../shared): its README says what each is.
REAL = ROOT.parent / "shared" / "fixtures" / "real"
API = "https://api.github.com"
PYPI = "https://pypi.org"


class Clock:
    """A clock a test sets: `clock.now = ...` moves it."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def no_sleep(seconds: float) -> None:
    return None


# Headers that describe the recorded transfer, not the answer; httpx sets its own.
_TRANSFER_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


def recorded(name: str) -> dict:
    """A recorded exchange from tests/fixtures/github (method, uri, status, headers, body)."""
    return json.loads((FIXTURES / "github" / f"{name}.json").read_text())


def fixture(kind: str, name: str) -> dict:
    """A recorded exchange of another forge: tests/fixtures/{gitlab,forgejo,bitbucket}/NAME.json."""
    return json.loads((FIXTURES / kind / f"{name}.json").read_text())


def pypi_body(name: str) -> dict:
    return json.loads((FIXTURES / "pypi" / f"pypi-{name}.json").read_text())


def api_record(slug: str) -> dict:
    return json.loads((FIXTURES / f"api-v4-{slug}.json").read_text())


def response_from(exchange: dict, *, status: int | None = None, body=None, headers: dict | None = None) -> httpx.Response:
    """An httpx.Response with a recorded answer's real headers, its body or another."""
    sent = {
        name: ", ".join(value) if isinstance(value, list) else str(value)
        for name, value in exchange["headers"].items()
        if name.lower() not in _TRANSFER_HEADERS
    }
    sent.update(headers or {})
    payload = exchange["body"] if body is None else body
    return httpx.Response(status or exchange["status"], headers=sent, content=json.dumps(payload).encode())


def repo_body(full_name: str, *, forks: int, stars: int, description: str | None) -> dict:
    """The recorded django/deps repository answer, renamed and re-counted."""
    body = copy.deepcopy(recorded("api_github_com_repos_django_deps")["body"])
    owner, name = full_name.split("/")
    body.update(
        name=name,
        full_name=full_name,
        html_url=f"https://github.com/{full_name}",
        url=f"{API}/repos/{full_name}",
        forks_count=forks,
        forks=forks,
        watchers_count=stars,
        watchers=stars,
        stargazers_count=stars,
        description=description,
    )
    body["owner"]["login"] = owner
    return body


def contributor_objects(logins: list[str]) -> list[dict]:
    """Recorded contributor objects with other logins."""
    template = recorded("api_github_com_repos_django_deps_contributors_per_page_100")["body"][0]
    people = []
    for rank, login in enumerate(logins):
        person = copy.deepcopy(template)
        person.update(login=login, contributions=len(logins) - rank, type="Bot" if "[bot]" in login else "User")
        people.append(person)
    return people


def commits_body(newest_committer_date: str) -> list[dict]:
    """The recorded commits page with its newest commit's committer date changed."""
    body = copy.deepcopy(recorded("api_github_com_repos_django_deps_commits_per_page_100")["body"][:1])
    body[0]["commit"]["committer"]["date"] = newest_committer_date
    return body


class GitHubRepo:
    """The four REST resources fetcher reads for one repository, as respx routes."""

    def __init__(self, mock, full_name: str, *, forks=10, stars=20, description="A package.",
                 contributors=("alice", "bob"), weeks=None, newest_commit="2026-02-11T13:53:49Z", api=API):
        self.full_name = full_name
        base = f"{api}/repos/{full_name}"
        repo = recorded("api_github_com_repos_django_deps")
        contributors_page = recorded("api_github_com_repos_django_deps_contributors_per_page_100")
        commits = recorded("api_github_com_repos_django_deps_commits_per_page_100")
        self.weeks = list(weeks) if weeks is not None else [week % 5 for week in range(52)]
        self.repo = mock.get(base).mock(
            return_value=response_from(repo, body=repo_body(full_name, forks=forks, stars=stars, description=description))
        )
        self.contributors = mock.get(f"{base}/contributors", params={"per_page": "100"}).mock(
            return_value=response_from(contributors_page, body=contributor_objects(list(contributors)))
        )
        self.participation = mock.get(f"{base}/stats/participation").mock(
            return_value=response_from(repo, body={"all": self.weeks, "owner": [0] * 52})
        )
        self.commits = mock.get(f"{base}/commits", params={"per_page": "1"}).mock(
            return_value=response_from(commits, body=commits_body(newest_commit), headers={"Link": ""})
        )


def pypi_route(mock, name: str, version: str, *, base=PYPI):
    body = pypi_body("django-minify-html")
    body["info"]["name"] = name
    body["info"]["version"] = version
    simple_route(mock, name, base=base)
    return mock.get(f"{base}/pypi/{name}/json").mock(return_value=httpx.Response(200, json=body))


def simple_body(name: str, status: str | None = None) -> dict:
    """A JSON Index API project page (PEP 691, 700, 792), as PyPI serves it with API version 1.4."""
    body = {"meta": {"api-version": "1.4", "_last-serial": 1}, "name": name, "files": [], "versions": []}
    if status is not None:
        body["project-status"] = {"status": status}
    return body


def simple_route(mock, name: str, *, base=PYPI, status: str | None = None):
    """The project page, 304 to a request that sends back its ETag."""
    etag = f'"simple-{name}"'
    headers = {"Content-Type": "application/vnd.pypi.simple.v1+json", "ETag": etag}

    def answer(request):
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, json=simple_body(name, status), headers=headers)

    return mock.get(f"{base}/simple/{name}/").mock(side_effect=answer)


# The store backends. A module marked `pytestmark = BOTH_BACKENDS` runs each of its tests that uses a store
# (config_file, store_at) on both; the rest of the suite runs on SQLite.
BACKENDS = ("sqlite", "postgresql")
BOTH_BACKENDS = pytest.mark.both_backends
# A test of what only a PostgreSQL store allows (several workers at once: a SQLite store has one run at a time).
POSTGRESQL_ONLY = pytest.mark.postgresql_only


def pytest_configure(config):
    config.addinivalue_line("markers", "both_backends: run the store-using tests on SQLite and on PostgreSQL")
    config.addinivalue_line("markers", "postgresql_only: run the test on PostgreSQL alone (several workers at once)")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("postgresql_only"):
        metafunc.parametrize("backend", ("postgresql",), indirect=True)
    elif metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)
POSTGRES_URL = "FETCHER_TEST_POSTGRES_URL"
_schemas = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    """The URL of a real PostgreSQL database for the tests: $FETCHER_TEST_POSTGRES_URL, else a throwaway cluster
    started for the session where the server's binaries are installed (tests/postgres_server.py); else skipped."""
    url = os.environ.get(POSTGRES_URL)
    if url:
        yield url
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests need psycopg: pip install -e '.[test]'")
    where = throwaway.binaries()
    if where is None:
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_URL}, or install PostgreSQL's server (initdb, pg_ctl)")
    cluster = throwaway.Cluster(where).start()
    os.environ[POSTGRES_URL] = cluster.url  # for the processes tests start, and the CI check
    try:
        yield cluster.url
    finally:
        os.environ.pop(POSTGRES_URL, None)
        cluster.stop()


@pytest.fixture
def backend(request) -> str:
    """The store backend of this test: sqlite unless parametrized (BOTH_BACKENDS)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def store_at(backend, tmp_path, request):
    """Where this test's store is: a SQLite file in tmp_path, or a fresh schema of the PostgreSQL test database
    (dropped at the end), named by a URL whose search_path is that schema."""
    if backend == "sqlite":
        return tmp_path / "test.db"
    import psycopg

    server = request.getfixturevalue("postgres_server")
    schema = f"test_{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    request.addfinalizer(lambda: _drop_schema(server, schema))
    separator = "&" if "?" in server else "?"
    return PostgresURL(f"{server}{separator}options=-csearch_path%3D{schema}")


def _drop_schema(server: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


class RawStore:
    """The test store's database opened behind fetcher's back, `?` parameters on both backends: to look or to meddle.
    As a context manager, what was written is committed at the end, as sqlite3's connection does."""

    def __init__(self, location):
        self.postgres = isinstance(location, PostgresURL)
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(location.url, autocommit=True)
        else:
            self.conn = sqlite3.connect(location, isolation_level=None)

    def execute(self, sql: str, params=()):
        if self.postgres:
            return self.conn.execute(sql.replace("%", "%%").replace("?", "%s"), list(params))
        return self.conn.execute(sql, list(params))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()


def raw_store(where) -> RawStore:
    """RawStore of a store: its location, or a config file naming it."""
    if isinstance(where, Path) and where.suffix == ".toml":
        from fetcher.config import load

        where = load(str(where)).store
    return RawStore(where)


@pytest.fixture
def store_toml(store_at, tmp_path) -> str:
    """The [store] key naming this test's store, for a config in tmp_path."""
    if isinstance(store_at, PostgresURL):
        return f'url = "{store_at.url}"'
    return f'path = "{os.path.relpath(store_at, tmp_path)}"'


@pytest.fixture
def config_file(tmp_path, store_toml):
    """Write a config for a test store; retries without waiting and no pacing, so tests are quick."""
    store = store_toml

    def write(extra: str = "", *, timezone: str = "UTC", github: str = "") -> Path:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[store]\n{store}\n\n[github]\npace = false\n{github}\n[http]\nbackoff = 0\ntimeout = 5\n\n'
            f'[output]\ntimezone = "{timezone}"\n{extra}'
        )
        return path

    return write


@pytest.fixture
def run_cli(monkeypatch):
    """Run `fetcher --config CONFIG ARGS...` in-process; returns click's Result."""
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("FETCHER_CONFIG", raising=False)

    def invoke(config: Path | None, *args: str, input: str | None = None):
        argv = (["--config", str(config)] if config else []) + list(args)
        return CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def shared_tmp():
    """A directory another user can reach, for tests that drop root.

    Not under tmp_path: pytest keeps its base directory private (0700), and a pytest started
    meanwhile (another checkout's) makes it so again however a test has opened it up.
    """
    path = Path(tempfile.mkdtemp(prefix="fetcher-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def raw_store_of(store_at):
    """RawStore of this test's store: `with raw_store_of() as db: db.execute(...)`."""
    return lambda: RawStore(store_at)
