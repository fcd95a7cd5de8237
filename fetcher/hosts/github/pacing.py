"""Keep a run under GitHub's published secondary rate limits, so it never trips them.

GitHub allows at most 100 concurrent requests, 900 points a minute per REST
endpoint and 2,000 points a minute for GraphQL (a GET or a query without
mutations is one point). Each endpoint gets a schedule that spaces its
requests evenly at 90% of its limit, so no 60-second window can exceed it.
"""

import asyncio
import time
from typing import Awaitable, Callable

MAX_CONCURRENT = 100
REST_POINTS_PER_MINUTE = 900
GRAPHQL_POINTS_PER_MINUTE = 2000
HEADROOM = 0.9


class Pacer:
    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, clock=time.monotonic):
        self._sleep = sleep
        self._clock = clock
        self._next_slot: dict[str, float] = {}

    async def wait_turn(self, endpoint: str) -> None:
        """Reserve the endpoint's next slot and sleep until it comes."""
        per_minute = GRAPHQL_POINTS_PER_MINUTE if endpoint == "graphql" else REST_POINTS_PER_MINUTE
        interval = 60.0 / (per_minute * HEADROOM)
        now = self._clock()
        slot = max(now, self._next_slot.get(endpoint, now))
        self._next_slot[endpoint] = slot + interval
        if slot > now:
            await self._sleep(slot - now)
