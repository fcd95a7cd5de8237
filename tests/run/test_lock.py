"""One run at a time: an overlapping sync stops at once, a refresh waits, a killed run leaves nothing stuck."""

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fetcher.errors import StoreBusy
from fetcher.run.lock import lock_path, run_lock
from tests.conftest import FIXTURES

HOLD = """
import sys, time
from pathlib import Path
from fetcher.run.lock import run_lock
with run_lock(Path(sys.argv[1]), "sync"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(store: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the store's lock, the way a running `fetcher sync` does."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(store), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_is_refused_at_once_naming_the_holder(tmp_path):
    store = tmp_path / "packages.db"
    holder = hold_lock(store, 30)
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy) as refused:
            with run_lock(store, "sync"):
                pass
        assert time.monotonic() - started < 1
        assert f"fetcher sync (pid {holder.pid}, since " in str(refused.value)
        assert str(lock_path(store)) in str(refused.value)
        assert refused.value.exit_code == 75
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_the_lock_free(tmp_path):
    store = tmp_path / "packages.db"
    holder = hold_lock(store, 30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    with run_lock(store, "sync"):
        assert lock_path(store).read_text().startswith(f"fetcher sync (pid {os.getpid()}")
    assert lock_path(store).read_text() == ""


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(tmp_path):
    store = tmp_path / "packages.db"
    holder = hold_lock(store, 0.5)
    started = time.monotonic()

    with run_lock(store, "refresh", wait_seconds=10):
        waited = time.monotonic() - started
    holder.wait()

    assert 0.2 < waited < 5


def test_a_waiting_run_gives_up_after_its_wait(tmp_path):
    store = tmp_path / "packages.db"
    holder = hold_lock(store, 30)
    try:
        with pytest.raises(StoreBusy, match=r"after waiting 1s; try again later"):
            with run_lock(store, "refresh", wait_seconds=1):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_cli_sync_exits_75_while_another_sync_runs(config_file, run_cli, tmp_path):
    config = config_file()
    assert run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json")).exit_code == 0
    holder = hold_lock(tmp_path / "test.db", 30)
    try:
        result = run_cli(config, "sync")
    finally:
        holder.kill()
        holder.wait()

    assert result.exit_code == 75
    assert result.stderr.startswith(f"fetcher: fetcher sync (pid {holder.pid}, since ")
    assert result.stdout == ""


def test_cli_refresh_waits_for_the_lock_then_gives_up_with_75(config_file, run_cli, tmp_path, monkeypatch):
    from fetcher import cli

    monkeypatch.setattr(cli, "REFRESH_LOCK_WAIT", 0.5)
    config = config_file()
    run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json"))
    holder = hold_lock(tmp_path / "test.db", 30)
    try:
        started = time.monotonic()
        result = run_cli(config, "refresh", "django-todo")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()

    assert result.exit_code == 75 and waited >= 0.5
    assert "holds the store's run lock" in result.stderr and "after waiting" in result.stderr


def test_refresh_waits_thirty_seconds_by_default():
    from fetcher import cli

    assert cli.REFRESH_LOCK_WAIT == 30


def test_a_store_reached_through_a_symlink_is_held_by_the_same_lock(tmp_path):
    real = tmp_path / "data" / "packages.db"
    real.parent.mkdir()
    link = tmp_path / "link.db"
    link.symlink_to(real)
    holder = hold_lock(real, 30)
    try:
        with pytest.raises(StoreBusy):
            with run_lock(link, "sync"):
                pass
    finally:
        holder.kill()
        holder.wait()


UNDER_A_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
from fetcher.errors import FetcherError
from fetcher.run.lock import run_lock
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # not a byte more: a full quota
try:
    with run_lock(Path(sys.argv[1]), "sync"):
        print("ran")
except FetcherError as exc:
    print(f"{type(exc).__name__} {exc.exit_code}: {exc}")
"""


def test_a_run_lock_the_disk_will_not_let_be_written_is_75_not_a_crash(tmp_path):
    store = tmp_path / "packages.db"

    ran = subprocess.run([sys.executable, "-c", UNDER_A_SIZE_LIMIT, str(store)], capture_output=True, text=True,
                         timeout=60)

    assert ran.stdout == (f"StoreUnavailable 75: {lock_path(store)}: cannot write the run lock: File too large; re-run "
                          "when it can\n"), ran.stderr


def test_a_waiting_run_is_told_once_who_holds_the_lock(tmp_path):
    store = tmp_path / "packages.db"
    holder = hold_lock(store, 0.8)
    told = []

    with run_lock(store, "refresh", wait_seconds=10, waiting=told.append):
        pass
    holder.wait()

    assert [{key: who[key] for key in ("command", "pid")} for who in told] == [{"command": "sync", "pid": holder.pid}]


def test_a_free_lock_tells_no_one_of_waiting(tmp_path):
    told = []
    with run_lock(tmp_path / "packages.db", "refresh", wait_seconds=10, waiting=told.append):
        pass
    assert told == []


REFRESH = "import sys; from fetcher import cli; cli.REFRESH_LOCK_WAIT = 0.5; cli.main()"


def refresh_on_a_terminal(config: Path, *options: str) -> tuple[int, str]:
    """`fetcher [OPTIONS] refresh django-todo` with its stderr on a pseudo-terminal: (exit code, what it showed)."""
    controller, terminal = pty.openpty()
    env = {name: value for name, value in os.environ.items() if not name.endswith("_TOKEN")}
    try:
        done = subprocess.run([sys.executable, "-c", REFRESH, "--config", str(config), *options, "refresh",
                               "django-todo"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal,
                              env={**env, "PYTHONIOENCODING": "utf-8"}, timeout=120)  # fmt: skip
    finally:
        os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the terminal's other end is closed and all was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return done.returncode, shown.decode("utf-8").replace("\r\n", "\n")


def test_a_refresh_waiting_on_a_terminal_says_for_which_sync(config_file, run_cli, tmp_path):
    config = config_file()
    run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json"))
    holder = hold_lock(tmp_path / "test.db", 30)
    try:
        code, shown = refresh_on_a_terminal(config)
        quiet_code, quiet = refresh_on_a_terminal(config, "--quiet")
    finally:
        holder.kill()
        holder.wait()

    assert code == 75 and shown.startswith(f"waiting for sync (pid {holder.pid})…\nfetcher: fetcher sync (pid ")
    assert shown.count("waiting for") == 1
    assert quiet_code == 75 and quiet.startswith(f"fetcher: fetcher sync (pid {holder.pid}, since ")
    assert "waiting for" not in quiet  # --quiet asked for silence


def test_a_refresh_waiting_off_a_terminal_prints_what_it_did(config_file, run_cli, tmp_path, monkeypatch):
    from fetcher import cli

    monkeypatch.setattr(cli, "REFRESH_LOCK_WAIT", 0.5)
    config = config_file()
    run_cli(config, "import", str(FIXTURES / "api-v4-django-todo.json"))
    holder = hold_lock(tmp_path / "test.db", 30)
    try:
        piped = run_cli(config, "refresh", "django-todo")  # stderr is no terminal here: cron, a pipe, a file
        monkeypatch.setattr(cli, "_on_terminal", lambda: True)
        told = run_cli(config, "refresh", "django-todo")
    finally:
        holder.kill()
        holder.wait()

    assert piped.stderr.startswith(f"fetcher: fetcher sync (pid {holder.pid}, since ") and piped.stderr.count("\n") == 1
    assert told.stderr == f"waiting for sync (pid {holder.pid})…\n" + piped.stderr
