"""The HTTP server (uvicorn): listen, serve until SIGTERM or SIGINT, stop cleanly.

The socket is bound here, before uvicorn starts, so `--port 0` can say which port it got; uvicorn's own log
lines go through fetcher's logging (text or JSON), and its access log is replaced by the app's `access` event.
"""

import logging
import os
import signal
import socket
from collections.abc import Callable

import uvicorn

from fetcher.config import Config
from fetcher.errors import UsageError
from fetcher.logs import event
from fetcher.serve.answers import Serving
from fetcher.serve.app import create

log = logging.getLogger("fetcher.serve")
EXIT_INTERRUPTED = 130  # Ctrl-C, as for every command
GRACE_SECONDS = 10  # how long answers in flight may take to finish after SIGTERM


def run(settings: Config, host: str, port: int, workers: int, say: Callable[[str], None] | None) -> int:
    """`fetcher serve`: listen on host:port, say so (`say` a line, or None for the `listening` event), serve."""
    serving = Serving(settings.timezone, settings.store, settings.serve_cache_seconds,
                      settings.serve_last_sync_within)  # fmt: skip
    sock = listen(host, port)

    def listening(url: str) -> None:
        if say is None:
            log.info("serving %s/api/v4/", url, extra=event("listening", url=url, store=str(settings.store)))
        else:
            say(f"serving {url}/api/v4/ from {settings.store} (SIGTERM or Ctrl-C stops)")

    return serve(serving, sock, listening, workers)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0: a free port); UsageError naming the address when it cannot be had."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]  # fmt: skip
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(serving: Serving, sock: socket.socket, listening: Callable[[str], None], workers: int = 1) -> int:
    """Serve on `sock` until SIGTERM (exit 0) or SIGINT (130); `listening(url)` is called once it accepts.

    With more than one worker, as many processes are forked, each a server on the same socket (the kernel
    hands each connection to one of them), and this one only waits: a signal it gets is passed on to each.
    """
    if workers <= 1:
        return _serve_here(serving, sock, lambda: listening(url_of(sock)))
    children: list[int] = []
    received: list[int] = []

    def forward(number, frame) -> None:
        received.append(number)
        _signal_all(children, signal.SIGTERM)

    # Taken before the first fork, so no signal finds this process without it while workers exist.
    before = {number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:  # a worker: serves until signalled, then leaves without running the parent's cleanup
                code = 70
                try:
                    for number in before:
                        signal.signal(number, signal.SIG_DFL)
                    os.setpgid(0, 0)  # Ctrl-C at a terminal reaches the parent alone, which passes it on once
                    code = _serve_here(serving, sock, lambda: None)
                finally:
                    os._exit(code)
            children.append(pid)
            if received:  # stopped while forking: the ones forked so far have been told
                os.kill(pid, signal.SIGTERM)
        listening(url_of(sock))
        sock.close()  # the workers have it
        failed = _wait_for(children, received)
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
    if failed:
        return 70
    return EXIT_INTERRUPTED if signal.SIGINT in received else 0


def _serve_here(serving: Serving, sock: socket.socket, started: Callable[[], None]) -> int:
    config = uvicorn.Config(create(serving), log_config=None, access_log=False, lifespan="off", ws="none",
                            timeout_graceful_shutdown=GRACE_SECONDS, server_header=False)  # fmt: skip
    server = uvicorn.Server(config)
    received: list[int] = []

    def note(number, frame) -> None:
        received.append(number)

    # uvicorn takes SIGTERM and SIGINT while it serves, shuts down gracefully, then raises the signal again
    # for whatever handled it before: this, which only notes it, so the command can end with its exit code.
    before = {number: signal.signal(number, note) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        started()
        server.run(sockets=[sock])
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
        sock.close()
    return EXIT_INTERRUPTED if signal.SIGINT in received else 0


def _wait_for(children: list[int], received: list[int]) -> bool:
    """Wait for every worker; True when one ended unasked (the others are then stopped too)."""
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid in children:
            children.remove(pid)
        if not received and not failed:  # a worker ended unasked: stop the rest rather than serve at half strength
            log.error("a server worker ended unasked (%s); stopping", _ending(status))
            failed = True
            _signal_all(children, signal.SIGTERM)
    return failed


def _signal_all(children: list[int], number: int) -> None:
    for pid in children:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def _ending(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"
