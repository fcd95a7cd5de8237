"""The readers (show, export, history, trending, status) on a store this user may not write: a store and directory
another user owns, and a read-only mount. They work, write nothing, and read an older store as its migrations would
have left it; status still fails, exit 2, where there is no store. Each command is the real one, in a process of
its own, as an unprivileged user."""

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fetcher.store.schema import MIGRATIONS
from fetcher.store.shape import added_columns
from tests.cli.test_secrets import _as_nobody
from tests.conftest import FIXTURES, ROOT

# Each reader once, in the form that reads the most of the store: the record with its fetch state, every record
# with its facts, the history, trending, and status (the run rows, the failing packages, the pending sparkline).
READERS = [["show", "django-todo", "--pretty"], ["export", "--facts"], ["history", "django-todo"], ["trending"],
           ["status"]]
PENDING = "sparkline not updated: GitHub was still computing it (202)"
BEFORE_PENDING = 4  # migration 5 added fetch_state.pending


def fetcher(config: Path, *args: str, user: list[str] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FETCHER_CONFIG", "GITHUB_TOKEN")}
    return subprocess.run([*user, sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


def a_store(folder: Path) -> Path:
    """A store of two packages, one failing and one whose sparkline GitHub was still computing, and one run."""
    config = folder / "config.toml"
    # The imported records were fetched long ago: no stale alarm, so status exits 0 as every reader.
    config.write_text('[store]\npath = "packages.db"\n\n[status]\nstale_factor = 0\n')
    assert fetcher(config, "import", str(FIXTURES / "api-v4-django-todo.json"),
                   str(FIXTURES / "api-v4-django-auth-ldap.json")).returncode == 0
    with contextlib.closing(sqlite3.connect(folder / "packages.db")) as db, db:
        db.execute("""INSERT INTO fetch_state (package_id, last_attempt, last_error, last_error_at,
                                               consecutive_failures, failing_since)
                      SELECT id, '2026-01-02T00:00:00+00:00', 'server error 502', '2026-01-02T00:00:00+00:00', 2,
                             '2026-01-01T00:00:00+00:00' FROM package WHERE slug = 'django-todo'""")
        db.execute("""INSERT INTO fetch_state (package_id, last_attempt, note, pending)
                      SELECT id, '2026-01-02T00:00:00+00:00', ?, 1 FROM package WHERE slug = 'django-auth-ldap'""",
                   [PENDING])
        db.execute("""INSERT INTO history (package_id, date, stars, forks, participants)
                      SELECT id, '2026-01-01', 10, 1, 2 FROM package WHERE slug = 'django-todo'""")
        db.execute("""INSERT INTO sync_run (command, started, finished, packages, synced, unchanged, failed, skipped,
                                            pending, requests, not_modified, retries, graphql_points, points, seconds,
                                            rate_limit_wait, deferred)
                      VALUES ('sync', '2026-01-02T00:00:00+00:00', '2026-01-02T00:00:09+00:00', 2, 0, 0, 1, 0, 1, 9,
                              0, 0, 0, 7, 9.0, 0, 0)""")
    return config


def undo_migrations(store: Path, keep: int) -> None:
    """The store as a fetcher that knew `keep` migrations left it: the later ones' columns gone, and no views or
    view record, which came later still."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'view'").fetchall():
            db.execute(f"DROP VIEW {name}")
        db.execute("DROP TABLE fetcher_view")
        for table, column in (pair for each in added_columns(MIGRATIONS)[keep:] for pair in each):
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute(f"PRAGMA user_version = {keep}")
        db.execute("VACUUM")


def read_all(config: Path, user: list[str]) -> dict[str, str]:
    """What every reader prints; each must succeed (status: 0, no package has failed 3 times yet)."""
    printed = {}
    for command in READERS:
        result = fetcher(config, *command, user=user)
        assert result.returncode == 0, (command, result.stderr)
        assert result.stderr == "", command
        printed[" ".join(command)] = result.stdout
    printed["status"] = printed["status"].split("\n", 1)[1]  # its first line is the store's path and size
    status = fetcher(config, "status", "--json", user=user)
    assert status.returncode == 0, status.stderr
    printed["status --json"] = {k: v for k, v in json.loads(status.stdout).items() if k != "store"}
    return printed


@pytest.fixture
def unwritable(shared_tmp):
    """A folder holding a config and a store, then neither the store nor the folder writable by the test's user."""
    folder = shared_tmp / "data"
    folder.mkdir()
    config = a_store(folder)
    yield config

    folder.chmod(0o755)


def lock(folder: Path) -> None:
    (folder / "packages.db").chmod(0o444)
    folder.chmod(0o555)  # not even a -shm file can be made beside the store


def test_every_reader_works_on_a_store_and_directory_the_user_may_not_write_and_writes_nothing(unwritable):
    folder = unwritable.parent
    lock(folder)
    before = (folder / "packages.db").read_bytes()

    printed = read_all(unwritable, _as_nobody())

    assert (folder / "packages.db").read_bytes() == before
    assert sorted(path.name for path in folder.iterdir()) == ["config.toml", "packages.db"]
    assert printed["status --json"]["packages"] == 2 and printed["status --json"]["sparklines_kept"] == 1
    assert [run["command"] for run in printed["status --json"]["runs"]] == ["sync"]


def test_an_older_store_reads_as_its_migrations_would_leave_it_without_being_migrated(unwritable):
    folder = unwritable.parent
    current = read_all(unwritable, [])
    undo_migrations(folder / "packages.db", BEFORE_PENDING)
    lock(folder)
    before = (folder / "packages.db").read_bytes()

    older = read_all(unwritable, _as_nobody())

    assert older == current  # the note says the sparkline is pending, as migration 5 would have read it
    assert (folder / "packages.db").read_bytes() == before
    with contextlib.closing(sqlite3.connect(f"file:{folder / 'packages.db'}?mode=ro", uri=True)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (BEFORE_PENDING,)


def test_status_where_there_is_no_store_is_exit_2_and_creates_nothing(shared_tmp):
    config = shared_tmp / "config.toml"
    # The imported records were fetched long ago: no stale alarm, so status exits 0 as every reader.
    config.write_text('[store]\npath = "packages.db"\n\n[status]\nstale_factor = 0\n')
    shared_tmp.chmod(0o555)
    try:
        result = fetcher(config, "--quiet", "status", user=_as_nobody())
    finally:
        shared_tmp.chmod(0o755)

    assert result.returncode == 2
    assert result.stderr == (f"fetcher: {shared_tmp / 'packages.db'}: no store there (`fetcher import FILE` or "
                             f"`fetcher add` creates one) (config: {config})\n")
    assert sorted(path.name for path in shared_tmp.iterdir()) == ["config.toml"]


@pytest.fixture
def read_only_mount():
    """A small file system mounted read-only once a store is on it; skipped where this machine will not mount."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a file system needs root and mount(8)")
    point = Path(tempfile.mkdtemp(prefix="fetcher-ro-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(point)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        point.rmdir()
        pytest.skip(f"this machine refuses to mount a tmpfs: {mounted.stderr.strip()}")

    def remount_read_only() -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True)

    try:
        yield point, remount_read_only
    finally:
        subprocess.run(["umount", str(point)], check=True, capture_output=True)
        point.rmdir()


def test_every_reader_works_on_a_read_only_mount_and_a_writer_is_75(read_only_mount):
    point, remount_read_only = read_only_mount
    config = a_store(point)
    remount_read_only()

    printed = read_all(config, [])

    assert [record["slug"] for record in json.loads(printed["export --facts"])] == ["django-auth-ldap", "django-todo"]
    assert printed["status --json"]["packages"] == 2 and printed["status --json"]["sparklines_kept"] == 1
    for command in (["import", str(FIXTURES / "api-v4-django-todo.json")], ["remove", "django-todo"]):
        result = fetcher(config, *command)
        assert result.returncode == 75, (command, result.stderr)
        assert result.stderr == (f"fetcher: {point / 'packages.db'}: cannot write the store: the store is read-only; "
                                 f"nothing was lost, re-run when it can (config: {config})\n")
