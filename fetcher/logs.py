"""Logging for the command line: quiet by default, every line scrubbed of secrets.

Events worth a machine's attention are logged with `extra=event(NAME, fact=...)`;
`--log-format json` writes each record as one JSON object per line with its
time, level, event and facts as fields.
"""

import json
import logging
import sys
from datetime import datetime, timezone
from urllib.parse import quote, quote_plus

from fetcher.show.text import visible

MASK = "***"
# Masking a value this short would garble every line it occurs in, and no real token is this short.
SHORTEST_SECRET = 8


class Redacting(logging.Formatter):
    """Formats as usual, then masks each secret, tracebacks included; for a terminal, whatever a server sent
    is shown, never acted on."""

    def __init__(self, secrets: list[str]):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return visible(redact(super().format(record), self.secrets))


def redact(text: str, secrets: list[str]) -> str:
    """Mask each secret however a message may spell it: as is, stripped, repr- or JSON-escaped, URL-encoded."""
    for spelling in sorted({s for secret in secrets for s in spellings(secret)}, key=len, reverse=True):
        text = text.replace(spelling, MASK)
    return text


def spellings(secret: str) -> set[str]:
    """The ways a secret shows up in text, each long enough to mask without garbling every line."""
    if not secret:
        return set()
    forms = {secret, secret.strip(), repr(secret)[1:-1], ascii(secret)[1:-1], json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1], quote(secret, safe=""), quote_plus(secret, safe="")}
    # A token in bytes shows as b'...' with the same escapes as repr; as UTF-8 bytes escaped.
    forms.add(repr(secret.encode("utf-8", "backslashreplace"))[2:-1])
    return {form for form in forms if len(form) >= SHORTEST_SECRET}


class JsonLines(Redacting):
    """One JSON object per record: time (UTC), level, event, message and the event's facts; then masked.

    fetcher's own records each carry an event (docs/operations.md); httpx's line for a request (logged with
    --verbose) is the `request` event; a record of any other library is `log`.
    """

    def format(self, record: logging.LogRecord) -> str:
        name, facts = getattr(record, "event", None), getattr(record, "facts", {})
        if name is None:
            name, facts = _library_event(record)
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": name,
            "message": record.getMessage(),
            **{name: value for name, value in facts.items() if value is not None},
        }
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        # redact masks the JSON-escaped spelling of a secret too.
        return redact(json.dumps(line, ensure_ascii=False, default=str), self.secrets)


def _library_event(record: logging.LogRecord) -> tuple[str, dict]:
    """httpx's `HTTP Request: METHOD URL "HTTP/1.1 STATUS REASON"` as the `request` event; any other record, `log`."""
    args = record.args if isinstance(record.args, tuple) else ()
    if record.name == "httpx" and record.msg.startswith("HTTP Request:") and len(args) == 5:
        method, url, _, status, _ = args
        return "request", {"method": str(method), "url": str(url), "status": status}
    return "log", {}


# Libraries that log each request at INFO: heard only with --verbose.
CHATTY = ("httpx", "httpcore")


def event(name: str, **facts) -> dict:
    """The `extra` of a log call that is an event: `log.info("...", extra=event("retry", delay=2.0))`."""
    return {"event": name, "facts": facts}


FORMATS = ("text", "json")


def configure(verbose: bool, secrets: list[str], log_format: str = "text", quiet: bool = False) -> None:
    """Text: warnings; every event with --verbose; errors only with --quiet.

    JSON: every event; warnings and errors only with --quiet. A library's line for each request (httpx's) only
    with --verbose, in either format.
    """
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLines(secrets))
        level = logging.WARNING if quiet and not verbose else logging.INFO
    else:
        handler.setFormatter(Redacting(secrets))
        level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
