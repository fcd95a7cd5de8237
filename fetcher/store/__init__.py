"""The store, in rooms: each a class over one Database, each one job.

- `schema`: open, shape, migrate (schema.sql and the numbered migrations);
- `catalogue`: the person's packages imported, added, removed;
- `schedule`: which packages are due, in due order, a page at a time (what `status` counts);
- `fetched`: what a fetch writes (fields, facts, history, cached answers), whole or not at all;
- `runs`: each run's row, the budgets it saw, the settings the views need;
- `walk`: a directory walk's pages (`import --from-api`), each whole with the walk's place;
- `workers`: each sync or refresh working on the store, its lease, its claims renewed with it;
- `claims`: which worker is fetching a package: taken in due order a batch at a time, released on every outcome;
- `ledger`: the fleet's budget holds: the points of a token's window a worker reserves before a request;
- `reads`: records, facts, fetch state, history, trending, the status overview, grids and categories.

Every stored value is read back through `stored` (each column's kind): one another program wrote that is
not of its kind is an UnreadableValue naming the store, the package (or row) and the column.

Nothing else in fetcher writes SQL. `Database` (sql.py) is the seam a second backend plugs into: PostgreSQL's
(postgres.py) does, with the few differences of its SQL in dialect.py; fetcher.location says which a config names.
"""

from fetcher.store.catalogue import Catalogue
from fetcher.store.claims import Claims
from fetcher.store.fetched import Fetched
from fetcher.store.ledger import Ledger
from fetcher.location import Location
from fetcher.store.reads import Reads
from fetcher.store.runs import Runs
from fetcher.store.schedule import Schedule
from fetcher.store.schema import open_database
from fetcher.store.sql import Database
from fetcher.store.walk import Walks
from fetcher.store.workers import Workers


class Store:
    def __init__(self, db: Database):
        self.db = db
        self.path = db.path
        self.catalogue = Catalogue(db)
        self.schedule = Schedule(db)
        self.fetched = Fetched(db)
        self.runs = Runs(db)
        self.reads = Reads(db)
        self.walks = Walks(db)
        self.workers = Workers(db)
        self.claims = Claims(db)
        self.ledger = Ledger(db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_store(path: Location, *, create: bool = True, read_only: bool = False) -> Store:
    """Open the store at path, a SQLite file or a PostgreSQL URL (creating it only when `create`), shaped to the
    current schema.

    `read_only` opens it for reading alone: nothing is shaped or migrated, so a store the user may
    not write (or one another program is writing) can still be read.
    """
    return Store(open_database(path, create=create, read_only=read_only))
