"""One fetch run at a time per store.

An advisory lock (flock) on a file beside the store: the kernel drops it when
its process ends, however it ends, so a run killed with SIGKILL cannot leave
it stuck. The holder writes who it is into the file for the next one to name.
"""

import fcntl
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from fetcher.errors import StoreBusy

POLL_SECONDS = 0.2


def lock_path(store_path: Path, kind: str = "") -> Path:
    """STORE.lock beside the database file itself, symlinks resolved: every way to the store meets one lock.
    A `kind` of lock of its own (STORE.import.lock: one directory walk at a time) does not wait for the runs'.

    A second name made by a hard link is refused when the store is opened (fetcher.store).
    """
    real = store_path.resolve()
    return real.with_name(real.name + (f".{kind}" if kind else "") + ".lock")


@contextmanager
def run_lock(store_path: Path, command: str, wait_seconds: float = 0.0, kind: str = "") -> Iterator[None]:
    """Hold the store's run lock (or the lock of `kind`); StoreBusy (exit 75) naming the holder if it is not free
    in time."""
    path = lock_path(store_path, kind)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreBusy(f"{path}: cannot open the run lock: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait_seconds
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait_seconds:.0f}s" if wait_seconds else ""
                raise StoreBusy(f"{_holder(fd)} holds the store's run lock ({path}){waited}; try again later")
            time.sleep(POLL_SECONDS)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"fetcher {command} (pid {os.getpid()}, since {stamp})".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    return text or "another fetcher run"
