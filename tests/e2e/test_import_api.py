"""`fetcher import --from-api` against a stand-in of Django Packages' API v4, as separate processes."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from dateutil import tz

from fetcher.config import load as load_config
from fetcher.directory import to_api
from fetcher.standin import Directory, StandIn, World
from fetcher.run.lock import run_lock
from fetcher.store import open_store
from fetcher.walk import walk
from tests.conftest import ROOT, api_record
from tests.e2e.test_output import documented_events

PAGE = 3  # records a page: the packages come in 4 pages, the grids in 2
ZONE = "America/New_York"  # the zone Django Packages prints in: export is then the directory's records, byte for byte


def directory_records() -> list[dict]:
    """The two real records, and eight more made from them (another slug and id each), newest id first."""
    records = [api_record("django-auth-ldap"), api_record("django-todo")]
    for number in range(8):
        real = records[number % 2]
        records.append({**real, "id": 1000 + number, "slug": f"{real['slug']}-{number}", "title": f"{real['title']} {number}"})
    return records


@pytest.fixture
def directory() -> Directory:
    return Directory.from_records(directory_records(), etags=True)


@pytest.fixture
def standin(directory):
    world = World()
    world.directory = directory
    with StandIn(world) as server:
        yield server


@pytest.fixture
def config(standin, tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "store.db"\n[import]\napi_url = "{standin.url}/api/v4/"\n'
                    f'requests_per_second = 50\npage_size = {PAGE}\n[http]\nbackoff = 0\nretries = 1\ntimeout = 5\n'
                    f'[sync]\nmax_rate_limit_wait = "10s"\n[output]\ntimezone = "{ZONE}"\n')
    return path


def fetcher(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)  # fmt: skip


# The seven pages a walk reads, in its order (PAGE records each; the ten packages newest id first).
PAGES = [f"/api/v4/categories/?limit={PAGE}", f"/api/v4/grids/?limit={PAGE}", f"/api/v4/grids/?limit={PAGE}&offset=3",
         *(f"/api/v4/packages/?limit={PAGE}" + (f"&offset={offset}" if offset else "") for offset in (0, 3, 6, 9))]


def page_url(standin, listing: str, offset: int) -> str:
    query = f"limit={PAGE}" + (f"&offset={offset}" if offset else "")
    return f"{standin.url}/api/v4/{listing}/?{query}"


def exported(config: Path) -> dict[str, dict]:
    return {record["slug"]: record for record in json.loads(fetcher(config, "export").stdout)}


def walk_state(config: Path) -> tuple:
    with sqlite3.connect(config.parent / "store.db") as db:
        return db.execute("SELECT next_url, pages, finished IS NOT NULL FROM import_walk").fetchone()


def test_a_walk_stores_the_categories_grids_and_packages_the_directory_lists(config, standin, directory):
    result = fetcher(config, "import", "--from-api")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (
        f"import {standin.url}/api/v4/: 7 pages (0 not modified) in <s>: 1 category, 5 grids, 10 packages "
        "(10 new, 0 updated, 0 unchanged); the walk is done\n"
    ).replace("<s>", result.stdout.split(" in ")[1].split(":")[0])
    # Every record as the directory gave it, and printed back in the API's own shape.
    assert exported(config) == {record["slug"]: record for record in directory.packages}
    # The grids and categories as the directory gave them, printed back in the API's shape, newest id first.
    reads, zone = open_store(config.parent / "store.db", read_only=True).reads, tz.gettz(ZONE)
    assert [to_api("grids", row, zone) for row in reads.grid_page(100, 0)] == \
        sorted(directory.grids, key=lambda grid: -grid["id"]) and reads.grid_count() == 5
    assert to_api("grids", reads.grid(slug="healt-checkers"), zone) == directory.grids[0] == \
        to_api("grids", reads.grid(id=438), zone)
    assert [to_api("categories", row, zone) for row in reads.category_page(100, 0)] == \
        sorted(directory.categories, key=lambda category: -category["id"]) and reads.category_count() == 1
    # Each listing read in turn, each page once, politely in order.
    assert [asked.target for asked in directory.asked()] == PAGES
    assert walk_state(config) == (None, 7, 1)


def test_the_next_walk_starts_over_asking_each_page_conditionally_and_takes_only_what_changed(config, standin,
                                                                                             directory):
    assert fetcher(config, "import", "--from-api").returncode == 0
    before = exported(config)

    again = fetcher(config, "import", "--from-api")

    assert again.returncode == 0, again.stderr
    assert "7 pages (7 not modified)" in again.stdout and "(0 new, 0 updated, 0 unchanged)" in again.stdout
    second = directory.asked()[7:]
    assert [asked.target for asked in second] == [asked.target for asked in directory.asked()[:7]]
    assert all(asked.conditional and asked.status == 304 for asked in second)
    assert exported(config) == before

    changed = next(record for record in directory.packages if record["slug"] == "django-todo-3")
    changed["title"] = "Todo, renamed in the directory"
    third = fetcher(config, "import", "--from-api")

    assert "7 pages (6 not modified)" in third.stdout and "(0 new, 1 updated, 2 unchanged)" in third.stdout
    assert exported(config)["django-todo-3"]["title"] == "Todo, renamed in the directory"


def test_a_walk_takes_catalogue_fields_as_given_and_fetched_ones_only_from_a_fresher_record(config, standin,
                                                                                            directory, tmp_path):
    fresher = {**api_record("django-todo"), "repo_watchers": 9999, "last_fetched": "2026-11-30T00:00:00+00:00"}
    (tmp_path / "fresher.json").write_text(json.dumps(fresher))
    assert fetcher(config, "import", str(tmp_path / "fresher.json")).returncode == 0
    next(record for record in directory.packages if record["slug"] == "django-todo")["title"] = "Todo"

    result = fetcher(config, "import", "--from-api")

    assert "(9 new, 1 updated, 0 unchanged; 1 kept the store's newer fetched values)" in result.stdout
    todo = exported(config)["django-todo"]
    assert (todo["title"], todo["repo_watchers"]) == ("Todo", 9999)


def test_a_walk_stopped_by_a_failure_continues_at_the_page_it_stopped_on(config, standin, directory):
    stuck = page_url(standin, "packages", 6)
    standin.fail_next(stuck.removeprefix(standin.url), 503, times=2)  # http.retries = 1: two tries, both 503

    stopped = fetcher(config, "import", "--from-api")

    assert stopped.returncode == 75
    assert stopped.stderr == f"fetcher: server error 503 ({stuck})\n"
    assert stopped.stdout.rstrip().endswith(
        f"stopped: server error 503 ({stuck}); the next `fetcher import --from-api` continues at {stuck}")
    assert len(exported(config)) == 6 and walk_state(config) == (stuck, 5, 0)
    asked_before = len(directory.asked())

    continued = fetcher(config, "import", "--from-api")

    assert continued.returncode == 0, continued.stderr
    assert "continued the walk begun " in continued.stdout and f" UTC at {stuck}; 2 pages" in continued.stdout
    assert [asked.target for asked in directory.asked()[asked_before:]] == [
        stuck.removeprefix(standin.url), page_url(standin, "packages", 9).removeprefix(standin.url)]
    assert len(exported(config)) == 10 and walk_state(config) == (None, 7, 1)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_walk_killed_mid_way_continues_after_the_last_page_it_wrote(config, standin, directory, how):
    standin.latency = 0.3  # a page at a time, slowly enough to stop it between pages
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    walking = subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(config), "import", "--from-api"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    state = None
    while walking.poll() is None and not (state and state[1] >= 3):
        time.sleep(0.05)
        with contextlib.suppress(sqlite3.OperationalError):  # no store, or no table, yet
            state = walk_state(config)
    walking.send_signal(getattr(signal, how))
    _, stderr = walking.communicate(timeout=60)
    assert walking.returncode == (-signal.SIGKILL if how == "SIGKILL" else 75), stderr
    standin.latency = 0
    where, written, finished = walk_state(config)
    assert 3 <= written < 7 and not finished and where == standin.url + PAGES[written]

    continued = fetcher(config, "import", "--from-api")

    assert continued.returncode == 0, continued.stderr
    assert f" UTC at {where}; {7 - written} pages" in continued.stdout
    # Each page written before the kill was asked once, by the killed walk; the continued one asked the rest, each
    # once; the page the killed walk was waiting for (if it was) may have been asked by both.
    asked = Counter(asked.target for asked in directory.asked())
    assert asked - Counter(PAGES) in (Counter(), Counter([PAGES[written]])) and set(asked) == set(PAGES)
    assert exported(config) == {record["slug"]: record for record in directory.packages}
    assert walk_state(config) == (None, 7, 1)


def test_a_next_link_to_another_origin_is_refused_and_nothing_of_its_page_is_written(config, standin, directory):
    with StandIn(World()) as elsewhere:
        foreign = f"{elsewhere.url}/api/v4/packages/?limit={PAGE}&offset=6"
        directory.send_foreign_next("packages", 3, foreign)

        result = fetcher(config, "import", "--from-api")

        assert elsewhere.requests == []  # nothing was ever sent there
    carrying = page_url(standin, "packages", 3)
    assert result.returncode == 2
    assert result.stderr == (
        f"fetcher: {carrying}: its next link {foreign} leads to another origin ({elsewhere.url}, not {standin.url}): "
        "not followed; nothing of this page was written\n"
    )
    assert set(exported(config)) == {record["slug"] for record in sorted(directory.packages, key=lambda r: -r["id"])[:3]}
    assert walk_state(config)[0] == carrying


@pytest.mark.parametrize("switch, expected", [
    (lambda d, url: d.send_foreign_next("packages", 3, f"{url}/admin/packages/?offset=6"), "leads outside the API"),
    (lambda d, url: d.send_foreign_next("packages", 3, f"{url}/api/v4/grids/?offset=6"),
     "leads out of the packages listing"),
    (lambda d, url: d.cycle("packages", 6), "leads back to a page this walk has already read (a cycle)"),
])
def test_a_next_link_a_walk_does_not_follow_is_refused_in_one_line(config, standin, directory, switch, expected):
    switch(directory, standin.url)

    result = fetcher(config, "import", "--from-api")

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("fetcher: http://127.0.0.1:") and expected in line
    assert line.endswith(": not followed; nothing of this page was written")


@pytest.mark.parametrize("kind, expected", [
    ("bad_record", "record 3 (slug 'django-auth-ldap-2'): id must be a positive integer, got \"many\""),
    ("results_not_list", "'results' is not a list"),
    ("next_not_url", "'next' is neither a URL nor null"),
    ("no_next", "not a page of packages: no 'next'"),
])
def test_a_page_of_the_wrong_shape_is_refused_whole_naming_its_url_and_what_was_wrong(config, standin, directory,
                                                                                     kind, expected):
    directory.malform("packages", 3, kind)

    result = fetcher(config, "import", "--from-api")

    page = page_url(standin, "packages", 3)
    assert result.returncode == 2
    assert result.stderr == f"fetcher: {page}: {expected}; nothing of this page was written\n"
    assert len(exported(config)) == 3  # the page before it, and nothing of it
    assert walk_state(config)[0] == page


def test_the_directorys_throttling_is_waited_out_and_one_beyond_the_allowed_wait_stops_the_walk(config, directory):
    directory.throttle(1, retry_after=1)

    waited = fetcher(config, "import", "--from-api")

    assert waited.returncode == 0, waited.stderr
    assert "(0 not modified, 1 retries)" in waited.stdout and "waited 2s for the directory's rate limit" in waited.stdout
    directory.throttle(1, retry_after=3600)

    stopped = fetcher(config, "import", "--from-api")

    assert stopped.returncode == 75
    assert "beyond sync.max_rate_limit_wait (10s); re-run after it" in stopped.stderr


def test_a_walk_asks_at_most_two_requests_a_second_by_default(config, standin, directory):
    """In process, on a clock of its own that moves only when the walk waits: each request's start is counted."""
    config.write_text(config.read_text().replace("requests_per_second = 50\n", ""))
    now, started = [1000.0], []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    class Counted(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request):
            started.append(now[0])
            return await super().handle_async_request(request)

    settings = load_config(str(config))
    with open_store(config.parent / "store.db") as store:
        report = walk(store, settings, settings.import_api_url, sleep=sleep, monotonic=lambda: now[0],
                      transport=Counted())

    assert settings.import_requests_per_second == 2 and report.done and len(directory.asked()) == 7
    assert [round(b - a, 9) for a, b in zip(started, started[1:])] == [0.5] * 6


def test_files_and_from_api_together_or_a_url_that_is_none_are_usage_errors(config, tmp_path):
    both = fetcher(config, "import", "--from-api", "http://127.0.0.1:9/api/v4/", str(tmp_path / "x.json"))
    bad = fetcher(config, "import", "--from-api", "djangopackages.org/api/v4")
    neither = fetcher(config, "import")

    said = "fetcher: import: give FILE... to read, or --from-api [URL] to walk a directory's API (one of them)\n"
    assert (both.returncode, both.stderr) == (neither.returncode, neither.stderr) == (2, said)
    assert bad.returncode == 2 and "'djangopackages.org/api/v4' is not an http(s) URL" in bad.stderr


def test_with_log_format_json_each_page_and_the_end_are_documented_events(config, standin, directory):
    directory.malform("packages", 3, "bad_record")

    result = fetcher(config, "--log-format", "json", "import", "--from-api")

    assert result.returncode == 2 and result.stdout == ""
    events = [json.loads(line) for line in result.stderr.splitlines()]
    documented = documented_events()
    for event in events:
        assert set(event) - {"time", "level", "event", "message"} <= documented[event["event"]], event
    assert [(event["event"], event.get("url"), event.get("records")) for event in events[:5]] == [
        ("page", standin.url + PAGES[0], 1), ("page", standin.url + PAGES[1], 3), ("page", standin.url + PAGES[2], 2),
        ("page", standin.url + PAGES[3], 3),
        ("error", None, None)]
    assert events[4]["message"].startswith(f"{standin.url + PAGES[4]}: record 3 (slug 'django-auth-ldap-2'): ")
    (end,) = events[5:]
    assert (end["event"], end["level"], end["exit_code"], end["pages"], end["packages"], end["new"]) == (
        "import", "warning", 2, 4, 3, 3)
    assert end["next_url"] == standin.url + PAGES[4] and end["stopped"].endswith("nothing of this page was written")


def test_one_walk_at_a_time_per_store_while_a_sync_may_run(config, standin, directory):
    store = config.parent / "store.db"
    with run_lock(store, "import --from-api", kind="import"):
        busy = fetcher(config, "import", "--from-api")
    asked_while_busy = len(directory.asked())
    with run_lock(store, "sync"):  # a sync holds the run lock: the walk does not wait for it
        walked = fetcher(config, "import", "--from-api")

    assert busy.returncode == 75 and asked_while_busy == 0 and walk_state(config) == (None, 7, 1)
    assert busy.stderr == (f"fetcher: fetcher import --from-api (pid {os.getpid()}, since <t>) holds the store's run "
                           f"lock ({store}.import.lock); try again later\n").replace(
        "<t>", busy.stderr.split("since ")[1].split(")")[0])
    assert walked.returncode == 0, walked.stderr
