"""No worker idle on a 202: a package whose weekly counts GitHub is still computing is written with its old
sparkline, its worker goes on, and the new sparkline is written later in the same run."""

import asyncio
import json

from fetcher.config import load
from fetcher.run import loop
from fetcher.net.client import utcnow
from fetcher.record import validate
from fetcher.standin import StandIn, World
from fetcher.store import open_store
from tests.conftest import BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

OLD_WEEKS = [1] * 52
TOKEN = "ghp_sparkline_token_AAAAAAA"


def test_a_cold_package_is_written_with_its_old_sparkline_then_its_new_one_and_no_worker_waits(
    tmp_path, monkeypatch, store_toml
):
    world, records = World.generate(12, seed=3, renamed=0, missing=0, empty=0, max_contributors=3, cold_stats=0.5)
    records = [{**record, "commits_over_52": OLD_WEEKS, "last_fetched": "2026-01-01T00:00:00+00:00"}
               for record in records]
    cold = {record["slug"] for record in records
            if world.repo(record["repo_url"].removeprefix("https://github.com/")).stats_cold}
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    sleeps: list[str] = []

    async def sleep(seconds: float) -> None:
        # Who waits: a worker (its coroutine is sync's work()) or a task of its own asking again.
        sleeps.append(asyncio.current_task().get_coro().__qualname__)
        await asyncio.sleep(seconds)

    with StandIn(world, stats_delay=0.3, token=TOKEN) as standin:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[store]\n{store_toml}\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
            f'pace = false\n[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0.2\nretries = 5\n'
        )
        config = load(str(path))
        store = open_store(config.store)
        store.catalogue.import_records([validate(record, "test") for record in records], utcnow())
        writes: list[tuple[str, str, list[int]]] = []
        slugs = {row["id"]: row["slug"] for row in store.db.rows("SELECT id, slug FROM package")}
        save, save_later = store.fetched.save, store.fetched.save_later

        def fetched(package_id, links, record, *args, **kwargs):
            writes.append(("record", slugs[package_id], record.fields.get("commits_over_52", "kept")))
            return save(package_id, links, record, *args, **kwargs)

        def sparkline(package_id, links, fields, *args, **kwargs):
            writes.append(("sparkline", slugs[package_id], fields["commits_over_52"]))
            return save_later(package_id, links, fields, *args, **kwargs)

        monkeypatch.setattr(store.fetched, "save", fetched)
        monkeypatch.setattr(store.fetched, "save_later", sparkline)
        report = loop.run(store, store.schedule.due(None, None), config, "sync", sleep=sleep)

    assert len(cold) == 6 and report.exit_code == 0
    assert report.written_later == 6 and report.pending == 0
    for slug in cold:
        mine = [(kind, weeks) for kind, written, weeks in writes if written == slug]
        assert mine == [("record", "kept"), ("sparkline", world.repo(
            next(r["repo_url"] for r in records if r["slug"] == slug).removeprefix("https://github.com/")
        ).participation)]
        assert store.reads.record(slug)["commits_over_52"] == mine[1][1]
        state = store.reads.fetch_state(slug)
        assert state["note"] is None and state["pending"] == 0  # "still computing" went with the new sparkline
    # Every wait for a 202 was the asking's, a task of its own: workers idle while waiting, none.
    assert sleeps and set(sleeps) == {"Asking._ask_until_ready"}
    assert "sparklines written later" in report.summary()


def test_a_sparkline_still_pending_when_the_run_ends_is_due_at_the_next_run_until_it_is_written(
    tmp_path, run_cli, monkeypatch, store_toml, store_at
):
    # Every repository's weekly counts answer 202 to their first ask, and the run asks nothing again (retries
    # = 0: as if it were killed before the later asks). The next plain sync, within stale_after, takes exactly
    # those packages again; once their sparklines are written, nothing is due.
    world, records = World.generate(6, seed=3, renamed=0, missing=0, empty=0, max_contributors=3, cold_stats=1.0,
                                    stats_asks=1)
    records = [{**record, "commits_over_52": OLD_WEEKS} for record in records]
    (tmp_path / "catalog.json").write_text(json.dumps(records))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with StandIn(world, token=TOKEN) as standin:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\n{store_toml}\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
            f'pace = false\n[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0\nretries = 0\n'
        )
        assert run_cli(config, "import", str(tmp_path / "catalog.json")).exit_code == 0
        first = run_cli(config, "sync")
        pending = run_cli(config, "status", "--json")
        second = run_cli(config, "sync")
        third = run_cli(config, "sync")
        store = open_store(store_at)
        weeks = {record["slug"]: store.reads.record(record["slug"])["commits_over_52"]
                 for record in records}

    assert first.exit_code == 0 and "6 of 6 packages" in first.output
    assert "6 sparklines still computing on GitHub, kept" in first.output
    assert json.loads(pending.stdout)["sparklines_kept"] == 6 and json.loads(pending.stdout)["due"] == 6
    assert second.exit_code == 0 and "6 of 6 packages" in second.output and "still computing" not in second.output
    assert "0 of 0 packages" in third.output
    assert weeks == {record["slug"]: world.repo(record["repo_url"].removeprefix("https://github.com/")).participation
                     for record in records}


def test_the_weekly_counts_of_every_package_read_ahead_are_asked_before_its_turn_and_once_each_ask(
    tmp_path, monkeypatch
):
    # 250 repositories, each computing its counts on the first ask (202) and having them at the second. The run
    # reads them all ahead (three chunks, each its batch step), and its reading ahead goes first in line for the
    # slots, so each first ask is made before the package's turn: with eight workers (concurrency 2), a ninth
    # package is fetched only after one is done, and by then every first ask was made, the third chunk's too.
    # The fetch takes the early answer: two asks a repository, no more; each ask's point is its package's.
    world, records = World.generate(250, seed=5, renamed=0, missing=0, empty=0, max_contributors=3, cold_stats=1.0,
                                    stats_asks=1)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with StandIn(world, token=TOKEN) as standin:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
            f'pace = false\n[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0.01\nretries = 3\n'
            f'[sync]\nconcurrency = 2\n'
        )
        config = load(str(path))
        store = open_store(config.store_path)
        store.catalogue.import_records([validate(record, "test") for record in records], utcnow())
        report = loop.run(store, store.schedule.due(None, None), config, "sync")
        log = [(entry.path.split("?")[0], entry.status) for entry in standin.requests]
        rest_points = standin.points_charged

    assert report.exit_code == 0 and report.written_later == 250 and report.pending == 0
    asks = [path for path, _ in log if path.endswith("/stats/participation")]
    assert len(asks) == 500 and all(asks.count(path) == 2 for path in asks)
    first_asks = [index for index, (path, status) in enumerate(log) if path.endswith("/stats/participation")
                  and status == 202]
    contributors = [index for index, (path, _) in enumerate(log) if path.endswith("/contributors")]
    assert len(first_asks) == 250 and len(contributors) == 250
    assert max(first_asks) < contributors[8]
    spent = store.db.execute("SELECT sum(last_points) FROM fetch_state").fetchone()[0]
    assert spent == rest_points == 250 + 500  # a contributors page and two asks each, every point on its package
