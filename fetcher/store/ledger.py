"""The fleet's budget ledger: the points of each token's rate-limit window the workers sharing a store may spend.

`rate_limit` holds what GitHub last said a window had left (the newest window's lowest remaining: answers overtake
each other); `budget_hold` the points each worker has reserved for requests it sent and has not had answered. A
worker reserves a request's points before it sends it, in one write transaction: granted only while the window
less what live workers hold less these points keeps `keep` (sync.reserve for a sync, 0 for a refresh), so the
workers together never spend past a window less its reserve. When the answer (or the failure) is in, the hold is
settled: released, and the budget the answer reported written to `rate_limit`, for every worker to see. A worker
does both a block at a time (WorkerLedger): it holds a few requests' points ahead and settles its answers with its
next transaction, within SETTLE_AFTER; what it holds and has not written only ever leaves the others more careful.

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
step, on both backends alike. Blocks make those transactions few (one for about BLOCK requests); docs/fleet.md
("Sharing the tokens") measures what they cost.

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

# The points a worker that asks the store for a request takes more, to grant its next requests without asking
# (WorkerLedger): one write transaction for every BLOCK requests or so, not two for every request. A fleet of W
# workers then leaves up to W x BLOCK points of a window held and unspent at any time: held, so never overspent.
BLOCK = 20
# How long an answer's settlement waits for the worker's next transaction before it is written alone.
SETTLE_AFTER = timedelta(seconds=1)


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
        way. RunStopped when the worker's row is gone (its lease passed and another worker ended it). One request
        alone: `exchange` with nothing to settle, nothing unspent and no block."""
        return self.exchange(worker_id, {}, token_env, resource, points, 0, 0, keep, now)[0]

    def settle(self, worker_id: int, token_env: str, resource: str, points: int, seen: dict | None,
               now: datetime) -> None:
        """Release the `points` a reservation held; with `seen` (an answer's budget: budget, remaining, reset),
        keep it in rate_limit if it is the newest (`newer`)."""
        self.settle_all(worker_id, {(token_env, resource): Answered(points, seen)}, now)

    def exchange(self, worker_id: int, settled: dict[tuple[str, str], "Answered"], token_env: str, resource: str,
                 points: int, unspent: int, block: int, keep: int, now: datetime) -> tuple[View, int]:
        """One write transaction for a worker that spends its holds a block at a time (WorkerLedger): settle what
        its answers `settled`, then reserve for a request of `points` while it holds `unspent` points of the
        window it has not spent. Asked for the points it lacks and `block` more (the next requests'), or, when
        the fleet's view does not allow that, for the points it lacks alone. The view, and the points the store
        now holds for it in all (the unspent ones and those granted); refused, its unspent points are released
        (0): they could never pay this request, and another worker may need them."""
        lacking = points - unspent
        with self.db.write():
            self._settle_all(worker_id, settled, now)
            found = self._look(worker_id, token_env, resource, now)
            if not found["alive"]:
                raise RunStopped("this worker's lease passed and its row was ended by another worker: it may "
                                 "reserve no more of the tokens' budgets")
            # A window no answer has reported: nothing to check against, so no more than the request is taken.
            asks = (lacking,) if found["window"] is None or not block else (lacking + block, lacking)
            for ask in asks:
                view = decide(found["window"], found["held"], ask, keep, now)
                if view.granted:
                    self._hold(worker_id, token_env, resource, ask)
                    return view, unspent + ask
            if unspent:
                self._release(worker_id, token_env, resource, unspent)
            return decide(found["window"], found["held"] - unspent, points, keep, now), 0

    def settle_all(self, worker_id: int, settled: dict[tuple[str, str], "Answered"], now: datetime) -> None:
        """`settle` for each (token variable, resource) of `settled`, in one write transaction."""
        with self.db.write():
            self._settle_all(worker_id, settled, now)

    def _settle_all(self, worker_id: int, settled: dict[tuple[str, str], "Answered"], now: datetime) -> None:
        for (token_env, resource), answered in settled.items():
            self._release(worker_id, token_env, resource, answered.points)
            if answered.seen is not None:
                self.keep_newest(token_env, resource, answered.seen, now)

    def _hold(self, worker_id: int, token_env: str, resource: str, points: int) -> None:
        self.db.execute(
            "INSERT INTO budget_hold (worker_id, token_env, resource, points) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (worker_id, token_env, resource) DO UPDATE SET points = budget_hold.points + "
            "excluded.points", [worker_id, token_env, resource, points])

    def _release(self, worker_id: int, token_env: str, resource: str, points: int) -> None:
        # A row at 0 stays until its worker ends (and takes it along): one statement less per answer.
        self.db.execute("UPDATE budget_hold SET points = points - ? WHERE worker_id = ? AND token_env = ? "
                        "AND resource = ?", [points, worker_id, token_env, resource])

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

    def bound(self, worker_id: int, block: int = BLOCK) -> "WorkerLedger":
        return WorkerLedger(self, worker_id, block)

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


@dataclass
class Answered:
    """What a worker's answers of one window settled and has not yet written: the points their holds release, and
    the newest budget they reported."""

    points: int = 0
    seen: dict | None = None


class WorkerLedger:
    """The ledger as one worker's token pool uses it: its reservations and settlements under its worker id, a block
    of points at a time.

    Asking the store for every request (a write transaction to reserve it, another to settle it) cost more than
    the rest of a package's writes together, and every worker's transactions queue on the store's write lock.
    So a worker that must ask the store takes the points it lacks and BLOCK more, and grants its next requests
    from those without asking; its answers' settlements wait, and go with its next transaction to the store, or
    once the oldest has waited SETTLE_AFTER. Both only ever leave the fleet more careful: unspent points are
    held, so no other worker may spend them, and a settlement that waits keeps its request's points held and its
    budget unwritten, which add up to the same view of the window as the one written (what an answer reported
    left counts the request as spent; the hold no longer does). Near the reserve, where a block no longer fits,
    a request is granted alone, so the workers together may still spend to the reserve, and a refused worker
    gives its unspent points of that window back."""

    def __init__(self, ledger: Ledger, worker_id: int, block: int):
        self.ledger = ledger
        self.worker_id = worker_id
        self.block = block
        self.unspent: dict[tuple[str, str], int] = {}  # points held in the store for requests not sent yet
        self.answered: dict[tuple[str, str], Answered] = {}  # settlements not written yet
        self.waiting_since: datetime | None = None  # when the oldest of them came

    def reserve(self, token_env: str, resource: str, points: int, keep: int, now: datetime) -> View:
        key = (token_env, resource)
        unspent = self.unspent.get(key, 0)
        if unspent >= points:
            self.unspent[key] = unspent - points
            return View(True, None, None, None, 0)  # a grant's view is not read: no need to ask the store
        view, held = self.ledger.exchange(self.worker_id, self.answered, token_env, resource, points, unspent,
                                          self.block, keep, now)
        self._written()
        self.unspent[key] = held - points if view.granted else 0
        return view

    def settle(self, token_env: str, resource: str, points: int, seen: dict | None, now: datetime) -> None:
        answered = self.answered.setdefault((token_env, resource), Answered())
        answered.points += points
        if seen is not None and newer(answered.seen, seen):
            answered.seen = seen
        self.waiting_since = self.waiting_since or now
        if now - self.waiting_since >= SETTLE_AFTER:
            # StoreUnavailable: they wait on, for the next transaction.
            self.ledger.settle_all(self.worker_id, self.answered, now)
            self._written()

    def _written(self) -> None:
        self.answered = {}
        self.waiting_since = None
