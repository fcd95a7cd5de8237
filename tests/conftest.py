"""Shared test helpers: recorded GitHub/PyPI answers turned into respx routes, the other forges' recorded
answers, configs, the CLI."""

import copy
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from fetcher.cli import cli

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


@pytest.fixture
def config_file(tmp_path):
    """Write a config for a test store; retries without waiting and no pacing, so tests are quick."""

    def write(extra: str = "", *, timezone: str = "UTC", github: str = "") -> Path:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[store]\npath = "test.db"\n\n[github]\npace = false\n{github}\n[http]\nbackoff = 0\ntimeout = 5\n\n'
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
