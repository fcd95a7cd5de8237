"""A service: whose requests these are, and everything the transport needs to know of them.

The transport knows no host by name. Each request it sends carries its service, which says
how the answers are read (its own rules for each status), which credential goes with it,
which rate-limit window it spends and what that costs, how it is paced, and how many of its
requests may be in flight at once. GitHub, each forge and PyPI are services (hosts/).
"""

from datetime import datetime
from typing import Awaitable, Callable, Mapping

from fetcher.net.answer import Answer, Budget, read_common
from fetcher.net.credentials import Credential
from fetcher.net.request import Request

Attempt = Callable[[Credential | None], Awaitable[Answer]]


class Service:
    name = ""  # the requests are counted under it: "github", "pypi", or a forge's host name
    label = ""  # how messages name it: "GitHub", "PyPI", "GitLab"
    share: int | None = None  # most of its requests in flight at once; None: any of the run's slots
    # Its rate limit meets every further request of the run (GitHub's: one budget behind every package),
    # rather than only the package that asked.
    limit_ends_run = False

    def __init__(self, credential: Credential | None = None):
        self.credential = credential

    async def send(self, request: Request, attempt: Attempt) -> Answer:
        """Send `request` through `attempt` with this service's credential (a token pool chooses among its own)."""
        return await attempt(self.credential)

    def budget_name(self, request: Request) -> str | None:
        """The rate-limit window `request` spends, None where the service publishes none."""
        return None

    def budget(self, request: Request, headers: Mapping[str, str], now: datetime) -> Budget | None:
        """What an answer says is left of the window `request` spends."""
        return None

    def cost(self, request: Request, status: int, hops: int, authorized: bool, refused: bool) -> int:
        """The points an answer is charged against its window, counted against the package that asked."""
        return 0

    async def pace(self, request: Request) -> None:
        """Wait for `request`'s turn under the service's published limits, if it has any."""

    def admit(self, request: Request) -> None:
        """Raise the failure a request would meet instead of sending it, once the service knows (asked when its
        turn to be sent has come, so a request that waited for a slot meanwhile is not sent either)."""

    def read(self, request: Request, answer_url: str, status: int, headers: Mapping[str, str], body: bytes,
             now: datetime, budget: Budget | None) -> Answer:
        """Data for a usable answer; raise the typed failure this service means by any other."""
        return read_common(answer_url, status, headers, body, now, self.label, budget=budget)

    def secrets(self) -> list[str]:
        """Every token it may send, to scrub from whatever the run prints or stores."""
        return []
