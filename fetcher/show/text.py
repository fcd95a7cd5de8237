"""Numbers and times as a person reads them: relative times, sizes, sparklines."""

from datetime import datetime

BLOCKS = "▁▂▃▄▅▆▇█"
_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400),
          ("hour", 3600), ("minute", 60))  # fmt: skip


def sparkline(counts: list[int]) -> str:
    """One block per count, scaled to the largest; all zeros draw the lowest block."""
    top = max(counts, default=0)
    if top <= 0:
        return BLOCKS[0] * len(counts)
    return "".join(BLOCKS[round(max(count, 0) / top * (len(BLOCKS) - 1))] for count in counts)


def ago(then: datetime | None, now: datetime) -> str:
    """'3 days ago', 'in 2 hours', 'just now', or 'never'."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    size = abs(seconds)
    for unit, length in _UNITS:
        if size >= length:
            count = int(size // length)
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"{text} ago" if seconds > 0 else f"in {text}"
    return "just now"


def size(count: int) -> str:
    """'812 bytes', '1.2 MB': the largest unit that keeps the number at least 1."""
    if count < 1000:
        return f"{count} bytes"
    value = count / 1000
    for unit in ("kB", "MB"):
        if value < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def utc(stamp: datetime | None) -> str:
    return "never" if stamp is None else f"{stamp:%Y-%m-%d %H:%M:%S} UTC"
