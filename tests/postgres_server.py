"""A throwaway PostgreSQL cluster for the tests: a real server, in a temporary directory, on a free port.

`pytest` starts one for the session when FETCHER_TEST_POSTGRES_URL is not set and PostgreSQL's server
binaries are found (initdb and pg_ctl on PATH, or under /usr/lib/postgresql/*/bin); it listens on
127.0.0.1 and a socket in its own directory, trusts the test user, and is stopped and removed when the
session ends, or by a watchdog once pytest is gone, should it be killed before its teardown.
`python -m tests.postgres_server` starts one and prints its URL, for trying things by hand (Ctrl-C or SIGTERM
stops and removes it).
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER = "fetcher"
DATABASE = "fetcher_test"
# A throwaway cluster needs no durability: nothing is fsynced, and it starts and answers quicker.
SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200",
            "listen_addresses=127.0.0.1")


def binaries() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, else the newest Debian-style install; None without them."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent  # a symlink on PATH: the directory of the real binaries
    installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4])
                       if path.split("/")[4].isdigit() else 0)
    return Path(installed[-1]).parent if installed else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Run beside the cluster: once the process that started it is gone however it ended (a SIGKILL, a SIGTERM that ran
# no teardown), the server is stopped and its directory removed; once the directory is gone (stopped), it ends.
WATCHDOG = """
import os, shutil, subprocess, sys, time
parent, command, folder = int(sys.argv[1]), sys.argv[2:-1], sys.argv[-1]
while os.path.isdir(folder):
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)
        break
    time.sleep(1)
"""


class Cluster:
    """initdb, start, a database for the tests; `stop()` stops the server and removes every file of it."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="fetcher-postgres-"))
        self.data = self.dir / "data"
        self.port = free_port()
        # initdb refuses root: the server runs as the `postgres` user then, in a directory it owns.
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir)

    def start(self) -> "Cluster":
        if self.owner:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        try:
            self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-locale")
            options = " ".join([f"-p {self.port}", f"-k {self.dir}", *(f"-c {setting}" for setting in SETTINGS)])
            self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "-t", "60",
                      "start")
            self._watch()
            import psycopg

            with psycopg.connect(f"postgresql://{USER}@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE}")
        except BaseException:
            self.stop()
            raise
        return self

    def _watch(self) -> None:
        stop = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        if self.owner:
            stop = ["runuser", "-u", self.owner, "--", *stop]
        subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), *stop, str(self.dir)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _interrupted(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupted)  # `kill` stops it as Ctrl-C does: the cluster removed
    where = binaries()
    if where is None:
        raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl) found")
    cluster = Cluster(where).start()
    print(f"FETCHER_TEST_POSTGRES_URL={cluster.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
