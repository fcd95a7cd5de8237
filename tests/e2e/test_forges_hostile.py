"""`fetcher sync` through the real command against forges that misbehave: paths a host makes up, outages and spent
rate limits.

Each test describes its forge world with the stand-in's own operations and reaches it over loopback (a subprocess)
or in-process (click's runner, the stand-in's transport). The truth is the stand-in's, computed from its commit
graph at the moment the package was fetched.
"""

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from fetcher.record import parse_datetime
from fetcher.standin import StandIn, World
from fetcher.standin.forges import ForgeRepo, Forges, ForgeTransport, Person
from tests.conftest import ROOT

TOKENS = ("GITHUB_TOKEN", "FETCHER_CONFIG", "GITLAB_TOKEN", "CODEBERG_TOKEN", "BITBUCKET_TOKEN",
          "FETCHER_STANDIN_TOKEN")
KINDS = {"gitlab.com": "gitlab", "codeberg.org": "forgejo", "bitbucket.org": "bitbucket"}
ANN, BOB = Person("Ann Cient", "ann@example.org"), Person("Bob B", "bob@example.org", "bob")
CAROL = Person("Carol C", "carol@example.org", "carol")


def fetcher(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in TOKENS}
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def package(slug: str, repo_url: str) -> dict:
    return {"slug": slug, "title": slug, "repo_url": repo_url, "pypi_url": "", "repo_forks": 7,
            "created": "2020-01-01T00:00:00+00:00", "modified": "2020-01-01T00:00:00+00:00"}


def world_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def forge_world() -> Forges:
    forges = Forges()  # the real clock: fetcher's own, in another process
    for name, kind in KINDS.items():
        forges.add_host(name, kind)
    return forges


def add(forges: Forges, url: str, ident: int, commits: int = 12, people=(ANN, BOB, CAROL)) -> ForgeRepo:
    """A repository at `url` with `commits` commits over the last 300 days, authors taking turns."""
    host, _, path = url.removeprefix("https://").partition("/")
    repo = forges.add_repo(ForgeRepo(host, path, ident, 5, 2, "A thing.", world_now() - timedelta(days=900)))
    now = world_now()
    forges.grow(url, commits, start=now - timedelta(days=300), end=now - timedelta(hours=2), people=list(people))
    return repo


def setup(tmp_path: Path, standin: StandIn, records: list[dict], extra: str = "", hosts: str | None = None) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
        f'pace = false\n[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0\ntimeout = 10\n'
        f'[sync]\nmax_rate_limit_wait = "30s"\n{extra}\n'
        f'{standin.hosts_config() if hosts is None else hosts}'
    )
    (tmp_path / "catalog.json").write_text(json.dumps(records))
    imported = fetcher(config, "import", str(tmp_path / "catalog.json"))
    assert imported.returncode == 0, imported.stderr
    return config


def exported(config: Path) -> dict[str, dict]:
    result = fetcher(config, "export", "--facts")
    assert result.returncode == 0, result.stderr
    return {record["slug"]: record for record in json.loads(result.stdout)}


def fetch_state(tmp_path: Path) -> dict[str, tuple]:
    with sqlite3.connect(tmp_path / "store.db") as db:
        return {slug: row for slug, *row in db.execute(
            "SELECT slug, last_error, consecutive_failures, note, pending FROM fetch_state "
            "JOIN package ON package.id = package_id")}


def truth(forges: Forges, url: str, got: dict) -> dict:
    """What the stand-in says the record is, at the moment the package was fetched."""
    want = forges.expected(url, parse_datetime(got["last_fetched"]))
    return {name: want[name] for name in ("repo_url", "commits_over_52", "participants")}


def fields(got: dict) -> dict:
    return {name: got[name] for name in ("repo_url", "commits_over_52", "participants")}


# -- Class 5: a forge's word is not the catalogue's -------------------------------------------------------

# What a hostile host says its repository's path is (and, if it says, its web page): none of it is a move.
MADE_UP = {
    "fragment": ("evil/x#y", None),
    "escape": ("a/b\x1b[31mred", None),
    "control": ("a/b\nc", None),
    "dotdot": ("../../etc", None),
    "git": ("someone/thing.git", None),
    "elsewhere": ("someone/thing", "https://evil.example/someone/thing"),  # its page on another host
    "nothing_there": ("someone/thing", None),  # a path of the host's grammar where the host serves nothing
}


def test_a_path_a_forge_makes_up_is_no_move_and_a_real_move_is_followed(tmp_path):
    forges = forge_world()
    records, liars = [], {}
    for number, (host, kind) in enumerate(KINDS.items()):
        for offset, (case, (path, web)) in enumerate(MADE_UP.items()):
            url = f"https://{host}/team{offset}/lied-{case}"
            add(forges, url, 1000 * (number + 1) + offset)
            forges.misreport_path(url, path, web)
            liars[f"{kind}-{case}"] = url
            records.append(package(f"{kind}-{case}", url))
        # A real move, which the host redirects (GitLab to the project's id, Forgejo 307, Bitbucket 301).
        moved = add(forges, f"https://{host}/old-team/thing", 1000 * (number + 1) + 50)
        forges.move("old-team/thing", moved, "New-Team/thing")
        records.append(package(f"{kind}-moved", f"https://{host}/old-team/thing"))
    # Another project is at the path this one reports: another repository, not this one moved.
    add(forges, "https://gitlab.com/other/project", 9999)
    add(forges, "https://gitlab.com/team9/copycat", 9998)
    forges.misreport_path("https://gitlab.com/team9/copycat", "other/project")
    liars["gitlab-copycat"] = "https://gitlab.com/team9/copycat"
    records.append(package("gitlab-copycat", "https://gitlab.com/team9/copycat"))
    follower = forges.add_host("gitlab.example.org", "gitlab", follow_moves=True)  # answers the old path itself
    moved = add(forges, "https://gitlab.example.org/old/proj", 77)
    forges.move("old/proj", moved, "new/proj")
    records.append(package("follower-moved", "https://gitlab.example.org/old/proj"))
    assert follower.follow_moves

    with StandIn(World(forges=forges)) as standin:
        config = setup(tmp_path, standin, records)
        first = fetcher(config, "sync")
        got = exported(config)
        second = fetcher(config, "sync", "--all")

    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr  # nothing fails for good
    for slug, url in liars.items():
        assert got[slug]["repo_url"] == url, slug  # the person's URL, as written
        want = truth(forges, url, got[slug])
        assert fields(got[slug]) == {**want, "repo_url": url}, slug  # the rest read under the path asked
    for kind in KINDS.values():
        host = next(name for name, k in KINDS.items() if k == kind)
        assert got[f"{kind}-moved"]["repo_url"] == f"https://{host}/New-Team/thing"
    assert got["follower-moved"]["repo_url"] == "https://gitlab.example.org/new/proj"
    # A path of the host's grammar whose web URL is on the same host is asked about, once a run, and not taken
    # when the host serves nothing there; none of the others is asked about at all.
    there = [entry.status for entry in forges.requests() if re.search(r"someone(/|%2F)thing($|\?)", entry.url)]
    assert there == [404] * 2 * len(KINDS)
    assert [entry for entry in forges.requests() if re.search(r"evil|etc|%1B|\x1b|%0A", entry.url)] == []


# -- Class 11: outages blame nothing -----------------------------------------------------------------------


def test_a_forge_that_cannot_be_reached_leaves_its_packages_due_and_the_others_go_on(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    forges = forge_world()
    add(forges, "https://codeberg.org/a/b", 1)
    records = [package("cb", "https://codeberg.org/a/b")] + [
        package(f"gl{i}", f"https://gitlab.example.org/team/p{i}") for i in range(4)]
    with StandIn(World(forges=forges)) as standin:
        hosts = standin.hosts_config() + (f'\n[hosts."gitlab.example.org"]\nkind = "gitlab"\n'
                                          f'api_url = "http://127.0.0.1:{closed}/api/v4"\n')
        config = setup(tmp_path, standin, records, hosts=hosts)
        synced = fetcher(config, "sync")
        again = fetcher(config, "sync")  # still due: asked again
        got = exported(config)

    assert synced.returncode == 75, synced.stdout + synced.stderr
    assert "failed" not in synced.stderr
    assert (f"4 left due for the next run: gitlab.example.org unreachable: cannot connect:" in synced.stdout)
    assert "1 synced" in synced.stdout and "0 failed" in synced.stdout
    state = fetch_state(tmp_path)
    assert set(state) == {"cb"}  # no failure, no rest: the unreachable host's packages untouched
    assert "4 of 4 packages" in again.stdout and again.returncode == 75
    assert all(got[f"gl{i}"]["repo_forks"] == 7 for i in range(4))


def test_network_down_stops_with_75_blames_no_package_and_asks_each_name_once(run_cli, config_file, tmp_path,
                                                                                monkeypatch):
    for name in TOKENS:
        monkeypatch.delenv(name, raising=False)
    forges = forge_world()
    for host in KINDS:  # no name resolves: the forges' as none outside the world (GitHub's, PyPI's)
        forges.take_down(host, "[Errno -3] Temporary failure in name resolution", resolves=False)
    monkeypatch.setattr("fetcher.net.client.PoolShards", lambda connections: ForgeTransport(forges))
    records = [package(f"{kind}{i}", f"https://{host}/team/p{i}") for host, kind in KINDS.items() for i in range(2)]
    records += [{**package("gh", "https://github.com/django/django"), "pypi_url": "https://pypi.org/project/Django/"},
                {**package("cb-pypi", "https://codeberg.org/team/p9"), "pypi_url": "https://pypi.org/project/p9/"}]
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(records))
    config = config_file('[sync]\nmax_rate_limit_wait = "30s"\n')
    assert run_cli(config, "import", str(catalog)).exit_code == 0

    results = [run_cli(config, "sync") for _ in range(2)]

    for result in results:
        assert result.exit_code == 75, result.output
        assert "failed" not in result.stderr and ", 0 failed," in result.stdout
        assert "retries" not in result.stdout  # a name that does not resolve is not asked again
    with sqlite3.connect(tmp_path / "test.db") as db:
        assert db.execute("SELECT count(*) FROM fetch_state").fetchone() == (0,)  # no failure, no rest
    # Each URL asked at most once a run: no backoff for a name that does not resolve.
    urls = [entry.url for entry in forges.log]
    assert urls and {entry.status for entry in forges.log} == {0}
    assert max(urls.count(url) for url in urls) <= len(results)


def test_a_bitbucket_429_spends_its_window_for_the_run_and_leaves_its_packages_due(tmp_path):
    forges = forge_world()
    for number in range(3):
        add(forges, f"https://bitbucket.org/team/p{number}", 10 + number)
    add(forges, "https://codeberg.org/a/b", 1)
    add(forges, "https://gitlab.com/a/b", 2)
    forges.throttle("bitbucket.org", world_now() + timedelta(minutes=40))
    forges.throttle("gitlab.com", world_now() + timedelta(hours=2))  # beyond max_rate_limit_wait too
    records = [package(f"bb{n}", f"https://bitbucket.org/team/p{n}") for n in range(3)]
    records += [package("cb", "https://codeberg.org/a/b"), package("gl", "https://gitlab.com/a/b")]
    with StandIn(World(forges=forges)) as standin:
        # One request at a time, so that what is asked once the 429 has come shows (not what was on the wire).
        config = setup(tmp_path, standin, records, extra="concurrency = 1\n")
        synced = fetcher(config, "sync")
        forges.throttle("bitbucket.org", None)
        forges.throttle("gitlab.com", None)
        after = fetcher(config, "sync")

    assert synced.returncode == 75, synced.stdout + synced.stderr
    assert "failed" not in synced.stderr and "1 synced" in synced.stdout
    assert "3 left due for the next run: bitbucket.org rate limit spent (429): asked no more in this run" in synced.stdout
    assert "1 left due for the next run: gitlab.com rate limit until" in synced.stdout
    limited = [entry.status for entry in forges.requests("bitbucket.org") if entry.status == 429]
    assert limited == [429]  # asked once, then not at all: not once a minute
    assert set(fetch_state(tmp_path)) == {"bb0", "bb1", "bb2", "cb", "gl"}
    assert after.returncode == 0 and "4 of 4 packages" in after.stdout  # the ones left due, and only them
