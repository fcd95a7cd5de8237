"""show/export --facts, import with facts, history and trending: what a person and a program read."""

import json
from datetime import datetime, timezone

from fetcher.config import load
from fetcher.facts import FACT_NAMES
from fetcher.record import API_FIELDS
from fetcher.links import Links
from fetcher.store import open_store
from fetcher.store.fetched import FetchedRecord
from tests.conftest import BOTH_BACKENDS, FIXTURES, api_record

UTC = timezone.utc
FACTS = {
    "archived": True, "archived_at": "2024-02-03T04:05:06+00:00", "commit_count": 321, "license": ["MIT License"],
    "requires_python": ">=3.9", "supports_python3": True, "django_versions": ["4.2", "5.0"],
    "classifiers": ["Framework :: Django :: 4.2"], "latest_release_at": "2024-01-01T00:00:00+00:00",
    "latest_release_yanked": False, "pypi_status": "archived", "score": -12,
}


def write(tmp_path, name, document) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


@BOTH_BACKENDS
def test_show_and_export_print_the_18_fields_unless_asked_for_facts(config_file, run_cli, tmp_path):
    config = config_file(timezone="America/New_York")  # the zone the recorded API answer is in
    record = api_record("django-todo")
    run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json"))

    shown = run_cli(config, "show", "django-todo")
    with_facts = json.loads(run_cli(config, "show", "django-todo", "--facts").stdout)

    assert shown.stdout == json.dumps(record, indent=2, ensure_ascii=False) + "\n"  # byte for byte
    assert list(with_facts) == [*API_FIELDS, "facts"]
    assert with_facts["facts"] == dict.fromkeys(FACT_NAMES)  # nothing known yet: every fact null
    exported = run_cli(config, "export").stdout
    assert json.loads(exported) == [record]
    lines = run_cli(config, "export", "--jsonl", "--facts").stdout.splitlines()
    assert [list(json.loads(line)) for line in lines] == [[*API_FIELDS, "facts"]]


@BOTH_BACKENDS
def test_import_stores_a_facts_object_as_given_and_export_gives_it_back(config_file, run_cli, tmp_path):
    config = config_file(timezone="America/New_York")
    record = {**api_record("django-todo"), "facts": FACTS}
    imported = run_cli(config, "import", write(tmp_path, "with-facts.json", [record, api_record("django-auth-ldap")]))

    assert imported.exit_code == 0, imported.output
    facts = json.loads(run_cli(config, "show", "django-todo", "--facts").stdout)["facts"]
    assert facts == {**FACTS, "archived_at": "2024-02-02T23:05:06-05:00",  # printed in the configured zone
                     "latest_release_at": "2023-12-31T19:00:00-05:00"}
    exported = json.loads(run_cli(config, "export", "--facts").stdout)
    assert [r["slug"] for r in exported] == ["django-auth-ldap", "django-todo"]
    assert exported[0]["facts"] == dict.fromkeys(FACT_NAMES) and exported[1]["facts"] == facts
    # What export --facts printed imports again unchanged.
    again = run_cli(config, "import", write(tmp_path, "round-trip.json", exported))
    assert "0 new, 0 updated, 2 unchanged" in again.stdout


def test_import_refuses_facts_of_the_wrong_type_naming_file_record_and_field(config_file, run_cli, tmp_path):
    config = config_file()
    bad = [api_record("django-auth-ldap"), {**api_record("django-todo"), "facts": {**FACTS, "commit_count": "many"}}]
    path = write(tmp_path, "bad.json", bad)

    result = run_cli(config, "import", path)

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"fetcher: {path}: record 2 (slug 'django-todo'): facts.commit_count must be an integer from 0 to "
        f'{2**53} or null, got "many"']
    assert not (tmp_path / "test.db").exists()  # nothing written: the files are checked before the store is made


def synced(store, slug, day, **values):
    """Write a fetch of `slug` at `day` as a sync would, facts included."""
    row = store.reads.record(slug)
    fields = {k: v for k, v in values.items() if k in ("repo_watchers", "repo_forks", "pypi_version")}
    found = {k: v for k, v in values.items() if k in FACT_NAMES}
    return store.fetched.save(row["id"], Links.of(row), FetchedRecord(fields, {}, facts=found), day)


@BOTH_BACKENDS
def test_history_and_trending_read_the_store(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json"), str(FIXTURES / "api-v4-django-auth-ldap.json"))
    store = open_store(load(str(config)).store)
    synced(store, "django-todo", datetime(2026, 10, 1, tzinfo=UTC), repo_watchers=100, commit_count=10)
    synced(store, "django-todo", datetime(2026, 11, 10, tzinfo=UTC), repo_watchers=130, commit_count=12)
    synced(store, "django-todo", datetime(2026, 11, 20, tzinfo=UTC), repo_watchers=150, archived=True)
    synced(store, "django-auth-ldap", datetime(2026, 11, 1, tzinfo=UTC), repo_watchers=300)
    synced(store, "django-auth-ldap", datetime(2026, 11, 25, tzinfo=UTC), repo_watchers=310)
    store.close()

    series = json.loads(run_cli(config, "history", "django-todo", "--json").stdout)
    table = run_cli(config, "history", "django-todo").stdout

    participants = len(api_record("django-todo")["participants"])
    version = api_record("django-todo")["pypi_version"]
    assert series == [
        {"date": "2026-10-01", "stars": 100, "forks": 285, "participants": participants, "commit_count": 10,
         "pypi_version": version, "archived": None},
        {"date": "2026-11-10", "stars": 130, "forks": 285, "participants": participants, "commit_count": 12,
         "pypi_version": version, "archived": None},
        {"date": "2026-11-20", "stars": 150, "forks": 285, "participants": participants, "commit_count": 12,
         "pypi_version": version, "archived": True},
    ]
    assert table.splitlines()[0].split() == ["date", "stars", "forks", "participants", "commit_count",
                                             "pypi_version", "archived"]
    assert table.splitlines()[3].split()[:2] == ["2026-11-20", "150"] and table.splitlines()[3].split()[-1] == "yes"

    # From 2026-11-29 (the test's today is the real one, so ask with a window that reaches back far enough).
    days = (datetime.now(UTC).date() - datetime(2026, 10, 31).date()).days
    trending = json.loads(run_cli(config, "trending", "--days", str(days), "--json").stdout)
    assert trending == [
        {"slug": "django-todo", "stars": 150, "gained": 50, "since": "2026-10-01"},  # 100 on the window's eve
        {"slug": "django-auth-ldap", "stars": 310, "gained": 10, "since": "2026-11-01"},  # first seen inside it
    ]
    assert json.loads(run_cli(config, "trending", "--days", str(days), "--limit", "1", "--json").stdout) == \
        trending[:1]
    assert run_cli(config, "trending", "--days", str(days)).stdout.splitlines()[1].split() == \
        ["django-todo", "+50", "150", "2026-10-01"]
    unknown = run_cli(config, "history", "no-such-package")
    assert unknown.exit_code != 0 and "no-such-package" in unknown.stderr
