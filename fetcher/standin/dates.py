"""Instants as the APIs spell them: GitHub's ISO 8601 UTC and HTTP dates."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime


def utc_text(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: an instant in UTC, as GitHub spells it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 instant; a value without an offset is taken as UTC, as GitHub means it."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def http_date(moment: datetime) -> str:
    """An HTTP date (``Last-Modified``): RFC 9110's IMF-fixdate, in GMT."""
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)
