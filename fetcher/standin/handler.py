"""The stand-in's HTTP server: HTTP/1.1 with keep-alive, a thread per connection, faults acted out on the wire."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from fetcher.standin.answers import BODILESS, JSON, Answer
from fetcher.standin.faults import TRANSPORT, Fault, FaultPlan
from fetcher.standin.hostile import Hostile
from fetcher.standin.in_flight import InFlight


class Responder(Protocol):
    """What the handler asks of the stand-in it serves (``StandIn``)."""

    hostile: Hostile | None
    faults: FaultPlan | None
    in_flight: InFlight

    def respond(self, method: str, target: str, request: Mapping[str, str], body: bytes = b"") -> Answer: ...

    def record(self, method: str, target: str, status: int, charged: bool, request: Mapping[str, str]) -> None: ...


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Benchmarks open many connections at once; the default backlog of 5 drops SYNs into 1 s retries.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], standin: Responder) -> None:
        self.standin = standin
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: tuple[str, int]) -> None:
        """A client that hangs up (a run stopped early, a timeout) is its business, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: every answer is framed by Content-Length, except the bodiless 204 and 304."""

    protocol_version = "HTTP/1.1"
    server_version = "standin"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add ~40 ms per answer.
    disable_nagle_algorithm = True
    server: Server

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        # A GET body is meaningless here, but left unread it would corrupt the next keep-alive request.
        self._answer(self._read_body())

    def do_POST(self) -> None:
        self._answer(self._read_body())

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, body: bytes) -> None:
        in_flight = self.server.standin.in_flight
        in_flight.start()
        try:
            self._answer_counted(body)
        finally:
            in_flight.end()

    def _answer_counted(self, body: bytes) -> None:
        request = {name.lower(): value for name, value in self.headers.items()}
        standin = self.server.standin
        if standin.hostile is not None and standin.hostile.answer(self, request):
            return
        fault = standin.faults.draw(self.command, self.path) if standin.faults else None
        if fault is not None and fault.kind in TRANSPORT:
            self._act_out(fault, standin)
            return
        if fault is not None:
            answer = Answer(fault.status, fault.body, fault.headers)
            standin.record(self.command, self.path, fault.status, False, request)
        else:
            answer = standin.respond(self.command, self.path, request, body)
        if answer.status == 0:  # nothing answers (a forge host taken down): drop the connection unanswered
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.status not in BODILESS:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.status not in BODILESS:
            self.wfile.write(answer.body)

    def _act_out(self, fault: Fault, standin: Responder) -> None:
        """Faults that live on the connection rather than in an answer."""
        self.close_connection = True
        if fault.kind == "stall":
            time.sleep(standin.faults.stall_seconds)
            return
        if fault.kind == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", JSON)
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"id": 1, "name": "half')
            self.wfile.flush()
        # reset, and the end of truncated: drop the connection.
        self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log: tests and benchmarks read ``StandIn.requests`` instead."""
