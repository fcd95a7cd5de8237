"""No worker idle on a 202: a package whose weekly counts GitHub is still computing is written with its old
sparkline, its worker goes on, and the new sparkline is written later in the same run."""

import asyncio
import json

from fetcher import config as configuration, sync
from fetcher.records import validate
from fetcher.standin import StandIn, World
from fetcher.store import open_store

OLD_WEEKS = [1] * 52
TOKEN = "ghp_sparkline_token_AAAAAAA"


def test_a_cold_package_is_written_with_its_old_sparkline_then_its_new_one_and_no_worker_waits(
    tmp_path, monkeypatch
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
            f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
            f'pace = false\n[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0.2\nretries = 5\n'
        )
        config = configuration.load(str(path))
        store = open_store(config.store_path)
        store.import_records([validate(record, "test") for record in records], sync.utcnow())
        writes: list[tuple[str, str, list[int]]] = []
        slugs = {row["id"]: row["slug"] for row in store.db.query("SELECT id, slug FROM package")}
        save_fetch, save_sparkline = store.save_fetch, store.save_sparkline

        def fetched(package_id, fields, *args, **kwargs):
            writes.append(("record", slugs[package_id], fields.get("commits_over_52", "kept")))
            return save_fetch(package_id, fields, *args, **kwargs)

        def sparkline(package_id, weeks, *args, **kwargs):
            writes.append(("sparkline", slugs[package_id], weeks))
            return save_sparkline(package_id, weeks, *args, **kwargs)

        monkeypatch.setattr(store, "save_fetch", fetched)
        monkeypatch.setattr(store, "save_sparkline", sparkline)
        report = sync.run(store, store.due_packages(None, None), config, "sync", sleep=sleep)

    assert len(cold) == 6 and report.exit_code == 0
    assert report.sparklines_later == 6 and report.pending == 0
    for slug in cold:
        mine = [(kind, weeks) for kind, written, weeks in writes if written == slug]
        assert mine == [("record", "kept"), ("sparkline", world.repo(
            next(r["repo_url"] for r in records if r["slug"] == slug).removeprefix("https://github.com/")
        ).participation)]
        assert json.loads(store.record(slug)["commits_over_52"]) == mine[1][1]
        assert store.fetch_state(slug)["note"] is None  # the "still computing" note went with the new sparkline
    # Every wait for a 202 was a sparkline task's: workers idle while waiting, none.
    assert sleeps and set(sleeps) == {"_Syncer.sparkline_later"}
    assert "sparklines written later" in report.summary()
