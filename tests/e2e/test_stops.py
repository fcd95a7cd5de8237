"""Stops are clean: SIGTERM and SIGINT to a real `fetcher sync`, an edit made while it runs, a closed stdout."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fetcher.standin import StandIn, World, github_full_name
from tests.conftest import BOTH_BACKENDS, ROOT, raw_store

FETCHED = ("repo_forks", "repo_watchers", "repo_description", "participants", "commits_over_52", "pypi_version")


def fetcher(config: Path, *args: str, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    return subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, **popen)


def finished(config: Path, *args: str) -> subprocess.CompletedProcess:
    process = fetcher(config, *args)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def write_config(tmp_path: Path, standin: StandIn, extra: str = "", store: str = 'path = "store.db"') -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\n{store}\n[github]\napi_url = "{standin.url}"\npace = false\n'
        f'[pypi]\nurl = "{standin.url}"\n[sync]\nconcurrency = 2\n[http]\nbackoff = 0\n{extra}'
    )
    return config


def fetched_count(store) -> int:
    with raw_store(store) as db:
        return db.execute("SELECT count(*) FROM package WHERE last_fetched IS NOT NULL").fetchone()[0]


def exported(config: Path) -> dict[str, dict]:
    result = finished(config, "export")
    assert result.returncode == 0, result.stderr
    return {record["slug"]: record for record in json.loads(result.stdout)}


@BOTH_BACKENDS
@pytest.mark.parametrize("sent, code", [(signal.SIGTERM, 75), (signal.SIGINT, 130)])
def test_a_signal_stops_the_sync_cleanly_records_why_and_the_next_run_finishes(tmp_path, sent, code, store_at,
                                                                               store_toml, backend):
    packages = 16
    world, catalog = World.generate(packages, seed=5, renamed=0, missing=0, empty=0, cold_stats=0.0)
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    store = store_at
    with StandIn(world, latency=0.04, stats_delay=0) as standin:
        config = write_config(tmp_path, standin, store=store_toml)
        assert finished(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        run = fetcher(config, "sync")
        deadline = time.monotonic() + 60
        while fetched_count(store) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        run.send_signal(sent)
        out, err = run.communicate(timeout=15)

        name = signal.Signals(sent).name
        assert run.returncode == code, err
        assert err == ""
        assert out.count("\n") == 1 and out.endswith(f"; stopped early: interrupted by {name}\n")
        if backend == "sqlite":
            with sqlite3.connect(store) as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with raw_store(store) as db:
            rows = [tuple(row) for row in db.execute("SELECT command, stopped, synced FROM sync_run").fetchall()]
        done = fetched_count(store)
        assert rows == [("sync", f"interrupted by {name}", done)]
        assert 3 <= done < packages
        records = exported(config)
        for record in catalog:  # every record whole: the old version or the new one
            got = records[record["slug"]]
            want = world.expected_fields(record) if got["last_fetched"] else record
            assert {f: got[f] for f in FETCHED} == {f: want[f] for f in FETCHED}

        rerun = finished(config, "sync")

    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith(f"sync: {packages - done} of {packages - done} packages")
    assert fetched_count(store) == packages


def hold_answers(standin: StandIn, path: str) -> tuple[threading.Event, threading.Event]:
    """Make the stand-in hold its answers to `path` until released: (asked, release)."""
    asked, release = threading.Event(), threading.Event()
    respond = standin.respond

    def held(method, target, request, body=b""):
        if target == path:
            asked.set()
            release.wait(60)
        return respond(method, target, request, body)

    standin.respond = held
    return asked, release


@BOTH_BACKENDS
def test_an_edit_imported_during_a_real_sync_survives_and_nothing_fetched_for_the_old_url_is_written(tmp_path, store_toml):
    world, catalog = World.generate(4, seed=8, renamed=0, missing=0, empty=0, cold_stats=0.0)
    edited, other = catalog[0], catalog[1]
    old_name = github_full_name(edited["repo_url"])
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps({"slug": edited["slug"], "repo_url": other["repo_url"]}))
    with StandIn(world, stats_delay=0) as standin:
        config = write_config(tmp_path, standin, store=store_toml)
        assert finished(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        # The edited package's weekly counts are held back, so it is in flight when the edit lands.
        asked, release = hold_answers(standin, f"/repos/{old_name}/stats/participation")
        run = fetcher(config, "sync")
        assert asked.wait(30)

        imported = finished(config, "import", str(edit))
        release.set()
        out, err = run.communicate(timeout=60)

        assert imported.returncode == 0, imported.stderr
        assert run.returncode == 0, err
        assert out.startswith("sync: 4 of 4 packages") and "(1 links edited during the run)" in out
        record = exported(config)[edited["slug"]]
        assert record["repo_url"] == other["repo_url"]
        assert (record["repo_forks"], record["repo_watchers"], record["participants"]) == (0, 0, [])
        assert record["last_fetched"] is None  # still due

        rerun = finished(config, "sync")

    assert rerun.returncode == 0 and rerun.stdout.startswith("sync: 1 of 1 packages"), rerun.stdout + rerun.stderr
    record = exported(config)[edited["slug"]]
    wanted = world.expected_fields(other)
    assert {f: record[f] for f in FETCHED if f != "pypi_version"} == {f: wanted[f] for f in FETCHED if f != "pypi_version"}


def test_a_closed_stdout_ends_export_quietly(tmp_path):
    world, catalog = World.generate(300, seed=2)
    for record in catalog:
        record["repo_description"] = "x" * 500  # well past a pipe's buffer in all
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    config = tmp_path / "config.toml"
    config.write_text('[store]\npath = "store.db"\n')
    assert finished(config, "import", str(tmp_path / "catalog.json")).returncode == 0

    export = fetcher(config, "export")
    assert export.stdout.readline() == "[\n"
    export.stdout.close()  # what `| head -1` does once it has its line
    err = export.stderr.read()
    export.wait(30)

    assert err == ""
    assert export.returncode == 141


def catches(pid: int, signum: int) -> bool:
    """Whether the process has installed a handler for the signal (Linux: SigCgt in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads SigCgt from /proc")
def test_a_signal_while_refresh_waits_for_the_run_lock_is_one_line_and_75(tmp_path):
    from tests.run.test_lock import hold_lock

    config = tmp_path / "config.toml"
    config.write_text('[store]\npath = "store.db"\n')
    (tmp_path / "p.json").write_text(json.dumps({"slug": "p", "repo_url": "https://github.com/o/p"}))
    assert finished(config, "import", str(tmp_path / "p.json")).returncode == 0
    holder = hold_lock(tmp_path / "store.db", 30)
    try:
        waiting = fetcher(config, "refresh", "p")
        deadline = time.monotonic() + 30
        while not catches(waiting.pid, signal.SIGTERM) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # well into its wait for the lock
        waiting.send_signal(signal.SIGTERM)
        out, err = waiting.communicate(timeout=15)
    finally:
        holder.kill()
        holder.wait()

    assert waiting.returncode == 75
    assert (out, err) == ("", "fetcher: interrupted by SIGTERM\n")


def test_a_stdout_closed_before_show_writes_ends_it_quietly(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[store]\npath = "store.db"\n')
    (tmp_path / "p.json").write_text(json.dumps({"slug": "p", "repo_url": "https://github.com/o/p"}))
    assert finished(config, "import", str(tmp_path / "p.json")).returncode == 0

    show = fetcher(config, "show", "p")
    show.stdout.close()  # the reader is gone before fetcher has even started
    err = show.stderr.read()
    show.wait(30)

    assert err == ""
    assert show.returncode == 141


class Trickle(ThreadingHTTPServer):
    """A GitHub that answers GET /rate_limit a byte at a time, for longer than any test waits; nothing else."""

    daemon_threads = True

    def __init__(self):
        self.asked = threading.Event()
        self.closing = threading.Event()
        super().__init__(("127.0.0.1", 0), _TrickleHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _TrickleHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/rate_limit":
            self.send_error(404)
            return
        self.server.asked.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):  # 1,000 bytes at 0.2 s each: a few minutes, ended early by the test's close
            if self.server.closing.wait(0.2):
                return
            self.wfile.write(b" ")
            self.wfile.flush()

    def log_message(self, format, *args) -> None:
        pass


def test_sigterm_while_the_budgets_are_asked_stops_the_sync_at_once_with_75(tmp_path, monkeypatch):
    # The tokens' budgets are asked before a sync is planned, through the run's own client: a signal there
    # stops the run as it would anywhere else (it used to be swallowed, and the next token asked in turn).
    server = Trickle()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{server.url}"\n'
                      'token_env = ["STOP_ONE", "STOP_TWO", "STOP_THREE"]\npace = false\n'
                      f'[pypi]\nurl = "{server.url}"\n[http]\ntimeout = 60\n')
    assert finished(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg").returncode == 0
    for env, token in (("STOP_ONE", "ghp_stop_token_one_AAAA"), ("STOP_TWO", "ghp_stop_token_two_BBBB"),
                       ("STOP_THREE", "ghp_stop_token_three_CC")):
        monkeypatch.setenv(env, token)
    process = fetcher(config, "sync")
    try:
        assert server.asked.wait(60), "the budgets were never asked"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        server.closing.set()
        server.shutdown()
        server.server_close()

    assert process.returncode == 75, err
    assert "stopped early: interrupted by SIGTERM" in out + err


def test_a_trickled_budget_answer_is_given_up_at_the_whole_requests_deadline_and_the_run_goes_on(tmp_path):
    # GET /rate_limit, asked before the run is planned, is bounded like every request: a body trickling a byte at
    # a time ends at 3 x http.timeout, that token is left unplanned, and the run goes on (here, to a GitHub that
    # knows no repository: the package fails, the run ends by itself).
    server = Trickle()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{server.url}"\ngraphql = false\n'
                      f'token_env = "STOP_ONE"\npace = false\n[pypi]\nurl = "{server.url}"\n'
                      '[http]\ntimeout = 1\nretries = 0\n')
    assert finished(config, "add", "pkg", "--repo-url", "https://github.com/o/pkg").returncode == 0
    env = {**os.environ, "STOP_ONE": "ghp_stop_token_one_AAAA"}
    try:
        done = subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), "sync"], capture_output=True,
                              text=True, env=env, cwd=ROOT, timeout=90)
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()

    assert server.asked.is_set()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed pkg: not found" in done.stderr
