"""The cached answers of a package, all of them for its fetch, or only those its host reads ahead of its turn."""

import json
from datetime import datetime, timezone

from fetcher.record import validate
from fetcher.store import open_store

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def test_the_cache_is_read_whole_or_only_the_resources_asked_for(tmp_path):
    store = open_store(tmp_path / "c.db")
    store.catalogue.import_records([validate({"slug": "pkg", "repo_url": "https://github.com/o/pkg",
                                              "pypi_url": ""}, "test")], NOW)
    (package_id,) = store.db.execute("SELECT id FROM package WHERE slug = 'pkg'").fetchone()
    for resource, value in (("participation", {"weeks": [1] * 52}), ("contributors", {"pages": [["a"] * 600]})):
        store.db.execute("INSERT INTO resource_cache (package_id, resource, etag, last_modified, value, fetched_at, "
                         "token_env) VALUES (?, ?, 'W/\"x\"', NULL, ?, '2026-12-01T00:00:00+00:00', NULL)",
                         [package_id, resource, json.dumps(value)])
    whole = store.fetched.cached(package_id)
    assert set(whole) == {"participation", "contributors"}
    early = store.fetched.cached(package_id, ("participation",))
    assert set(early) == {"participation"} and early["participation"].value == {"weeks": [1] * 52}
    assert early["participation"].etag == 'W/"x"'
    assert store.fetched.cached(package_id, ()) == {}
