"""Serving in the background: a forked server tells the command it is ready over a pipe, then lets go of the terminal.

The command returns only once the server has said it is ready (or has
stopped), so whatever runs next can use it: no sleep, no polling, no race.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

# The ready message: a function the server calls once, with what the command should say.
Ready = Callable[[dict[str, Any]], None]


def supported() -> bool:
    return hasattr(os, "fork") and hasattr(os, "setsid")


def detach(serve: Callable[[Ready], int]) -> dict[str, Any] | int:
    """Run ``serve(ready)`` in a new session in the background; the message it sent once ready, or its exit code.

    ``serve`` calls ``ready(message)`` once it is ready: the message goes to this
    process, and the server's standard input, output and error become
    ``/dev/null`` so that the command's output ends when the command does. If it
    stops before it is ready, its exit code is returned (what it wrote on the
    way is on standard error already).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server
        os.close(reader)
        _serve_detached(serve, writer)
    os.close(writer)
    try:
        with os.fdopen(reader, "rb") as pipe:
            message = pipe.read()  # until the server closes its end: ready, or gone
    except KeyboardInterrupt:
        os.kill(pid, signal.SIGTERM)  # not ready yet, and nobody is waiting for it any more
        raise
    if not message:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) or 1
    return json.loads(message)


def _serve_detached(serve: Callable[[Ready], int], writer: int) -> None:
    """The forked process: serve in a session of its own, and never return into the command's code."""
    code = 1
    try:
        os.setsid()  # no controlling terminal: a hangup or a Ctrl-C meant for the shell does not reach it

        def ready(message: dict[str, Any]) -> None:
            sys.stdout.flush()
            sys.stderr.flush()
            quiet = os.open(os.devnull, os.O_RDWR)
            for stream in (0, 1, 2):
                os.dup2(quiet, stream)
            os.close(quiet)
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(json.dumps(message).encode())

        code = serve(ready)
    except BaseException:  # noqa: BLE001 -- whatever happened, this process must not go on as the command
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
