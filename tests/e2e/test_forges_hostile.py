"""`fetcher sync` through the real command against forges that misbehave: paths a host makes up, histories longer
than a run may page and moving under it, redirects elsewhere, outages, spent rate limits, heads that are gone,
and `www.` URLs.

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

import pytest

from fetcher.record import parse_datetime
from fetcher.standin import StandIn, World
from fetcher.standin.forges import ForgeRepo, Forges, ForgeTransport, Person, history_participants, weekly_counts
from fetcher.standin.forges import today_midnight
from tests.conftest import ROOT

TOKENS = ("GITHUB_TOKEN", "FETCHER_CONFIG", "GITLAB_TOKEN", "CODEBERG_TOKEN", "BITBUCKET_TOKEN",
          "FETCHER_STANDIN_TOKEN")
KINDS = {"gitlab.com": "gitlab", "codeberg.org": "forgejo", "bitbucket.org": "bitbucket"}
ANN, BOB = Person("Ann Cient", "ann@example.org"), Person("Bob B", "bob@example.org", "bob")
CAROL = Person("Carol C", "carol@example.org", "carol")
# The pages of a history a run reads (fetcher.hosts.forge.HISTORY_PAGES) and Forgejo's commits a page.
RUN_PAGES, FORGEJO_PAGE = 100, 50


def fetcher(config: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    """The command; with `token`, the stand-in's forge token variable set to it."""
    env = {k: v for k, v in os.environ.items() if k not in TOKENS}
    if token is not None:
        env["FETCHER_STANDIN_TOKEN"] = token
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


SECRET = "forge-token-7c1e-never-printed"


def test_a_redirect_to_another_origin_is_no_move_and_nothing_is_asked_there(tmp_path):
    forges = forge_world()
    records, evil = [], {}
    for number, (host, kind) in enumerate(KINDS.items()):
        add(forges, f"https://{host}/team/lured", 10 + number)
        add(forges, f"https://{host}/team/fine", 20 + number)
        evil[kind] = add(forges, f"https://{host}/evil/copy", 30 + number)  # what answers there, if it were asked
        records += [package(f"{kind}-lured", f"https://{host}/team/lured"), package(f"{kind}-fine",
                                                                                    f"https://{host}/team/fine")]
    with StandIn(World(forges=forges)) as standin:
        # The same stand-in under another origin (localhost, not 127.0.0.1): followed, it would answer.
        elsewhere = standin.url.replace("127.0.0.1", "localhost")
        for host, kind in KINDS.items():
            api = forges.api_url(elsewhere, host, kind)
            there = {"gitlab": f"{api}/projects/evil%2Fcopy", "forgejo": f"{api}/repos/evil/copy",
                     "bitbucket": f"{api}/repositories/evil/copy"}[kind]
            forges.send_elsewhere(host, "lured", there)
            forges.hosts[host].token = SECRET  # the token each host takes, and it alone
        config = setup(tmp_path, standin, records)
        synced = fetcher(config, "sync", token=SECRET)
        got = exported(config)

    assert synced.returncode == 1, synced.stdout + synced.stderr  # a package failed: nothing else
    state = fetch_state(tmp_path)
    for host, kind in KINDS.items():
        lured = got[f"{kind}-lured"]
        assert lured["repo_url"] == f"https://{host}/team/lured" and lured["repo_forks"] == 7  # the old values
        assert "redirected off the API's origin" in state[f"{kind}-lured"][0]
        assert f"failed {kind}-lured: " in synced.stderr
        assert fields(got[f"{kind}-fine"]) == truth(forges, f"https://{host}/team/fine", got[f"{kind}-fine"])
    assert [entry.status for entry in forges.requests() if "lured" in entry.url] == [301] * len(KINDS)
    assert [entry for entry in forges.requests() if "evil" in entry.url] == []  # nothing asked there
    assert all(SECRET in (entry.credential or "") for entry in forges.requests())  # sent to its API alone
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("store.db*"))
    assert SECRET not in synced.stdout + synced.stderr and SECRET.encode() not in stored


# -- Class 6: long and moving histories --------------------------------------------------------------------


@pytest.mark.parametrize(("host", "per_page"), [("codeberg.org", 50), ("bitbucket.org", 100)])
def test_a_history_longer_than_a_run_pages_is_counted_over_runs_to_the_truth_while_its_head_moves(tmp_path, host,
                                                                                                 per_page):
    url, small = f"https://{host}/big/history", f"https://{host}/small/one"
    forges = forge_world()
    commits = 400 * per_page + 1  # one commit more than 400 pages: more than the old cap
    add(forges, url, 1, commits, people=(ANN, BOB, CAROL, Person("Dan", "dan@example.org", "dan")))
    add(forges, small, 2)

    runs, pages = [], []
    with StandIn(World(forges=forges)) as standin:
        config = setup(tmp_path, standin, [package("big", url), package("small", small)])
        for number in range(8):
            if number == 2:  # the head moves while the history is still being counted
                forges.push(url, 7, author=BOB)
            before = len(forges.requests(host, "commits", repo="big/history"))
            runs.append(fetcher(config, "sync"))  # only what is due
            pages.append(len(forges.requests(host, "commits", repo="big/history")) - before)
            if fetch_state(tmp_path)["big"][3] == 0:  # no longer pending: counted up to its head
                break
        got = exported(config)

    assert all(run.returncode == 0 for run in runs), [run.stdout + run.stderr for run in runs]
    assert "1 of 1 packages" in runs[1].stdout  # only the big one was due again
    # 401 pages of the first head, then one of the 7 new commits: a run reads at most RUN_PAGES of them (and the
    # newest commit), and no page is read twice.
    assert len(runs) == 5 and max(pages) <= RUN_PAGES + 1
    listed = [entry.url for entry in forges.requests(host, "commits", repo="big/history")
              if not re.search(r"(per_page|limit|pagelen)=1(&|$)", entry.url)]  # the pages, not the newest commit
    assert len(listed) == len(set(listed)) == 402
    big = got["big"]
    assert fields(big) == truth(forges, url, big)
    assert big["facts"]["commit_count"] == commits + 7 == forges.expected_commit_count(url)
    assert parse_datetime(big["last_updated"]) == forges.repo(url).newest
    assert fields(got["small"]) == truth(forges, small, got["small"])


@pytest.mark.parametrize(("host", "per_page"), [("gitlab.com", 100), ("codeberg.org", 50)])
def test_a_partly_counted_history_says_so_and_stays_due(tmp_path, host, per_page):
    url = f"https://{host}/big/history"
    forges = forge_world()
    add(forges, url, 1, RUN_PAGES * per_page + 10)  # GitLab: all of them in the window it pages
    with StandIn(World(forges=forges)) as standin:
        config = setup(tmp_path, standin, [package("big", url)])
        first = fetcher(config, "sync")
        state = fetch_state(tmp_path)["big"]
        second = fetcher(config, "sync")  # due again: it goes on where it stopped
        done = fetch_state(tmp_path)["big"]
        third = fetcher(config, "sync")  # counted: not due any more
        got = exported(config)

    assert first.returncode == second.returncode == third.returncode == 0, first.stdout + first.stderr
    assert state[3] == 1 and state[0] is None and "history still being counted (100 pages read)" in state[2]
    assert done[3] == 0 and done[2] is None
    assert "1 of 1 packages" in second.stdout and "0 of 0 packages" in third.stdout
    assert fields(got["big"]) == truth(forges, url, got["big"])
    assert got["big"]["facts"]["commit_count"] == RUN_PAGES * per_page + 10


@pytest.mark.parametrize("host", list(KINDS))
def test_a_push_between_pages_counts_each_commit_once(tmp_path, host):
    url = f"https://{host}/busy/repo"
    forges = forge_world()
    add(forges, url, 1, 250)  # three pages on GitLab and Bitbucket, five on Forgejo, all in the window
    first_head = forges.repo(url).head
    forges.push_while_paging(url, pages=1, commits=9)  # lands after the first page of the history is read
    with StandIn(World(forges=forges)) as standin:
        config = setup(tmp_path, standin, [package("busy", url)])
        first = fetcher(config, "sync")
        counted_first = exported(config)["busy"]
        second = fetcher(config, "sync", "--all")
        counted_second = exported(config)["busy"]

    assert first.returncode == second.returncode == 0, first.stdout + first.stderr
    repo = forges.repo(url)
    assert repo.head != first_head  # the push landed during the first run
    # The first run counted the head it read, each commit once; the second added the pushed ones.
    at_first = repo.history(first_head)
    midnight = today_midnight(parse_datetime(counted_first["last_fetched"]))
    assert counted_first["commits_over_52"] == weekly_counts(at_first, midnight)
    if host != "gitlab.com":
        assert counted_first["participants"] == history_participants(at_first)
        assert counted_first["facts"]["commit_count"] == 250
    assert fields(counted_second) == truth(forges, url, counted_second)
    assert counted_second["facts"]["commit_count"] == 259


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
    assert "4 left due for the next run: gitlab.example.org unreachable: cannot connect:" in synced.stdout
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


# -- Class 12: forge history edge cases -------------------------------------------------------------------


@pytest.mark.parametrize("host", list(KINDS))
def test_a_counted_head_that_is_gone_is_counted_again_from_scratch_asking_the_failing_query_once(tmp_path, host):
    url, made_anew = f"https://{host}/team/rewritten", f"https://{host}/team/anew"
    forges = forge_world()
    add(forges, url, 1, 30)
    add(forges, made_anew, 2, 20)
    with StandIn(World(forges=forges)) as standin:
        config = setup(tmp_path, standin, [package("rewritten", url), package("anew", made_anew)])
        assert fetcher(config, "sync").returncode == 0
        old = forges.repo(url).head
        # A force-push, then garbage collection: the commit counted last is gone.
        forges.force_push(url, drop=3, commits=2)
        assert old in forges.prune(url)
        # A repository deleted and made anew at the same path, with a history of its own.
        old_anew = forges.repo(made_anew).head
        forges.remake(made_anew, 3)
        now = world_now()
        forges.grow(made_anew, 5, start=now - timedelta(days=20), end=now - timedelta(hours=1), people=[CAROL])
        sent = len(forges.requests(host))
        synced = fetcher(config, "sync", "--all")
        again = fetcher(config, "sync", "--all")
        got = exported(config)

    assert synced.returncode == again.returncode == 0, synced.stdout + synced.stderr
    for slug, where, gone in (("rewritten", url, old), ("anew", made_anew, old_anew)):
        assert fields(got[slug]) == truth(forges, where, got[slug])
        assert got[slug]["facts"]["commit_count"] == forges.expected_commit_count(where)
        incremental = [entry for entry in forges.requests(host)[sent:] if gone in entry.url]
        assert [entry.status for entry in incremental] == [500 if host == "codeberg.org" else 404], slug


def test_a_www_url_on_a_configured_forge_is_that_forges_and_stays_as_written(tmp_path):
    forges = forge_world()
    records = []
    for number, host in enumerate(KINDS):
        add(forges, f"https://{host}/team/thing", number + 1)
        records.append(package(KINDS[host], f"https://www.{host}/team/thing"))
    with StandIn(World(forges=forges)) as standin:
        config = setup(tmp_path, standin, records)
        synced = fetcher(config, "sync")
        got = exported(config)
        status = fetcher(config, "status")

    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "0 skipped" in synced.stdout
    for host, kind in KINDS.items():
        assert got[kind]["repo_url"] == f"https://www.{host}/team/thing"
        assert fields(got[kind]) == truth(forges, f"https://www.{host}/team/thing", got[kind])
    assert status.returncode == 0


# Each host's "the new commits only" query: GitLab's revision range, Forgejo's not=, Bitbucket's exclude=.
INCREMENTAL = {"gitlab.com": "..", "codeberg.org": "not=", "bitbucket.org": "exclude="}


@pytest.mark.parametrize("host", list(KINDS))
def test_a_passing_5xx_on_the_new_commits_query_is_asked_again_not_taken_for_a_lost_head(tmp_path, host):
    url = f"https://{host}/team/busy"
    forges = forge_world()
    add(forges, url, 1, 30)
    with StandIn(World(forges=forges)) as standin:
        config = setup(tmp_path, standin, [package("busy", url)])
        assert fetcher(config, "sync").returncode == 0
        forges.push(url, 2, when=world_now() - timedelta(hours=1))
        forges.stumble(host, 502, INCREMENTAL[host])  # its gateway, once
        sent = len(forges.requests(host))
        synced = fetcher(config, "sync", "--all")
        got = exported(config)

    assert synced.returncode == 0, synced.stdout + synced.stderr
    asked = forges.requests(host)[sent:]
    assert [entry.status for entry in asked if INCREMENTAL[host] in entry.url] == [502, 200]
    # The newest commit and the two new ones: nothing counted again from scratch.
    assert sum(entry.items or 0 for entry in asked if entry.resource == "commits") == 1 + 2
    assert fields(got["busy"]) == truth(forges, url, got["busy"])
    assert got["busy"]["facts"]["commit_count"] == forges.expected_commit_count(url) == 32
