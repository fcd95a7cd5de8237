"""How many requests the stand-in is answering at each moment: the area under that curve, and a timeline.

The benchmarks' slot utilisation is the mean number of requests in flight over the run divided by fetcher's
concurrency: how busy fetcher kept the request slots it has. Measured at the server, as requests arrive and
their answers are written; the latency the stand-in adds is inside each one.
"""

from __future__ import annotations

import threading
import time


class InFlight:
    def __init__(self, bucket_seconds: float = 0.5, clock=time.monotonic) -> None:
        self.bucket_seconds = bucket_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next request starts a new run."""
        with self._lock:
            self.now_in_flight = 0
            self.first: float | None = None
            self.last: float | None = None
            self._area = 0.0
            self._buckets: list[float] = []  # request-seconds in each bucket since `first`

    def start(self) -> None:
        with self._lock:
            now = self._clock()
            if self.first is None:
                self.first = self.last = now
            self._advance(now)
            self.now_in_flight += 1

    def end(self) -> None:
        with self._lock:
            self._advance(self._clock())
            self.now_in_flight -= 1

    def _advance(self, now: float) -> None:
        """Add the requests in flight since the last change to the area and to the buckets they span."""
        at = self.last
        while at < now:
            index = int((at - self.first) / self.bucket_seconds)
            bucket_end = self.first + (index + 1) * self.bucket_seconds
            step = min(now, bucket_end) - at
            while len(self._buckets) <= index:
                self._buckets.append(0.0)
            self._buckets[index] += self.now_in_flight * step
            self._area += self.now_in_flight * step
            at += step
        self.last = now

    def seconds(self) -> float:
        """From the first request's arrival to the last answer written."""
        return 0.0 if self.first is None else self.last - self.first

    def mean(self) -> float:
        """Requests in flight on average, from the first request to the last answer."""
        seconds = self.seconds()
        return self._area / seconds if seconds else 0.0

    def timeline(self) -> list[float]:
        """Requests in flight on average in each bucket of `bucket_seconds`, from the first request on."""
        with self._lock:
            return [area / self.bucket_seconds for area in self._buckets]
