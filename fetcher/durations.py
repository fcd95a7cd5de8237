"""Durations as the config and the options write them: 90s, 15m, 24h, 7d."""

import re
from datetime import timedelta

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LONGEST_DURATION = timedelta(days=3650)  # past ten years a duration is a typo, and near timedelta's limit


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '24h', '7d' -> timedelta; anything else (or past ten years) is a ValueError."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 24h or 7d")
    seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    if not seconds <= LONGEST_DURATION.total_seconds():
        raise ValueError(f"{text!r} is longer than {LONGEST_DURATION.days}d")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """A duration as the config writes it: 90s, 15m, 24h, 7d."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
