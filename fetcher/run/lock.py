"""One fetch run at a time per store.

An advisory lock (flock) on a file beside the store: the kernel drops it when
its process ends, however it ends, so a run killed with SIGKILL cannot leave
it stuck. The holder writes who it is into the file for the next one to name.
A PostgreSQL store's run lock is the server's advisory lock instead
(fetcher.store.postgres.run_lock), dropped when its connection ends.
"""

import fcntl
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from fetcher.errors import StoreBusy, StoreUnavailable
from fetcher.location import Location, is_postgres

POLL_SECONDS = 0.2


def lock_path(store_path: Path) -> Path:
    """STORE.lock beside the database file itself, symlinks resolved: every way to the store meets one lock.

    A second name made by a hard link is refused when the store is opened (fetcher.store).
    """
    real = store_path.resolve()
    return real.with_name(real.name + ".lock")


@contextmanager
def run_lock(store_path: Location, command: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the store's run lock; StoreBusy (exit 75) naming the holder if it is not free in time."""
    if is_postgres(store_path):
        from fetcher.store import postgres

        with postgres.run_lock(store_path, command, wait_seconds):
            yield
        return
    path = lock_path(store_path)
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
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"fetcher {command} (pid {os.getpid()}, since {stamp})".encode(), 0)
        except OSError as exc:  # a full disk, a quota or a file-size limit: the store could not be written either
            raise StoreUnavailable(f"{path}: cannot write the run lock: {exc.strerror}; re-run when it can") from None
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
