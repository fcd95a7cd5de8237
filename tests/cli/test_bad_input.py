"""Bad input is never 70: one line on stderr naming what is wrong and where, exit 2, and the store as it was.

Each input here once ended in a traceback's last line and exit 70: a URL urlsplit cannot split, numbers past
SQLite's 64 bits, a lone surrogate SQLite cannot store, JSON nested past Python's recursion limit, and windows
and limits too large for a date or a LIMIT.
"""

import json
import sqlite3

import pytest

from tests.cli.test_commands import TODO, export

BAD_HOST = "https://[x/owner/name"  # urlsplit: ValueError("Invalid IPv6 URL")


@pytest.fixture
def stored(config_file, run_cli):
    """A config whose store holds one package, and what `export` prints of it."""
    config = config_file()
    assert run_cli(config, "import", TODO).exit_code == 0
    return config, export(run_cli, config)


def refused(result, line: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr == line + "\n"
    assert result.stdout == ""


def test_add_refuses_a_repo_url_urlsplit_cannot_split(stored, run_cli):
    config, before = stored

    result = run_cli(config, "add", "x", "--repo-url", BAD_HOST)

    refused(result, f"fetcher: add (slug 'x'): repo_url '{BAD_HOST}' is not a URL: Invalid IPv6 URL")
    assert export(run_cli, config) == before


@pytest.mark.parametrize("field", ["repo_url", "pypi_url"])
def test_import_refuses_a_link_urlsplit_cannot_split(stored, run_cli, tmp_path, field):
    config, before = stored
    record = {"slug": "x", "repo_url": "https://github.com/o/x", field: BAD_HOST}
    (tmp_path / "bad.json").write_text(json.dumps(record))

    result = run_cli(config, "import", str(tmp_path / "bad.json"))

    refused(result, f"fetcher: {tmp_path / 'bad.json'}: record 1 (slug 'x'): {field} '{BAD_HOST}' is not a URL: "
                    "Invalid IPv6 URL")
    assert export(run_cli, config) == before


@pytest.mark.parametrize("field", ["repo_url", "pypi_url"])
def test_a_stored_link_urlsplit_cannot_split_fails_its_package_and_the_run_goes_on(stored, run_cli, respx_mock, field):
    config, _ = stored
    assert run_cli(config, "add", "elsewhere", "--repo-url", "https://example.org/o/elsewhere").exit_code == 0
    with sqlite3.connect(config.parent / "test.db") as db:  # written by another program, or before the check
        db.execute(f"UPDATE package SET {field} = ? WHERE slug = 'django-todo'", [BAD_HOST])

    result = run_cli(config, "sync")

    assert result.exit_code == 1, result.output
    assert result.stderr == f"failed django-todo: {field} '{BAD_HOST}' is not a URL: Invalid IPv6 URL\n"
    assert "2 of 2 packages" in result.stdout and "1 failed, 1 skipped" in result.stdout  # the other one was taken


@pytest.mark.parametrize(("field", "value", "line"), [
    ("id", 2**63, "id must be at most 9223372036854775807 (SQLite's integers are 64 bits), got 9223372036854775808"),
    ("id", 2**64 + 5, "id must be at most 9223372036854775807 (SQLite's integers are 64 bits), got 18446744073709551621"),
    ("repo_forks", 2**63, "repo_forks must be at most 9007199254740992, past any real count, got 9223372036854775808"),
    ("repo_watchers", 10**30, "repo_watchers must be at most 9007199254740992, past any real count, "
                              "got 1000000000000000000000000000000"),
    ("commits_over_52", [1, 2**63], "commits_over_52 must hold counts of at most 9007199254740992, "
                                    "got [1, 9223372036854775808]"),
    ("title", "\ud800", 'title must be UTF-8 text (a lone surrogate is not), got "\\ud800"'),
    ("repo_description", "a\udfffb", 'repo_description must be UTF-8 text (a lone surrogate is not), got "a\\udfffb"'),
    ("category", "\ud800", 'category must be UTF-8 text (a lone surrogate is not), got "\\ud800"'),
    ("pypi_version", "1.\udc80", 'pypi_version must be UTF-8 text (a lone surrogate is not), got "1.\\udc80"'),
    ("documentation_url", "\ud800", 'documentation_url must be UTF-8 text (a lone surrogate is not), got "\\ud800"'),
    ("grids", ["ok", "\ud800"], 'grids must be UTF-8 text (a lone surrogate is not), got ["ok", "\\ud800"]'),
    ("participants", ["\udbff"], 'participants must be UTF-8 text (a lone surrogate is not), got ["\\udbff"]'),
])  # fmt: skip
def test_import_refuses_what_sqlite_cannot_store_naming_the_field(stored, run_cli, tmp_path, field, value, line):
    config, before = stored
    record = {"slug": "django-todo", "repo_url": "https://github.com/shacker/django-todo", field: value}
    # As a JSON file holds them: big numbers as digits, a lone surrogate as its \u escape.
    (tmp_path / "bad.json").write_text(json.dumps([record]))

    result = run_cli(config, "import", str(tmp_path / "bad.json"))

    refused(result, f"fetcher: {tmp_path / 'bad.json'}: record 1 (slug 'django-todo'): {line}")
    assert export(run_cli, config) == before


def test_add_refuses_a_title_that_is_not_utf8(stored, run_cli):
    config, before = stored

    # What Python makes of an argument holding the byte 0xff: a lone surrogate.
    result = run_cli(config, "add", "x", "--repo-url", "https://github.com/o/x", "--title", "caf\udcff")

    refused(result, 'fetcher: add (slug \'x\'): title must be UTF-8 text (a lone surrogate is not), got "caf\\udcff"')
    assert export(run_cli, config) == before


@pytest.mark.parametrize("command", ["show", "history", "refresh", "remove"])
def test_a_slug_argument_that_is_not_utf8_is_no_package(stored, run_cli, command):
    config, before = stored

    result = run_cli(config, command, "django-todo\udcff")

    refused(result, "fetcher: no package with slug 'django-todo\\udcff' in the store")
    assert export(run_cli, config) == before


@pytest.mark.parametrize("stdin", [False, True])
def test_json_nested_past_the_recursion_limit_is_named_not_a_crash(stored, run_cli, tmp_path, stdin):
    config, before = stored
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep.json").write_text(deep)

    result = run_cli(config, "import", "-", input=deep) if stdin else \
        run_cli(config, "import", str(tmp_path / "deep.json"))

    label = "<stdin>" if stdin else tmp_path / "deep.json"
    refused(result, f"fetcher: {label}: JSON nested too deeply to be a catalogue")
    assert export(run_cli, config) == before


@pytest.mark.parametrize(("command", "option", "value", "bound"), [
    ("trending", "--days", "99999999999", "1<=x<=3650"),
    ("trending", "--days", "3651", "1<=x<=3650"),
    ("trending", "--limit", str(2**64), "1<=x<=10000000"),
    ("sync", "--limit", str(2**64), "1<=x<=10000000"),
])  # fmt: skip
def test_a_window_or_limit_past_its_bound_is_clicks_range_error(stored, run_cli, command, option, value, bound):
    config, before = stored

    result = run_cli(config, command, option, value)

    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: Invalid value for '{option}': {value} is not in the range {bound}.\n")
    assert export(run_cli, config) == before


def test_the_bounds_themselves_are_taken(stored, run_cli):
    config, _ = stored

    result = run_cli(config, "trending", "--days", "3650", "--limit", "10000000")

    assert result.exit_code == 0, result.output
