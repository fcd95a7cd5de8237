"""The forge world in-process: an httpx transport whose every request the stand-in's own forge code answers.

``ForgeTransport(forges)`` serves each forge host of a ``Forges`` at its own
API URL (``https://gitlab.com/api/v4``, ``https://codeberg.org/api/v1``,
``https://api.bitbucket.org/2.0``, a self-hosted ``https://HOST/api/v4``: see
``Forges.own_api_url``), without a socket: hand it to an httpx client
(``transport=``), or mount ``handle`` with respx (``route().mock(side_effect=
transport.handle)``). Nothing it is asked reaches the network: an origin no
host of the world has, or a host taken down (``Forges.take_down``), fails with
``httpx.ConnectError`` as an unreachable host does (raised from a ``socket.gaierror``,
as httpx raises it, where the name does not resolve: a host taken down so, and any
name outside the world). Every request, answered or
not, is in the world's request log (``Forges.requests``).
"""

from __future__ import annotations

import socket

import httpx

from fetcher.standin.answers import BODILESS
from fetcher.standin.forges.world import Forges


class ForgeTransport(httpx.MockTransport):
    """httpx's transport interface (sync and async) over ``Forges.answer_url``."""

    def __init__(self, forges: Forges) -> None:
        super().__init__(self.handle)
        self.forges = forges

    def handle(self, request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        answer = self.forges.answer_url(request.method, str(request.url), headers)
        if answer.status == 0:
            failure = httpx.ConnectError(answer.body.decode(), request=request)
            if not self.forges.resolves(str(request.url)):  # as httpx raises it for a name no resolver knows
                raise failure from socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            raise failure
        headers = dict(answer.headers)
        if answer.status not in BODILESS:  # framed as the loopback server frames it
            headers["Content-Length"] = str(len(answer.body))
        # A stream, not content: the client reads it as it reads one from the wire.
        return httpx.Response(answer.status, headers=headers, stream=httpx.ByteStream(answer.body), request=request)
