"""`export` never prints half an array, nor half a list of lines, nor what is not JSON: every record and its facts
are made printable before the first is out, from one read of the store; a value another program stored that
cannot be read is exit 2 naming the store, the package and the column, with nothing on stdout."""

import contextlib
import json
import sqlite3

import pytest

from tests.conftest import FIXTURES

TODO = str(FIXTURES / "api-v4-django-todo.json")
LDAP = str(FIXTURES / "api-v4-django-auth-ldap.json")
FACTS = {"archived": False, "archived_at": None, "commit_count": 12, "license": "MIT", "requires_python": ">=3.9",
         "supports_python3": True, "django_versions": ["4.2", "5.0"], "classifiers": [], "latest_release_at": None,
         "latest_release_yanked": False, "pypi_status": "active", "score": 42}


@pytest.fixture
def two_with_facts(config_file, run_cli, tmp_path):
    """Two packages with facts; django-todo, the second by slug, is the one another program will spoil."""
    config = config_file()
    records = [{**json.loads(open(name).read()), "facts": FACTS} for name in (LDAP, TODO)]
    (tmp_path / "both.json").write_text(json.dumps(records))
    assert run_cli(config, "import", str(tmp_path / "both.json")).exit_code == 0
    return config


def spoil(config, statement: str) -> None:
    with contextlib.closing(sqlite3.connect(config.parent / "test.db")) as db, db:
        db.execute(statement)


@pytest.mark.parametrize(("statement", "why"), [
    ("UPDATE facts SET django_versions = 'not json' WHERE package_id = 409",
     "facts.django_versions is not a JSON list of texts: 'not json'"),
    ("UPDATE facts SET archived_at = 'last week' WHERE package_id = 409",
     "facts.archived_at is not a date-time: 'last week'"),
])  # fmt: skip
@pytest.mark.parametrize("form", [["export", "--facts"], ["export", "--facts", "--jsonl"], ["show", "django-todo",
                                                                                            "--facts"]])
def test_facts_that_cannot_be_printed_stop_before_the_first_byte(two_with_facts, run_cli, statement, why, form):
    spoil(two_with_facts, statement)

    result = run_cli(two_with_facts, *form)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    store = two_with_facts.parent / "test.db"
    assert result.stderr == f"fetcher: {store}: package 'django-todo': {why}\n"


@pytest.mark.parametrize("form", [["export"], ["export", "--jsonl"]])
def test_a_number_json_cannot_hold_stops_before_the_first_byte(two_with_facts, run_cli, form):
    spoil(two_with_facts, "UPDATE package SET repo_forks = 1e999 WHERE slug = 'django-todo'")  # stored as infinity

    result = run_cli(two_with_facts, *form)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == (f"fetcher: {two_with_facts.parent / 'test.db'}: package 'django-todo': repo_forks is "
                             "not an integer: inf\n")


@pytest.mark.parametrize("jsonl", [False, True])
def test_a_whole_export_with_facts_prints_every_record_with_its_facts(two_with_facts, run_cli, jsonl):
    result = run_cli(two_with_facts, "export", "--facts", *(["--jsonl"] if jsonl else []))

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()] if jsonl else json.loads(result.stdout)
    assert [(r["slug"], r["facts"]["score"], r["facts"]["django_versions"]) for r in records] == [
        ("django-auth-ldap", 42, ["4.2", "5.0"]), ("django-todo", 42, ["4.2", "5.0"])]
