"""Logging for the command line: quiet by default, every line scrubbed of secrets."""

import logging
import sys

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
    for secret in secrets:
        if secret and len(secret) >= SHORTEST_SECRET:
            text = text.replace(secret, MASK)
    return text


def configure(verbose: bool, secrets: list[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redacting(secrets))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)
