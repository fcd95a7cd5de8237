"""fetcher's shape (schema.sql) and whether a store's tables, indexes and views of its names are fetcher's.

The shape is schema.sql itself, made once in a database in memory: each table's columns, each index's
table, each view's definition as SQLite keeps it. In a store, an object under one of those names is
fetcher's when it is
- a table whose columns are schema.sql's, less those that migrations the store has not had yet add (an
  older store of fetcher's own), or more, for a store a newer fetcher migrated;
- an index on the table schema.sql puts it on;
- a view that `fetcher_view` records with the definition it has. A store from before that record (fetcher's
  `package` table, no `fetcher_view`) made its views with fetcher: they are fetcher's.
In a store without a `package` (one fetcher has not shaped yet: it makes all its tables at once), every
object under those names is another program's. Anything else under those names is another program's too:
the store is refused, naming it, and nothing of it is changed. A store read without being shaped
(read-only) is shown at the current shape: a table it lacks reads as empty, and a column it lacks as what
its migration would give it (`read_as_current`).
"""

import functools
import hashlib
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

from fetcher.errors import StoreError
from fetcher.store.sql import Database

VIEW_RECORD = "fetcher_view"
# The row of `setting` saying which statements a PostgreSQL store's views were made from (make_views).
VIEWS_MADE_FROM = "views_made_from"
_ADDS_COLUMN = re.compile(r"\bALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)", re.IGNORECASE)
_CREATES_VIEW = re.compile(r"^\s*CREATE\s+VIEW\s+(\w+)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Shape:
    statements: tuple[str, ...]  # schema.sql's tables and indexes, each statement idempotent
    tables: dict[str, tuple[str, ...]]  # name -> columns
    indexes: dict[str, str]  # name -> the table it indexes
    views: dict[str, str]  # name -> its definition as sqlite_master keeps it
    view_statements: dict[str, str]  # name -> the CREATE VIEW statement


@functools.cache
def shape() -> Shape:
    """schema.sql, read once."""
    statements = split(resources.files("fetcher").joinpath("schema.sql").read_text(encoding="utf-8"))
    memory = sqlite3.connect(":memory:")
    try:
        for statement in statements:
            memory.execute(statement)
        objects = memory.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite%'")
        objects = objects.fetchall()
        tables = {name: tuple(row[1] for row in memory.execute(f"PRAGMA table_info({name})"))
                  for kind, name, _, _ in objects if kind == "table"}
    finally:
        memory.close()
    view_statements = {match[1]: statement for statement in statements if (match := _CREATES_VIEW.search(statement))}
    return Shape(
        statements=tuple(statement for statement in statements if not _CREATES_VIEW.search(statement)),
        tables=tables,
        indexes={name: table for kind, name, table, _ in objects if kind == "index"},
        views={name: sql for kind, name, _, sql in objects if kind == "view"},
        view_statements=view_statements,
    )


def added_columns(migrations: list[str]) -> list[list[tuple[str, str]]]:
    """(table, column) of each ALTER TABLE ... ADD COLUMN, per migration."""
    return [[(table, column) for table, column in _ADDS_COLUMN.findall(migration)] for migration in migrations]


def expected_columns(table: str, version: int, migrations: list[str]) -> set[str]:
    """The columns fetcher's `table` has in a store that has had `version` migrations."""
    added = added_columns(migrations)
    every = set(shape().tables[table]) | {column for each in added for name, column in each if name == table}
    later = {column for each in added[version:] for name, column in each if name == table}
    return every - later


def refuse_foreign(db: Database, migrations: list[str]) -> None:
    """StoreError naming the first table, index or view of fetcher's names that is another program's. Reads only."""
    objects = {row["name"]: row for row in db.dialect.objects(db)}
    known = shape()
    if "package" not in objects:
        # fetcher makes all its tables at once, `package` among them: without it, none of these names is fetcher's.
        for name in (*known.tables, *known.indexes, *known.views):
            if name in objects:
                raise _foreign(db, objects[name]["type"], name, "a store without fetcher's table 'package' has none "
                                                                "of fetcher's tables, indexes or views")
        return
    version = db.dialect.version(db)
    for name in known.tables:
        if name in objects:
            _refuse_other_kind(db, objects[name], "table")
            _refuse_other_columns(db, name, version, migrations)
    for name, table in known.indexes.items():
        if name in objects:
            _refuse_other_kind(db, objects[name], "index")
            if objects[name]["tbl_name"] != table:
                raise _foreign(db, "index", name, f"it indexes {objects[name]['tbl_name']!r}, not {table!r}")
    recorded = _recorded_views(db) if VIEW_RECORD in objects else None  # None: a store from before the record
    for name in known.views:
        if name in objects:
            _refuse_other_kind(db, objects[name], "view")
            if recorded is not None and recorded.get(name) != objects[name]["sql"]:
                raise _foreign(db, "view", name, "fetcher did not make it as it stands")


def _refuse_other_kind(db: Database, row: dict, kind: str) -> None:
    if row["type"] != kind:
        raise _foreign(db, row["type"], row["name"], f"fetcher keeps a {kind} of that name")


def _refuse_other_columns(db: Database, table: str, version: int, migrations: list[str]) -> None:
    have = db.dialect.columns(db, table)
    want = expected_columns(table, version, migrations)
    missing, extra = sorted(want - have), sorted(have - want)
    if version > len(migrations):
        extra = []  # a newer fetcher's store: its migrations added columns this one does not know
    if missing or extra:
        detail = "; ".join(part for part in (missing and f"no column {', '.join(missing)}",
                                             extra and f"an extra column {', '.join(extra)}") if part)
        raise _foreign(db, "table", table, f"its columns are not fetcher's: {detail}")


def _recorded_views(db: Database) -> dict[str, str]:
    return {row["name"]: row["sql"] for row in db.rows(f"SELECT name, sql FROM {VIEW_RECORD}")}


def _foreign(db: Database, kind: str, name: str, why: str) -> StoreError:
    return StoreError(
        f"{db.path}: {kind} {name!r} is another program's ({why}); fetcher changed nothing in the store: rename "
        f"that {kind}, or give fetcher a store of its own (store.path)"
    )


def make_views(db: Database) -> None:
    """Inside the shaping transaction, once refuse_foreign passed: each view made anew where it is missing or
    defined otherwise than in schema.sql, one fetcher no longer defines dropped, and the record kept.

    PostgreSQL keeps a view as it reads it back, not as written (dialect.keeps_view_text): there the record also
    says which statements the views were made from (setting `views_made_from`, a digest), and a view is made anew
    only when those statements changed or the view is no longer as recorded. Made anew at every start, a view
    would be dropped under the workers and readers of a fleet starting together (a reader between a catalog's
    listing and its definition fails: "could not open relation with OID")."""
    statements = db.dialect.view_statements(shape().view_statements)
    current = _views(db)
    recorded = _recorded_views(db)
    made_from = hashlib.sha256("\n".join(statements.values()).encode()).hexdigest()
    if db.dialect.keeps_view_text:
        expected = shape().views
    else:
        stored = db.one_or_none("SELECT value FROM setting WHERE name = ?", [VIEWS_MADE_FROM])
        expected = recorded if stored == made_from else {}
    for name, sql in recorded.items():
        if name not in statements and current.get(name) == sql:
            db.execute(f"DROP VIEW {name}")  # a view an older fetcher made and this one no longer has
    for name, statement in statements.items():
        if name not in expected or current.get(name) != expected[name]:
            if name in current:
                db.execute(f"DROP VIEW {name}")
            db.execute(statement)
    made = _views(db)
    record = {name: made[name] for name in statements}
    if recorded != record:
        db.execute(f"DELETE FROM {VIEW_RECORD}")
        for name, sql in record.items():
            db.insert(VIEW_RECORD, {"name": name, "sql": sql})
    if not db.dialect.keeps_view_text:
        db.upsert("setting", ("name",), {"name": VIEWS_MADE_FROM, "value": made_from})


def _views(db: Database) -> dict[str, str]:
    return {row["name"]: row["sql"] for row in db.dialect.objects(db) if row["type"] == "view"}


def read_as_current(db: Database, migrations: list[str], read_as: dict[str, str]) -> None:
    """On a connection that only reads: each fetcher table the store lacks as an empty TEMP view, and each table
    a migration it has not had would change as a TEMP view with the added columns as `read_as` gives them
    ("table.column": an SQL expression over the table's row; NULL when not given). TEMP names come first, on
    SQLite and PostgreSQL alike; on PostgreSQL they are a session's own, made in a transaction of their own."""
    present = {row["name"] for row in db.dialect.objects(db) if row["type"] == "table"}
    version = db.dialect.version(db)
    later: dict[str, list[str]] = {}
    for table, column in (pair for each in added_columns(migrations)[version:] for pair in each):
        later.setdefault(table, []).append(column)
    views = []
    for table, columns in shape().tables.items():
        if table not in present:
            nulls = ", ".join(f"NULL AS {column}" for column in columns)
            views.append(f"CREATE TEMP VIEW {table} AS SELECT {nulls} WHERE 1 = 0")
        elif table in later:
            added = ", ".join(f"{read_as.get(f'{table}.{column}', 'NULL')} AS {column}" for column in later[table])
            views.append(f"CREATE TEMP VIEW {table} AS SELECT *, {added} FROM {db.dialect.own_table(db, table)}")
    if views:
        db.dialect.make_temp_views(db, views)


def split(script: str) -> list[str]:
    """Split a script into statements, to run them in one transaction (executescript would commit)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    last = "\n".join(line for line in pending.splitlines() if not line.strip().startswith("--")).strip()
    if last:
        statements.append(last)  # a last statement without its semicolon
    return statements
