"""What a person reads: relative times, sizes, sparklines, and text a server sent made safe for a terminal."""

import re
from datetime import datetime

BLOCKS = "▁▂▃▄▅▆▇█"
# What a terminal would act on rather than show: C0 controls but tab and newline (escape sequences that move the
# cursor, rewrite the screen, set the clipboard through OSC 52), DEL, the C1 controls, and the Unicode controls
# that reorder or separate what follows (bidirectional overrides and isolates, line and paragraph separators).
_ACTED_ON = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400),
          ("hour", 3600), ("minute", 60))  # fmt: skip


def visible(text: str) -> str:
    """`text` with every character a terminal would act on written out as an escape (ESC -> \\x1b): what a server
    sent reaches a person's screen as text, never as a command to the terminal."""
    return _ACTED_ON.sub(lambda match: f"\\x{ord(match[0]):02x}" if ord(match[0]) < 0x100
                         else f"\\u{ord(match[0]):04x}", text)


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
