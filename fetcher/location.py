"""Where the store is: a SQLite file's path (store.path, the default) or a PostgreSQL server's URL (store.url).

A URL names the server, the user and the database, never the password: libpq reads that from
PGPASSWORD or ~/.pgpass, or fetcher from the variable `store.password_env` names. A URL with a
password in it is refused, and printed nowhere (`str()` of a `PostgresURL` is the URL as written,
which holds none).
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SCHEMES = ("postgresql", "postgres")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BadURL(ValueError):
    """What is wrong with a store.url; the message never holds the URL's password."""


@dataclass(frozen=True)
class PostgresURL:
    url: str  # as written in the config, with no password in it
    password_env: str | None = None  # the variable the password is read from, when libpq's own ways are not used

    @classmethod
    def parse(cls, url: str, password_env: str | None = None) -> "PostgresURL":
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError as exc:
            raise BadURL(f"store.url is not a URL like postgresql://USER@HOST:PORT/DB ({exc})") from None
        if parts.scheme not in SCHEMES:
            raise BadURL(f"store.url must be a postgresql:// URL, not one of scheme {parts.scheme or 'none'!r}")
        if parts.password is not None or re.search(r"(^|&)password=", parts.query):
            raise BadURL(
                "store.url holds a password: take it out, and set PGPASSWORD, a ~/.pgpass line, or "
                "store.password_env naming the variable that holds it"
            )
        if password_env is not None and not _ENV_NAME.fullmatch(password_env):
            raise BadURL(f"store.password_env must be a variable's name, not {password_env!r}")
        return cls(url, password_env)

    @classmethod
    def from_config(cls, store: dict) -> "PostgresURL | None":
        """The [store] table's url, checked: a PostgreSQL URL with no password in it, and not beside a path."""
        if "url" not in store:
            if "password_env" in store:
                raise BadURL("store.password_env is for store.url, which is not set")
            return None
        if "path" in store:
            raise BadURL("store.path and store.url both name a store: keep one")
        return cls.parse(store["url"], store.get("password_env"))

    def conninfo(self) -> dict:
        """What psycopg.connect takes: the URL, and the password when password_env names a variable that is set."""
        password = os.environ.get(self.password_env) if self.password_env else None
        return {"conninfo": self.url, **({"password": password} if password else {})}

    def __str__(self) -> str:
        return self.url


Location = Path | PostgresURL


def is_postgres(location: Location) -> bool:
    return isinstance(location, PostgresURL)
