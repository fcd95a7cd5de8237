"""A store that cannot be written now: disk full, a file-size limit, locked past the busy timeout; an internal error
mid-run."""

import contextlib
import json
import resource
import signal
import sqlite3
import subprocess
import sys

import pytest

from fetcher import cli
from fetcher.run import loop
from fetcher.store import schema
from fetcher.store import open_store
from tests.conftest import FIXTURES, GitHubRepo, ROOT, pypi_route

TODO = str(FIXTURES / "api-v4-django-todo.json")


def export(run_cli, config) -> list[dict]:
    result = run_cli(config, "export")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_full_disk_stops_the_sync_with_75_naming_the_store_and_loses_nothing(config_file, run_cli, respx_mock, monkeypatch):
    config = config_file()
    run_cli(config, "import", TODO)
    before = export(run_cli, config)

    def full(path, create, read_only=False):
        opened = open_store(path, create=create, read_only=read_only)
        # No page past those it has: the first write that needs one fails as on a full disk.
        pages = opened.db.execute("PRAGMA page_count").fetchone()[0]
        opened.db.execute(f"PRAGMA max_page_count = {pages}")
        return opened

    monkeypatch.setattr(cli, "open_store", full)
    GitHubRepo(respx_mock, "shacker/django-todo", contributors=[f"someone-{i}" for i in range(3000)])
    pypi_route(respx_mock, "django-todo", "2.6.0")

    result = run_cli(config, "sync")

    store = config.parent / "test.db"
    assert result.exit_code == 75, result.output
    assert result.stderr == ""
    assert result.stdout.endswith(
        f"; stopped early: {store}: cannot write the store: the disk is full; nothing was lost, re-run when it can\n"
    )
    assert result.stdout.count("\n") == 1
    monkeypatch.undo()
    assert export(run_cli, config) == before
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_store_locked_by_another_writer_past_the_busy_timeout_is_75_naming_it(config_file, run_cli, monkeypatch):
    config = config_file()
    run_cli(config, "import", TODO)
    store = config.parent / "test.db"
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 50)
    other = sqlite3.connect(store, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        result = run_cli(config, "import", str(FIXTURES / "api-v4-django-auth-ldap.json"))
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert result.exit_code == 75
    # Opening the store shapes it in a write transaction, so the lock may be met there: the
    # message then also names the config that pointed at the store.
    assert result.stderr.startswith(
        f"fetcher: {store}: cannot write the store: another program held the store's write lock past the busy "
        "timeout; nothing was lost, re-run when it can"
    )
    assert result.stderr.count("\n") == 1
    assert [r["slug"] for r in export(run_cli, config)] == ["django-todo"]


def test_an_internal_error_mid_run_is_70_and_the_run_is_recorded_as_stopped(config_file, run_cli, respx_mock, monkeypatch):
    config = config_file()
    run_cli(config, "import", TODO)

    async def broken(self, item):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(loop._Run, "_sync_one", broken)

    result = run_cli(config, "sync")

    assert result.exit_code == 70
    assert result.stderr == "fetcher: internal error: ZeroDivisionError: division by zero (--verbose shows where)\n"
    with sqlite3.connect(config.parent / "test.db") as db:
        assert db.execute("SELECT stopped FROM sync_run").fetchall() == [
            ("internal error: ZeroDivisionError: division by zero",)
        ]


@pytest.mark.parametrize("command", [["show", "x"], ["export"], ["sync"], ["refresh", "x"], ["remove", "x"]])
def test_commands_that_need_a_store_never_create_one_and_name_the_path_and_the_config(config_file, run_cli, command):
    config = config_file()

    result = run_cli(config, *command)

    store = config.parent / "test.db"
    assert result.exit_code == 2
    assert result.stderr == (
        f"fetcher: {store}: no store there (`fetcher import FILE` or `fetcher add` creates one) (config: {config})\n"
    )
    assert not store.exists()


def test_without_a_config_the_message_says_built_in_defaults(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = run_cli(None, "export")

    assert result.exit_code == 2
    assert result.stderr.endswith("(config: built-in defaults)\n")
    assert not (tmp_path / "packages.db").exists()


@pytest.mark.parametrize("command", [["export"], ["sync"], ["import", TODO]])
def test_a_store_with_a_second_hard_link_is_refused(config_file, run_cli, command):
    config = config_file()
    run_cli(config, "import", TODO)
    store = config.parent / "test.db"
    (config.parent / "again.db").hardlink_to(store)

    result = run_cli(config, *command)

    assert result.exit_code == 2
    assert result.stderr.startswith(f"fetcher: {store}: the store file has 2 hard links; ")



def test_show_and_export_read_a_store_nobody_may_write_and_write_nothing(shared_tmp):
    from tests.cli.test_secrets import _as_nobody

    data = shared_tmp / "data"
    data.mkdir()
    config = data / "config.toml"
    config.write_text('[store]\npath = "packages.db"\n')
    assert subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), "import", TODO],
                          capture_output=True, cwd=ROOT).returncode == 0
    store = data / "packages.db"
    store.chmod(0o444)
    data.chmod(0o555)  # not even a -shm file can be made beside it
    before = store.read_bytes()

    try:
        shown = subprocess.run([*_as_nobody(), sys.executable, "-m", "fetcher", "--config", str(config), "export"],
                               capture_output=True, text=True, cwd=ROOT, timeout=60)
    finally:
        data.chmod(0o755)

    assert shown.returncode == 0, shown.stderr
    assert [r["slug"] for r in json.loads(shown.stdout)] == ["django-todo"]
    assert store.read_bytes() == before
    assert sorted(p.name for p in data.iterdir()) == ["config.toml", "packages.db"]


def _file_size_limit(limit: int):
    """For a child process: writes past `limit` bytes of any file fail with EFBIG (SIGXFSZ ignored, as a
    quota's EDQUOT fails them): SQLite's disk I/O error."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_file_size_limit_met_writing_is_75_naming_the_store_and_loses_nothing(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[store]\npath = "packages.db"\n')
    store = tmp_path / "packages.db"
    command = [sys.executable, "-m", "fetcher", "--config", str(config)]
    assert subprocess.run([*command, "import", TODO], capture_output=True, cwd=ROOT).returncode == 0
    before = subprocess.run([*command, "export"], capture_output=True, cwd=ROOT, check=True).stdout
    many = [{"slug": f"pkg-{n}", "repo_url": f"https://github.com/o/pkg-{n}", "repo_description": "d" * 400}
            for n in range(3000)]  # a transaction of megabytes: the write-ahead log must grow past the limit
    (tmp_path / "many.json").write_text(json.dumps(many))

    limited = subprocess.run([*command, "import", str(tmp_path / "many.json")], capture_output=True, text=True,
                             cwd=ROOT, timeout=60, preexec_fn=_file_size_limit(store.stat().st_size))

    assert limited.returncode == 75, limited.stderr
    assert limited.stderr == (
        f"fetcher: {store}: cannot write the store: the disk refused a write (disk I/O error: a file-size limit, a "
        "disk quota or a failing disk); nothing was lost, re-run when it can\n"
    )
    assert subprocess.run([*command, "export"], capture_output=True, cwd=ROOT, check=True).stdout == before
    with contextlib.closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
