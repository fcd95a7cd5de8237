"""Run a module as ``__main__`` and write, as it ends, this process's own peak RSS in KiB.

``python -m bench.peak MODULE ARGS...`` behaves as ``python -m MODULE ARGS...`` and, however
the module ends, writes ``VmHWM`` from ``/proc/self/status`` to the file named by
``BENCH_PEAK_FILE``.

Why not ``ru_maxrss`` from ``wait4``: Linux carries the parent's high-water mark into the child's
across fork and exec (exec keeps the larger of the two in the process's ``maxrss``). The bench's
parent holds the whole generated world and the stand-in, so ``ru_maxrss`` reported the bench's
size, not the child's (400 MB for a 100,000-package world whatever the child did). ``VmHWM`` belongs
to the memory map exec created, so it is the child's alone.

With ``BENCH_PROFILE_DIR`` set, the module also runs under cProfile, its statistics written to
``PID.prof`` in that directory as it ends (wall-clock times: what a worker waits for shows too).
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import runpy
import sys
from typing import Iterator

PEAK_FILE = "BENCH_PEAK_FILE"


def own_peak_kib() -> int | None:
    """This process's peak resident set (VmHWM), in KiB; None where /proc does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


@contextlib.contextmanager
def profiled(directory: str | None) -> Iterator[None]:
    """Under cProfile, its statistics written to DIRECTORY/PID.prof however the block ends; as is without one."""
    if not directory:
        yield
        return
    with cProfile.Profile() as profile:
        try:
            yield
        finally:
            profile.dump_stats(os.path.join(directory, f"{os.getpid()}.prof"))


def main() -> None:
    module, sys.argv = sys.argv[1], sys.argv[1:]
    try:
        with profiled(os.environ.get("BENCH_PROFILE_DIR")):
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        peak, path = own_peak_kib(), os.environ.get(PEAK_FILE)
        if peak is not None and path:
            with open(path, "w", encoding="ascii") as out:
                out.write(str(peak))


if __name__ == "__main__":
    main()
