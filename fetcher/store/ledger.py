"""The fleet's budget ledger: the points of each token's rate-limit window the workers sharing a store may spend.

`rate_limit` holds what GitHub last said a window had left (the newest window's lowest remaining: answers overtake
each other); `budget_hold` the points each worker has reserved for requests it sent and has not had answered. A
worker reserves a request's points before it sends it, in one write transaction: granted only while the window
less what live workers hold less these points keeps `keep` (sync.reserve for a sync, 0 for a refresh), so the
workers together never spend past a window less its reserve. When the answer (or the failure) is in, the hold is
settled: released, and the budget the answer reported written to `rate_limit` at once, for every worker to see.

What the ledger cannot know it does not refuse: a window no answer has reported yet (a token no worker has used)
is granted, so before a token's first answer each worker may have a request out with it (the pool sends one at a
time with a token whose budget it does not know, when it has a reserve to keep): at most one request per worker
past what the ledger could check. A window whose reset has passed counts as whole again (its budget), less what
is held. Points held by a worker whose lease has passed count no more (a dead worker's requests are gone), and
its rows go with it when the next worker begins (store/workers.py).

Each transaction is the store's write transaction (`Database.write`): BEGIN IMMEDIATE on SQLite, and on PostgreSQL
the store's write lock (a transaction-level advisory lock) that every write of the store already takes. A row
lock on rate_limit (`SELECT ... FOR UPDATE`) would let reservations pass package writes, but it would need a
second kind of write transaction in the Database seam, and it locks nothing for a window no row holds yet; the
write lock serializes every reservation with every other write, which is what makes the check and the hold one
step, on both backends alike. docs/fleet.md ("Sharing the tokens") measures what it costs.

The decision is a plain function over the rows (`decide`), and so is which answer's budget is the newest (`newer`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from fetcher.errors import RunStopped
from fetcher.record import to_stored_datetime
from fetcher.store.sql import Database
from fetcher.store.stored import COLUMNS, readable, row_of


# No answer's reset is further ahead than this (net/answer.py: PLAUSIBLE_WAIT, which the store may not import): a
# stored window resetting later was written by another program, and is taken as unknown.
PLAUSIBLE_RESET = timedelta(days=1)


@dataclass(frozen=True)
class View:
    """A reservation's outcome and the fleet's view of the window it was asked of."""

    granted: bool
    budget: int | None  # the window's size, as last reported (None: no answer has reported it yet)
    remaining: int | None  # what it had left, as last reported (its budget again once its reset has passed)
    reset: datetime | None
    held: int  # points live workers held of it before this reservation


def decide(window: dict | None, held: int, points: int, keep: int, now: datetime) -> View:
    """Whether `points` more may be reserved of `window` (a rate_limit row: budget, remaining, reset; None when
    unknown) while live workers hold `held`: what is left less the held less the points must stay >= `keep`.

    An unknown window is granted (nothing to check against); one whose reset has passed has its whole budget."""
    if window is None:
        return View(True, None, None, None, held)
    left = window["budget"] if window["reset"] <= now else window["remaining"]
    return View(left - held - points >= keep, window["budget"], left, window["reset"], held)


def newer(known: dict | None, seen: dict) -> bool:
    """Whether an answer's budget `seen` replaces the `known` one: the newest window's lowest remaining is the
    truth (answers overtake each other, so a later one may say more was left than an earlier)."""
    return known is None or (seen["reset"], -seen["remaining"]) >= (known["reset"], -known["remaining"])


class Ledger:
    def __init__(self, db: Database):
        self.db = db

    def reserve(self, worker_id: int, token_env: str, resource: str, points: int, keep: int,
                now: datetime) -> View:
        """Hold `points` of the window for `worker_id` if the fleet's view allows it (`decide`); the view either
        way. RunStopped when the worker's row is gone (its lease passed and another worker ended it)."""
        with self.db.write():
            found = self._look(worker_id, token_env, resource, now)
            if not found["alive"]:
                raise RunStopped("this worker's lease passed and its row was ended by another worker: it may "
                                 "reserve no more of the tokens' budgets")
            view = decide(found["window"], found["held"], points, keep, now)
            if view.granted:
                self.db.execute(
                    "INSERT INTO budget_hold (worker_id, token_env, resource, points) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (worker_id, token_env, resource) DO UPDATE SET points = budget_hold.points + "
                    "excluded.points", [worker_id, token_env, resource, points])
        return view

    def settle(self, worker_id: int, token_env: str, resource: str, points: int, seen: dict | None,
               now: datetime) -> None:
        """Release the `points` a reservation held; with `seen` (an answer's budget: budget, remaining, reset),
        keep it in rate_limit if it is the newest (`newer`)."""
        with self.db.write():
            # A row at 0 stays until its worker ends (and takes it along): one statement less per answer.
            self.db.execute("UPDATE budget_hold SET points = points - ? WHERE worker_id = ? AND token_env = ? "
                            "AND resource = ?", [points, worker_id, token_env, resource])
            if seen is not None:
                self.keep_newest(token_env, resource, seen, now)

    def keep_newest(self, token_env: str, resource: str, seen: dict, now: datetime) -> None:
        """Write `seen` (budget, remaining, reset) to rate_limit unless the row there is newer; inside a write."""
        if newer(self._window(token_env, resource, now), seen):
            self.db.upsert("rate_limit", ("token_env", "resource"), {
                "token_env": token_env, "resource": resource, "budget": seen["budget"],
                "remaining": seen["remaining"], "reset": to_stored_datetime(seen["reset"]),
                "seen_at": to_stored_datetime(now),
            })

    def held(self, now: datetime) -> dict[tuple[str, str], int]:
        """(token variable, resource) -> the points live workers hold of it now."""
        rows = self.db.select(
            """SELECT token_env, resource, sum(points) AS points FROM budget_hold
               JOIN worker ON worker.id = budget_hold.worker_id WHERE worker.alive_until > ?
               GROUP BY token_env, resource""", [to_stored_datetime(now)])
        return {(row["token_env"], row["resource"]): row["points"] for row in rows if row["points"]}

    def bound(self, worker_id: int) -> "WorkerLedger":
        return WorkerLedger(self, worker_id)

    def _window(self, token_env: str, resource: str, now: datetime) -> dict | None:
        """The window as last reported; None when unknown (`_readable`)."""
        with self.db.tolerant():
            rows = self.db.select("SELECT budget, remaining, reset FROM rate_limit WHERE token_env = ? AND "
                                  "resource = ?", [token_env, resource])
        return self._readable(token_env, resource, rows[0] if rows else None, now)

    def _look(self, worker_id: int, token_env: str, resource: str, now: datetime) -> dict:
        """In one query (a reservation is on every request's way): whether the worker's row is there, the window
        as last reported, and the points live workers hold of it."""
        with self.db.tolerant():
            row = self.db.first(
                """SELECT (SELECT count(*) FROM worker WHERE id = ?) AS alive,
                          (SELECT coalesce(sum(points), 0) FROM budget_hold JOIN worker
                             ON worker.id = budget_hold.worker_id
                           WHERE token_env = ? AND resource = ? AND worker.alive_until > ?) AS held,
                          (SELECT budget FROM rate_limit WHERE token_env = ? AND resource = ?) AS budget,
                          (SELECT remaining FROM rate_limit WHERE token_env = ? AND resource = ?) AS remaining,
                          (SELECT reset FROM rate_limit WHERE token_env = ? AND resource = ?) AS reset""",
                [worker_id, token_env, resource, to_stored_datetime(now), *[token_env, resource] * 3])
        window = {name: row[name] for name in ("budget", "remaining", "reset")}
        return {"alive": row["alive"], "held": row["held"],
                "window": self._readable(token_env, resource, window, now)}

    def _readable(self, token_env: str, resource: str, window: dict | None, now: datetime) -> dict | None:
        """A window's stored values read by their kinds; None when unknown: no row, a value missing, one another
        program stored that cannot be read, or a reset further ahead than any answer's may be (PLAUSIBLE_RESET;
        run/plan.py: believed leaves such a one out too, and what is asked replaces it)."""
        if window is None or None in window.values():
            return None
        read, _ = readable(self.db.path, [window], COLUMNS["rate_limit"],
                           lambda row: row_of("rate_limit", token_env=token_env, resource=resource))
        return read[0] if read and read[0]["reset"] <= now + PLAUSIBLE_RESET else None


class WorkerLedger:
    """The ledger as one worker's token pool uses it: its reservations and settlements under its worker id."""

    def __init__(self, ledger: Ledger, worker_id: int):
        self.ledger = ledger
        self.worker_id = worker_id

    def reserve(self, token_env: str, resource: str, points: int, keep: int, now: datetime) -> View:
        return self.ledger.reserve(self.worker_id, token_env, resource, points, keep, now)

    def settle(self, token_env: str, resource: str, points: int, seen: dict | None, now: datetime) -> None:
        self.ledger.settle(self.worker_id, token_env, resource, points, seen, now)
