"""The ASGI application (Starlette's request and response): a request in, `answers.answer` in a worker thread, the answer out, one access
log event.

The store is opened read-only once per worker thread (SQLite connections stay in their thread), so requests in
flight at once each read on their own connection; in WAL mode none of them waits for a sync, nor holds it up.
"""

import logging
import threading
import time
from datetime import datetime, timezone

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from fetcher.logs import event
from fetcher.serve.answers import Answer, Asked, Serving, answer, internal_error
from fetcher.serve.rendered import Rendered
from fetcher.store import Store, open_store

log = logging.getLogger("fetcher.serve")
# Written into the access log as sent, up to this many characters: a 10,000-character path is not logged whole.
LOGGED_TARGET = 500


def open_reading(serving: Serving) -> Store:
    """The one way the server opens the store: read-only, shaping and migrating nothing."""
    return open_store(serving.store_path, create=False, read_only=True)


class Stores:
    """One read-only store per worker thread, opened at its first request and kept while the thread lives.

    They are not closed at shutdown: a connection can only be closed in its own thread, and one that only
    reads leaves nothing behind when the process ends.
    """

    def __init__(self, serving: Serving):
        self.serving = serving
        self.local = threading.local()

    def reads(self):
        store = getattr(self.local, "store", None)
        if store is None:
            store = self.local.store = open_reading(self.serving)
        return store.reads


def create(serving: Serving):
    """The ASGI application. Every path and method reaches `answers.answer` (unknown ones are its 404 and 405,
    with DRF's JSON bodies), so there is no routing here."""
    stores = Stores(serving)
    rendered = Rendered(serving.zone, serving.store_path)

    def respond(asked: Asked) -> Answer:
        try:
            return answer(asked, stores.reads, serving, datetime.now(timezone.utc), rendered)
        except Exception:
            log.exception("internal error answering %s", _target(asked))
            return internal_error()

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        asked = _asked(request)
        given = await run_in_threadpool(respond, asked)
        body = b"" if asked.method == "HEAD" else given.body
        headers = dict(given.headers)
        if asked.method == "HEAD" and given.body:
            headers["content-length"] = str(len(given.body))
        response = Response(body, given.status, headers)
        _access(request, asked, given, time.perf_counter() - started)
        return response

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":  # lifespan and websockets are off in the server's config
            return
        response = await endpoint(Request(scope, receive))
        await response(scope, receive, send)

    return app


def _asked(request: Request) -> Asked:
    scope = request.scope
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    host, port = scope.get("server") or ("127.0.0.1", None)
    server = f"[{host}]" if ":" in host else host
    return Asked(
        method=scope["method"],
        raw_path=scope.get("raw_path") or scope["path"].encode("utf-8"),
        query=scope.get("query_string", b""),
        headers=headers,
        scheme=scope.get("scheme", "http"),
        server=f"{server}:{port}" if port else server,
    )


def _target(asked: Asked) -> str:
    target = asked.raw_path + (b"?" + asked.query if asked.query else b"")
    text = target.decode("latin-1")
    return text if len(text) <= LOGGED_TARGET else text[:LOGGED_TARGET] + "..."


def _access(request: Request, asked: Asked, given: Answer, seconds: float) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    client = request.client.host if request.client else None
    target = _target(asked)
    size = len(given.body)
    log.info('%s "%s %s" %d %d %.1fms', client, asked.method, target, given.status, size, seconds * 1000,
             extra=event("access", client=client, method=asked.method, target=target, status=given.status,
                         bytes=size, ms=round(seconds * 1000, 2)))  # fmt: skip
