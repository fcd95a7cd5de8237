"""`fetcher show SLUG --pretty`: the record for a person; the default output stays the API's JSON."""

import json
from datetime import datetime, timedelta, timezone

from fetcher.show.text import ago, size, sparkline
from fetcher.links import Links
from fetcher.store import open_store
from fetcher.store.fetched import FetchedRecord
from tests.conftest import FIXTURES, api_record

TODO = str(FIXTURES / "api-v4-django-todo.json")
WEEKS = [0] * 44 + [0, 1, 2, 3, 4, 5, 6, 7]


def test_sparkline_scales_to_the_busiest_week():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 50, 100]) == "▁▅█"
    assert sparkline([0] * 3) == "▁▁▁" and sparkline([]) == ""


def test_relative_times_and_sizes():
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    assert ago(now - timedelta(seconds=20), now) == "just now"
    assert ago(now - timedelta(minutes=1), now) == "1 minute ago"
    assert ago(now - timedelta(days=3, hours=5), now) == "3 days ago"
    assert ago(now + timedelta(hours=2), now) == "in 2 hours"
    assert ago(now - timedelta(days=800), now) == "2 years ago"
    assert ago(None, now) == "never"
    assert (size(812), size(90_192), size(3_400_000)) == ("812 bytes", "90.2 kB", "3.4 MB")


def test_show_pretty_draws_the_record_and_its_fetch_state(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", TODO)
    store = open_store(tmp_path / "test.db")
    package = store.catalogue.packages(["django-todo"])[0]
    package_id, links = package["id"], Links.of(package)
    fetched = datetime.now(timezone.utc) - timedelta(hours=3, minutes=5)
    store.fetched.save(package_id, links, FetchedRecord({"commits_over_52": WEEKS}, {}), fetched)
    store.fetched.record_failure(package_id, links, "server error 502 (https://api.github.com/repos/shacker/django-todo)", fetched + timedelta(hours=1))  # fmt: skip

    result = run_cli(config, "show", "django-todo", "--pretty")

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "django-todo"
    assert "repository:   https://github.com/shacker/django-todo" in lines
    assert "PyPI:         http://pypi.python.org/pypi/django-todo" in lines
    assert "docs:         https://github.com/shacker/django-todo/wiki/Overview-and-screenshots" in lines
    assert "version:      2.5.0" in lines
    assert "stars:        845    forks: 285    participants: 20" in lines
    assert f"52 weeks:     {'▁' * 44}▁▂▃▄▅▆▇█  28 commits, at most 7 a week" in lines
    assert "last commit:  4 years ago (2022-11-03 06:16 UTC)" in lines
    assert f"last fetch:   3 hours ago ({fetched:%Y-%m-%d %H:%M} UTC)" in lines
    failed = fetched + timedelta(hours=1)
    assert f"failing:      1 time in a row, since 2 hours ago ({failed:%Y-%m-%d %H:%M} UTC)" in lines
    assert "last error:   server error 502 (https://api.github.com/repos/shacker/django-todo)" in lines


def test_show_without_pretty_is_the_api_json_byte_for_byte(config_file, run_cli):
    config = config_file(timezone="America/New_York")  # the zone Django Packages prints in
    run_cli(config, "import", TODO)

    result = run_cli(config, "show", "django-todo")

    expected = api_record("django-todo")
    assert json.loads(result.stdout) == expected
    assert result.stdout == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"


def test_show_pretty_with_facts_adds_a_line_for_each_fact(config_file, run_cli, tmp_path):
    config = config_file(timezone="America/New_York")
    facts = {"archived": True, "archived_at": "2026-03-01T12:00:00+00:00", "commit_count": 1234,
             "license": ["BSD License", "MIT License"], "requires_python": ">=3.8", "supports_python3": True,
             "django_versions": ["4.2", "5.0"], "classifiers": [], "latest_release_at": "2025-11-03T06:16:00+00:00",
             "latest_release_yanked": True, "pypi_status": "archived", "score": 845}
    (tmp_path / "todo.json").write_text(json.dumps({**api_record("django-todo"), "facts": facts}))
    assert run_cli(config, "import", str(tmp_path / "todo.json")).exit_code == 0

    plain = run_cli(config, "show", "django-todo", "--pretty").stdout.splitlines()
    lines = run_cli(config, "show", "django-todo", "--pretty", "--facts").stdout.splitlines()

    assert lines[: len(plain)] == plain and not any(line.startswith("license:") for line in plain)
    assert lines[len(plain) :] == [
        "license:      BSD License, MIT License",
        f"archived:     yes, since {ago(datetime(2026, 3, 1, 12, tzinfo=timezone.utc), datetime.now(timezone.utc))}"
        " (2026-03-01 12:00 UTC)",
        "Python 3:     yes (requires_python >=3.8)",
        "Django:       4.2, 5.0",
        "PyPI status:  archived",
        f"release:      {ago(datetime(2025, 11, 3, 6, 16, tzinfo=timezone.utc), datetime.now(timezone.utc))}"
        " (2025-11-03 06:16 UTC), yanked",
        "commits:      1,234",
        "score:        845",
    ]


def test_show_pretty_with_facts_before_any_sync_says_there_are_none_yet(config_file, run_cli):
    config = config_file()
    run_cli(config, "import", TODO)

    lines = run_cli(config, "show", "django-todo", "--pretty", "--facts").stdout.splitlines()

    assert lines[-1] == "facts:        none yet: the next sync finds them"
