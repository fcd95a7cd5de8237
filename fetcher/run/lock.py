"""One fetch run at a time per store.

An advisory lock (flock) on a file beside the store: the kernel drops it when
its process ends, however it ends, so a run killed with SIGKILL cannot leave
it stuck. The holder writes who it is into the file for the next one to name,
and for `status` to read without taking the lock. A PostgreSQL store's syncs take no run lock: any number of
workers share it, each claiming its packages (store/claims.py); its other locks (one `import --from-api` at a
time) are the server's advisory locks (fetcher.store.postgres.run_lock), dropped when their connection ends.
"""

import contextlib
import fcntl
import os
import re
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, ContextManager, Iterator

from fetcher.errors import StoreBusy, StoreUnavailable
from fetcher.location import Location, is_postgres

POLL_SECONDS = 0.2
STAMP = "%Y-%m-%d %H:%M:%S UTC"
# What the holder writes: "fetcher sync (pid 123, since 2026-12-07 17:11:00 UTC)".
_HOLDER = re.compile(r"fetcher ([a-z]+) \(pid ([1-9][0-9]{0,9}), since (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)\)")


def lock_path(store_path: Path, kind: str = "") -> Path:
    """STORE.lock beside the database file itself, symlinks resolved: every way to the store meets one lock.
    A `kind` of lock of its own (STORE.import.lock: one directory walk at a time) does not wait for the runs'.

    A second name made by a hard link is refused when the store is opened (fetcher.store).
    """
    real = store_path.resolve()
    return real.with_name(real.name + (f".{kind}" if kind else "") + ".lock")


@contextmanager
def run_lock(store_path: Location, command: str, wait_seconds: float = 0.0,
             waiting: Callable[[dict | None], None] | None = None, kind: str = "") -> Iterator[None]:
    """Hold the store's run lock (or the lock of `kind`); StoreBusy (exit 75) naming the holder if it is not free
    in time.

    `waiting(holder)` is called once when the lock must be waited for, with who holds it (as `holder`
    reads it; None when its words cannot be read)."""
    if is_postgres(store_path):
        from fetcher.store import postgres

        with postgres.run_lock(store_path, command, wait_seconds, kind):
            yield
        return
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
            if waiting:
                waiting(_read(_holder(fd)))
                waiting = None  # once
            time.sleep(POLL_SECONDS)
        stamp = datetime.now(timezone.utc).strftime(STAMP)
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


def sync_lock(store_path: Location, command: str, wait_seconds: float = 0.0,
              waiting: Callable[[dict | None], None] | None = None) -> ContextManager[None]:
    """What a sync or refresh holds while it runs: a SQLite store's run lock (one run per file); none for a
    PostgreSQL store, whose workers, any number of them, claim their packages instead (store/claims.py)."""
    if is_postgres(store_path):
        return contextlib.nullcontext()
    return run_lock(store_path, command, wait_seconds, waiting)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    return text or "another fetcher run"


def holder(store_path: Location) -> dict | None:
    """The run holding the store's lock, as its holder wrote it: {command, pid, since (ISO 8601)}; None when none.

    Read from the file alone: the lock is never taken, so asking never delays a run. What a run killed
    with SIGKILL left behind is believed only while a process of that pid lives. (A PostgreSQL store's holder
    is the server's to say: not read here, None.)
    """
    if is_postgres(store_path):
        return None
    try:
        with open(lock_path(store_path), "rb") as file:
            text = file.read(200).decode(errors="replace").strip()
    except OSError:  # no lock file: no run yet; or one this user may not read
        return None
    found = _read(text)
    return found if found is not None and _alive(found["pid"]) else None


def _read(text: str) -> dict | None:
    """{command, pid, since} from what a holder wrote; None from anything else."""
    found = _HOLDER.fullmatch(text)
    if found is None:
        return None
    since = datetime.strptime(found[3], STAMP).replace(tzinfo=timezone.utc)
    return {"command": found[1], "pid": int(found[2]), "since": since.isoformat()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: asks whether it exists, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    except OverflowError:
        return False
    return True
