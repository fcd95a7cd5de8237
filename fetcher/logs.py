"""Logging for the command line: quiet by default, every line scrubbed of secrets."""

import json
import logging
import sys
from urllib.parse import quote, quote_plus

MASK = "***"
# Masking a value this short would garble every line it occurs in, and no real token is this short.
SHORTEST_SECRET = 8


class Redacting(logging.Formatter):
    """Formats as usual, then masks each secret, tracebacks included."""

    def __init__(self, secrets: list[str]):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self.secrets)


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
             quote(secret, safe=""), quote_plus(secret, safe="")}
    # A token in bytes shows as b'...' with the same escapes as repr; as UTF-8 bytes escaped.
    forms.add(repr(secret.encode("utf-8", "backslashreplace"))[2:-1])
    return {form for form in forms if len(form) >= SHORTEST_SECRET}


def configure(verbose: bool, secrets: list[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting(secrets))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)
