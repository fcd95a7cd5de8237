"""The catalogue is the person's: what import takes, what a changed link clears, what a sync may write, remove."""

import json
from datetime import datetime, timezone

import httpx
import respx

from fetcher.config import load
from fetcher.durations import parse_duration
from fetcher.links import Links
from fetcher.run import loop
from fetcher.record import validate
from fetcher.store import open_store
from fetcher.store.fetched import FetchedRecord
from tests.conftest import API, FIXTURES, GitHubRepo, api_record, pypi_route, raw_store, BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

TODO = api_record("django-todo")
FETCHED_OF_TODO = ("repo_forks", "repo_watchers", "repo_description", "participants", "commits_over_52",
                   "last_updated", "pypi_version", "last_fetched", "modified")

# A cached piece of a package, as a test puts one in the store: (package id, resource, ETag).
CACHED_PIECE = ("INSERT INTO resource_cache (package_id, resource, etag, last_modified, value, fetched_at)"
                " VALUES (?, ?, ?, NULL, '{}', '2026-01-01T00:00:00+00:00')")


def show(run_cli, config, slug="django-todo") -> dict:
    result = run_cli(config, "show", slug)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(tmp_path, name, document) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_an_older_file_never_puts_its_fetched_values_back_but_its_catalogue_fields_go_in(config_file, run_cli, tmp_path):
    config = config_file()
    fresher = {**TODO, "repo_forks": 300, "repo_watchers": 900, "pypi_version": "2.6.0",
               "last_fetched": "2026-03-01T00:00:00+00:00", "modified": "2026-03-01T00:00:00+00:00"}
    run_cli(config, "import", write(tmp_path, "fresh.json", fresher))
    older = {**TODO, "title": "Django Todo", "category": "https://djangopackages.org/api/v4/categories/2/",
             "documentation_url": "https://django-todo.example/docs"}  # last_fetched 2026-02-16, older

    result = run_cli(config, "import", write(tmp_path, "old.json", older))

    record = show(run_cli, config)
    assert result.exit_code == 0
    assert "(0 new, 1 updated, 0 unchanged; 1 kept the store's newer fetched values)" in result.stdout
    assert (record["repo_forks"], record["repo_watchers"], record["pypi_version"]) == (300, 900, "2.6.0")
    assert record["last_fetched"] == "2026-03-01T00:00:00+00:00"
    assert record["title"] == "Django Todo" and record["category"].endswith("/categories/2/")
    assert record["documentation_url"] == "https://django-todo.example/docs"
    assert record["modified"] > "2026-11"  # a catalogue value changed, and the record's own modified was not taken


def test_a_newer_file_brings_its_fetched_values(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", write(tmp_path, "todo.json", TODO))
    newer = {**TODO, "repo_forks": 301, "pypi_version": "2.7.0", "last_fetched": "2026-04-01T00:00:00+00:00",
             "modified": "2026-04-01T00:00:00+00:00"}

    result = run_cli(config, "import", write(tmp_path, "newer.json", newer))

    record = show(run_cli, config)
    assert "(0 new, 1 updated, 0 unchanged)" in result.stdout
    assert (record["repo_forks"], record["pypi_version"]) == (301, "2.7.0")
    assert record["last_fetched"] == record["modified"] == "2026-04-01T00:00:00+00:00"


def test_a_record_without_last_fetched_brings_no_fetched_values_to_a_stored_package(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", write(tmp_path, "todo.json", TODO))

    run_cli(config, "import", write(tmp_path, "patch.json", {"slug": "django-todo", "repo_forks": 0, "participants": []}))

    record = show(run_cli, config)
    assert record["repo_forks"] == 285 and record["participants"] == TODO["participants"]


def test_an_api_page_with_a_next_page_is_imported_with_a_warning_naming_it(config_file, run_cli):
    config = config_file()
    nxt = "https://djangopackages.org/api/v4/packages/?limit=1&offset=1"
    page = {"count": 2, "next": nxt, "previous": None, "results": [TODO]}

    result = run_cli(config, "import", "-", input=json.dumps(page))

    assert result.exit_code == 0
    assert result.stderr == f"fetcher: warning: -: one page of a longer listing; the next page, not imported, is {nxt}\n"
    assert "1 records (1 new" in result.stdout


def test_a_page_whose_next_is_not_a_url_is_refused(config_file, run_cli):
    result = run_cli(config_file(), "import", "-", input=json.dumps({"count": 1, "next": 3, "results": [TODO]}))

    assert result.exit_code == 2
    assert result.stderr == "fetcher: <stdin>: 'next' must be a URL or null\n"


def test_clearing_pypi_url_clears_the_version_and_its_cached_piece(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", write(tmp_path, "todo.json", TODO))
    store = config
    with raw_store(store) as db:
        db.execute(CACHED_PIECE, [409, "pypi", '"e"'])
        db.execute(CACHED_PIECE, [409, "repo", '"r"'])
        db.execute("INSERT INTO fetch_state (package_id, consecutive_failures) VALUES (409, 3)")

    run_cli(config, "import", write(tmp_path, "patch.json", {"slug": "django-todo", "pypi_url": ""}))

    record = show(run_cli, config)
    assert record["pypi_url"] == "" and record["pypi_version"] is None
    assert record["last_fetched"] is None  # due at once, for its new links
    assert record["repo_forks"] == 285 and record["participants"] == TODO["participants"]  # the repo's are kept
    with raw_store(store) as db:
        assert db.execute("SELECT resource FROM resource_cache").fetchall() == [("repo",)]
        assert db.execute("SELECT count(*) FROM fetch_state").fetchone() == (0,)  # no rest earned by the old link


def test_a_new_repo_url_clears_the_repository_fields_and_pieces(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", write(tmp_path, "todo.json", TODO))
    with raw_store(config) as db:
        db.execute(CACHED_PIECE, [409, "pypi", None])
        db.execute(CACHED_PIECE, [409, "contributors", None])

    run_cli(config, "import", write(tmp_path, "p.json", {"slug": "django-todo", "repo_url": "https://github.com/o/new"}))

    record = show(run_cli, config)
    assert record["repo_url"] == "https://github.com/o/new"
    assert (record["repo_forks"], record["repo_watchers"], record["repo_description"]) == (0, 0, "")
    assert record["participants"] == record["commits_over_52"] == [] and record["last_updated"] is None
    assert record["pypi_version"] == "2.5.0" and record["last_fetched"] is None
    with raw_store(config) as db:
        assert db.execute("SELECT resource FROM resource_cache").fetchall() == [("pypi",)]


def test_the_same_repository_written_another_way_clears_nothing(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", write(tmp_path, "todo.json", TODO))

    run_cli(config, "import", write(tmp_path, "p.json", {"slug": "django-todo", "repo_url": "https://www.github.com/Shacker/django-todo.git",
                                                         "pypi_url": "https://pypi.org/project/Django_Todo/"}))

    record = show(run_cli, config)
    assert record["repo_forks"] == 285 and record["pypi_version"] == "2.5.0"
    assert record["last_fetched"] == TODO["last_fetched"].replace("-05:00", "+00:00").replace("20:08", "01:08").replace("15T", "16T")


def test_a_newer_record_with_new_links_brings_its_values_for_them(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", write(tmp_path, "todo.json", TODO))
    moved = {**TODO, "repo_url": "https://github.com/o/new", "repo_forks": 9, "last_fetched": "2026-05-01T00:00:00+00:00"}

    run_cli(config, "import", write(tmp_path, "moved.json", moved))

    record = show(run_cli, config)
    assert (record["repo_url"], record["repo_forks"]) == ("https://github.com/o/new", 9)
    assert record["last_fetched"] == "2026-05-01T00:00:00+00:00"


def test_import_refuses_a_pypi_url_add_refuses(config_file, run_cli, tmp_path):
    config = config_file()
    bad = {"slug": "x", "repo_url": "https://github.com/o/x", "pypi_url": "https://example.com/x"}

    imported = run_cli(config, "import", write(tmp_path, "bad.json", bad))
    added = run_cli(config, "add", "x", "--repo-url", "https://github.com/o/x", "--pypi-url", "https://example.com/x")

    assert imported.exit_code == added.exit_code == 2
    assert imported.stderr == (f"fetcher: {tmp_path / 'bad.json'}: record 1 (slug 'x'): "
                               "pypi_url 'https://example.com/x' is not a PyPI project URL\n")
    assert added.stderr == "fetcher: add (slug 'x'): pypi_url 'https://example.com/x' is not a PyPI project URL\n"


# -- remove ----------------------------------------------------------------------


def test_remove_deletes_packages_with_their_state_and_pieces(config_file, run_cli):
    config = config_file()
    run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json"), str(FIXTURES / "api-v4-django-auth-ldap.json"))
    with raw_store(config) as db:
        db.execute(CACHED_PIECE, [409, "pypi", None])
        db.execute("INSERT INTO fetch_state (package_id, consecutive_failures) VALUES (409, 1)")

    result = run_cli(config, "remove", "django-todo")

    assert result.exit_code == 0 and result.stdout == "removed django-todo\n"
    assert [r["slug"] for r in json.loads(run_cli(config, "export").stdout)] == ["django-auth-ldap"]
    with raw_store(config) as db:
        assert db.execute("SELECT count(*) FROM resource_cache").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM fetch_state").fetchone() == (0,)


def test_remove_of_an_unknown_slug_removes_nothing(config_file, run_cli):
    config = config_file()
    run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json"))

    result = run_cli(config, "remove", "django-todo", "nope")

    assert result.exit_code == 2
    assert result.stderr == "fetcher: no package with slug 'nope' in the store\n"
    assert show(run_cli, config)["slug"] == "django-todo"


# -- what a sync may write -----------------------------------------------------------


def package(**fields) -> dict:
    return {"slug": "pkg", "title": "pkg", "repo_url": "https://github.com/owner/pkg",
            "pypi_url": "https://pypi.org/project/pkg/", "created": "2020-01-01T00:00:00+00:00",
            "modified": "2020-01-01T00:00:00+00:00", "repo_forks": 7, "pypi_version": "0.9",
            "last_fetched": "2025-01-01T00:00:00+00:00", **fields}


def setup_store(config_file, *records):
    config = load(str(config_file()))
    store = open_store(config.store)
    store.catalogue.import_records([validate(r, "test") for r in records], configuration_now())
    return config, store


def configuration_now():
    from datetime import datetime, timezone

    return datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@respx.mock
def test_an_edit_while_the_package_is_in_flight_wins_and_nothing_fetched_is_written(config_file, respx_mock, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    config, store = setup_store(config_file, package())
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=99)
    pypi_route(respx_mock, "pkg", "1.0")
    repo_answer = gh.repo.return_value

    def edit_then_answer(request):
        # The person points the package elsewhere while its repository is being asked.
        other = open_store(config.store)
        other.catalogue.import_records([validate({"slug": "pkg", "repo_url": "https://github.com/owner/elsewhere"}, "edit")],
                             configuration_now())
        other.close()
        return repo_answer

    gh.repo.mock(side_effect=edit_then_answer)

    report = loop.run(store, store.schedule.due(None, None), config, "sync", clock=configuration_now)

    row = store.reads.record("pkg")
    assert row["repo_url"] == "https://github.com/owner/elsewhere"
    assert row["repo_forks"] == 0 and row["pypi_version"] == "0.9"  # cleared by the edit; not the old repo's 99
    assert row["last_fetched"] is None  # still due
    assert store.reads.fetch_state("pkg") is None
    assert report.skips == {"links edited during the run": 1} and report.exit_code == 0
    assert list(store.schedule.due(parse_duration("1h"), None, configuration_now()))[0]["slug"] == "pkg"


@respx.mock
def test_a_failure_of_a_link_edited_in_flight_is_not_held_against_the_package(config_file, respx_mock, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    config, store = setup_store(config_file, package())

    def edit_then_fail(request):
        other = open_store(config.store)
        other.catalogue.import_records([validate({"slug": "pkg", "pypi_url": ""}, "edit")], configuration_now())
        other.close()
        return httpx.Response(404, json={"message": "Not Found"})

    respx_mock.get(f"{API}/repos/owner/pkg").mock(side_effect=edit_then_fail)
    pypi_route(respx_mock, "pkg", "1.0")

    report = loop.run(store, store.schedule.due(None, None), config, "sync", clock=configuration_now)

    assert report.exit_code == 0 and report.failures == []
    assert store.reads.fetch_state("pkg") is None


@respx.mock
def test_a_package_removed_in_flight_is_not_written(config_file, respx_mock, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    config, store = setup_store(config_file, package())
    gh = GitHubRepo(respx_mock, "owner/pkg")
    pypi_route(respx_mock, "pkg", "1.0")
    answer = gh.repo.return_value

    def remove_then_answer(request):
        other = open_store(config.store)
        other.catalogue.remove(["pkg"])
        other.close()
        return answer

    gh.repo.mock(side_effect=remove_then_answer)

    report = loop.run(store, store.schedule.due(None, None), config, "sync", clock=configuration_now)

    assert report.skips == {"links edited during the run": 1}
    assert list(store.schedule.due(None, None)) == []


@respx.mock
def test_an_empty_or_foreign_html_url_never_replaces_the_repo_url(config_file, respx_mock, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    config, store = setup_store(config_file, package(slug="a", repo_url="https://github.com/owner/a", pypi_url=""),
                                package(slug="b", repo_url="https://github.com/owner/b", pypi_url=""))
    for name, html_url in (("a", ""), ("b", "https://evil.example/else/b")):
        # GitHub says the repository is now else/NAME, but gives no usable URL on its own host for it.
        renamed = GitHubRepo(respx_mock, f"else/{name}")
        body = json.loads(renamed.repo.return_value.content)
        respx_mock.get(f"{API}/repos/owner/{name}").mock(return_value=httpx.Response(200, json={**body, "html_url": html_url}))

    loop.run(store, store.schedule.due(None, None), config, "sync", clock=configuration_now)

    assert store.reads.record("a")["repo_url"] == "https://github.com/owner/a"
    assert store.reads.record("b")["repo_url"] == "https://github.com/owner/b"
    assert store.reads.record("a")["repo_forks"] == 10  # the rest of the answer is written


# -- what a sync settled in the person's fields: a confirmed move, a documentation_url filled from PyPI ------------

OLD_URL, NEW_URL = "https://github.com/shacker/django-todo", "https://github.com/todo-org/django-todo"
MARCH = datetime(2026, 3, 1, tzinfo=timezone.utc)


def synced_todo(tmp_path, fields: dict):
    """The store after importing django-todo and a sync that wrote `fields` (a confirmed move, PyPI's docs)."""
    store = open_store(tmp_path / "test.db")
    store.catalogue.import_records([validate({**TODO, "documentation_url": ""}, "todo")], MARCH)
    row = store.catalogue.packages(["django-todo"])[0]
    store.fetched.save(row["id"], Links.of(row), FetchedRecord(fields, {}), datetime(2026, 3, 2, tzinfo=timezone.utc))
    return store


def imported(store, **fields):
    result = store.catalogue.import_records([validate({**TODO, "documentation_url": "", **fields}, "todo")],
                                            datetime(2026, 3, 3, tzinfo=timezone.utc))
    return result, store.catalogue.packages(["django-todo"])[0]


def test_a_catalogue_giving_the_old_url_of_a_confirmed_move_changes_nothing(tmp_path):
    store = synced_todo(tmp_path, {"repo_url": NEW_URL, "repo_forks": 7})
    before = store.catalogue.packages(["django-todo"])[0]
    assert before["repo_url"] == NEW_URL and before["last_fetched"] is not None

    for spelling in (OLD_URL, "https://www.github.com/Shacker/django-todo.git"):
        result, after = imported(store, repo_url=spelling)
        assert (result.updated, after) == (0, before)


def test_a_catalogue_giving_another_repository_still_clears_and_forgets_the_move(tmp_path):
    store = synced_todo(tmp_path, {"repo_url": NEW_URL, "repo_forks": 7})

    result, after = imported(store, repo_url="https://github.com/someone/else")
    assert result.updated == 1 and after["repo_forks"] == 0 and after["last_fetched"] is None
    assert store.db.select("SELECT * FROM repo_move") == []
    _, back = imported(store, repo_url=OLD_URL)  # no longer an old URL of this package's repository: a change
    assert back["repo_url"] == OLD_URL


def test_a_move_back_to_an_old_url_makes_it_the_url_and_the_other_the_old_one(tmp_path):
    store = synced_todo(tmp_path, {"repo_url": NEW_URL})
    row = store.catalogue.packages(["django-todo"])[0]
    store.fetched.save(row["id"], Links.of(row), FetchedRecord({"repo_url": OLD_URL}, {}),
                       datetime(2026, 3, 4, tzinfo=timezone.utc))

    assert [(r["old_url"], r["new_url"]) for r in store.db.select("SELECT * FROM repo_move")] == [(NEW_URL, OLD_URL)]
    result, after = imported(store, repo_url=NEW_URL)
    assert result.updated == 0 and after["repo_url"] == OLD_URL


def test_an_empty_documentation_url_keeps_the_one_pypi_filled_and_a_given_one_replaces_it(tmp_path):
    store = synced_todo(tmp_path, {"documentation_url": "https://django-todo.readthedocs.io/"})
    before = store.catalogue.packages(["django-todo"])[0]

    for empty in ("", None):
        result, after = imported(store, documentation_url=empty)
        assert (result.updated, after) == (0, before)

    result, after = imported(store, documentation_url="https://todo.example/docs")  # the person's, as given
    assert result.updated == 1 and after["documentation_url"] == "https://todo.example/docs"
    result, after = imported(store, documentation_url="")  # and now the person's empty value is theirs too
    assert result.updated == 1 and after["documentation_url"] == ""


def test_migration_6_takes_a_stored_documentation_url_pypis_kept_answer_gives_as_filled(tmp_path):

    store = open_store(tmp_path / "test.db")
    store.catalogue.import_records([validate({**TODO, "documentation_url": "https://todo.example/docs"}, "t"),
                                    validate({**api_record("django-auth-ldap")}, "l")], MARCH)
    with store.db.write():
        for slug, docs in (("django-todo", "https://todo.example/docs"), ("django-auth-ldap", "https://other/")):
            package_id = store.catalogue.packages([slug])[0]["id"]
            store.db.execute("INSERT INTO resource_cache (package_id, resource, value, fetched_at) VALUES (?, 'pypi', ?, ?)",
                             [package_id, json.dumps({"documentation_url": docs, "documentation_url_exact": None}),
                              "2026-03-02T00:00:00.000000+00:00"])
        for column in ("worker_id", "host", "pid"):  # what migration 7 adds: a store from before 6 had none
            store.db.execute(f"ALTER TABLE sync_run DROP COLUMN {column}")
        store.db.execute("PRAGMA user_version = 5")  # a store from before it
    store.close()

    store = open_store(tmp_path / "test.db")

    filled = store.db.select("SELECT package.slug, url FROM filled_documentation JOIN package ON package.id = package_id")
    assert filled == [{"slug": "django-todo", "url": "https://todo.example/docs"}]
