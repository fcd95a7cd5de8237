"""The stand-in's meter of requests in flight: the bench's slot utilisation and its timeline."""

from __future__ import annotations

import pytest

from fetcher.standin.in_flight import InFlight


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_meter_counts_the_requests_in_flight_over_time_and_by_half_second():
    clock = Clock()
    meter = InFlight(bucket_seconds=0.5, clock=clock)
    meter.start()  # 100.0: one
    clock.now = 100.25
    meter.start()  # two
    clock.now = 100.75
    meter.end()  # one
    clock.now = 101.5
    meter.end()  # none
    assert meter.seconds() == 1.5
    # 0.25 s of one, 0.5 s of two, 0.75 s of one: 2.0 request-seconds over 1.5 s.
    assert meter.mean() == pytest.approx(2.0 / 1.5)
    # [100, 100.5): 0.25 x 1 + 0.25 x 2; [100.5, 101): 0.25 x 2 + 0.25 x 1; [101, 101.5): 0.5 x 1.
    assert meter.timeline() == pytest.approx([1.5, 1.5, 1.0])
    meter.reset()
    assert (meter.seconds(), meter.mean(), meter.timeline()) == (0.0, 0.0, [])
