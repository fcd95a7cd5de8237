"""fetcher-standin from the command line: its spellings, and how a shell knows it is ready and stops it."""

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx

from fetcher.standin import cli
from tests.conftest import ROOT


def test_catalogue_is_the_documented_spelling_and_catalog_still_works():
    options = cli.parser()
    for spelling in ("--catalogue", "--catalog"):
        args = options.parse_args([spelling, "packages.json"])
        assert args.catalogue == Path("packages.json") and args.packages is None
    for spelling in ("--catalogue-out", "--catalog-out"):
        args = options.parse_args(["--packages", "3", spelling, "out.json"])
        assert args.catalogue_out == Path("out.json") and args.packages == 3
    usage = options.format_help()
    assert "--catalogue FILE, --catalog FILE" in usage and "--catalogue-out PATH, --catalog-out PATH" in usage


# --- a real fetcher-standin, started, made ready, asked, stopped -----------------------------------------
# Readiness is waited for only as documented: the config file appearing (--config-out), the config on stdout,
# or --detach returning. PATIENCE bounds each wait so a broken run fails instead of hanging; nothing is timed.

CATALOGUE = ROOT / "examples" / "packages.json"
PATIENCE = 120
DETACHED = re.compile(r"fetcher-standin: serving (http://127\.0\.0\.1:\d+) \(pid (\d+)\); stop it with: kill \2\n")


def standin(*args: str) -> list[str]:
    return [sys.executable, "-m", "fetcher.standin", *args]


def get(url: str) -> httpx.Response:
    with httpx.Client(timeout=PATIENCE, trust_env=False) as client:  # loopback only, whatever the environment says
        return client.get(url)


def refused(url: str) -> bool:
    try:
        get(url)
    except httpx.ConnectError:
        return True
    return False


def wait_for_file(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + PATIENCE
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    """Whether the process has ended (a zombie waiting for init to reap it has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    if not Path("/proc").is_dir():
        return False  # no way to tell a zombie: it is there
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def stop_detached(pid: int) -> None:
    """SIGTERM, as the printed line says; then wait until the process has ended."""
    if not gone(pid):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + PATIENCE
    while not gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"the detached stand-in {pid} did not stop on SIGTERM")
        time.sleep(0.05)


def end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_config_out_is_written_once_it_listens_and_sigterm_stops_it_cleanly(tmp_path):
    config, pid_file, catalogue = tmp_path / "config.toml", tmp_path / "standin.pid", tmp_path / "catalogue.json"
    process = subprocess.Popen(
        standin("--packages", "4", "--catalogue-out", str(catalogue), "--port", "0",
                "--config-out", str(config), "--pid-file", str(pid_file)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_for_file(config, process)
        settings = tomllib.loads(config.read_text())
        url = settings["github"]["api_url"]
        assert pid_file.read_text() == f"{process.pid}\n"
        assert len(json.loads(catalogue.read_text())) == 4
        assert get(f"{url}/rate_limit").status_code == 200
        assert get(f"{settings['pypi']['url']}/pypi/django-pkg1/json").json()["info"]["name"] == "django-pkg1"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=PATIENCE)
    finally:
        end(process)

    assert process.returncode == 0, err
    assert out == ""  # the config went to the file
    assert "fetcher-standin: serving http://127.0.0.1:" in err and "Traceback" not in err
    assert not pid_file.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["catalogue.json", "config.toml"]  # no temporary left
    assert refused(f"{url}/rate_limit")


def test_the_config_on_stdout_says_it_is_ready_and_ctrl_c_stops_it_cleanly(tmp_path):
    # Unbuffered, so reading the first line leaves the rest of the config to communicate().
    process = subprocess.Popen(standin("--catalog", str(CATALOGUE), "--port", "0"), bufsize=0,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)  # fmt: skip
    try:
        assert select.select([process.stdout], [], [], PATIENCE)[0], "no config on stdout"
        first = process.stdout.readline().decode()  # printed once the server listens, in one write
        assert first.startswith("# fetcher against the stand-in at http://127.0.0.1:"), process.communicate()
        url = first.split()[-1]
        assert get(f"{url}/rate_limit").status_code == 200
        process.send_signal(signal.SIGINT)
        out, err = (stream.decode() for stream in process.communicate(timeout=PATIENCE))
    finally:
        end(process)

    assert process.returncode == 0, err
    settings = tomllib.loads(first + out)
    assert settings["github"]["api_url"] == url and settings["hosts"]  # the catalogue's forge hosts too
    assert "Traceback" not in err
    assert refused(f"{url}/rate_limit")


def test_detach_returns_once_it_listens_with_the_config_on_stdout_and_how_to_stop_it(tmp_path):
    pid_file = tmp_path / "standin.pid"
    command = standin("--catalogue", str(CATALOGUE), "--port", "0", "--detach", "--pid-file", "standin.pid")
    started = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=PATIENCE)
    said = DETACHED.fullmatch(started.stderr)
    assert started.returncode == 0 and said, started.stderr
    url, pid = said[1], int(said[2])
    try:
        assert pid_file.read_text() == f"{pid}\n"
        settings = tomllib.loads(started.stdout)
        assert settings["github"]["api_url"] == url and settings["hosts"]
        assert get(f"{url}/rate_limit").status_code == 200
        forge = next(iter(settings["hosts"].values()))["api_url"]
        assert get(forge).status_code == 404  # a forge host answers too: no such route at its API root
    finally:
        stop_detached(pid)

    assert not pid_file.exists()
    assert refused(f"{url}/rate_limit")


def test_detach_with_config_out_leaves_stdout_empty_and_the_config_whole(tmp_path):
    config = tmp_path / "config.toml"
    started = subprocess.run(standin("--packages", "3", "--port", "0", "--detach", "--config-out", str(config)),
                             capture_output=True, text=True, cwd=tmp_path, timeout=PATIENCE)  # fmt: skip
    said = DETACHED.fullmatch(started.stderr)
    assert started.returncode == 0 and said, started.stderr
    url, pid = said[1], int(said[2])
    try:
        assert started.stdout == ""
        assert tomllib.loads(config.read_text())["pypi"]["url"] == url
        assert get(f"{url}/pypi/django-pkg2/json").status_code == 200
    finally:
        stop_detached(pid)

    assert refused(f"{url}/rate_limit")


def test_a_port_in_use_is_said_plainly_and_nothing_is_left_serving(tmp_path):
    pid_file = tmp_path / "standin.pid"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        foreground = subprocess.run(standin("--packages", "2", "--port", port, "--pid-file", str(pid_file)),
                                    capture_output=True, text=True, cwd=tmp_path, timeout=PATIENCE)  # fmt: skip
        detached = subprocess.run(standin("--packages", "2", "--port", port, "--pid-file", str(pid_file), "--detach"),
                                  capture_output=True, text=True, cwd=tmp_path, timeout=PATIENCE)  # fmt: skip

    for run in (foreground, detached):
        assert run.returncode == 1, run.stderr
        assert f"fetcher-standin: cannot listen on 127.0.0.1:{port}" in run.stderr
        assert "Traceback" not in run.stderr and run.stdout == ""
    assert "stopped before it was ready (exit 1)" in detached.stderr
    assert not pid_file.exists()
