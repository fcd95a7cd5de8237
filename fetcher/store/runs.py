"""The runs and the budgets they saw: one row per sync or refresh, each token's spend, what each window had left."""

import logging
from datetime import datetime

from fetcher.errors import UnreadableValue
from fetcher.record import to_stored_datetime
from fetcher.store.ledger import Ledger
from fetcher.store.sql import Database
from fetcher.store.stored import COLUMNS, readable, row_of

log = logging.getLogger(__name__)


class Runs:
    def __init__(self, db: Database):
        self.db = db

    def record(self, run: dict, tokens: list[dict] = ()) -> None:
        """The run's row and, per pool token and resource, what it spent and what was left (run_token)."""
        with self.db.write():
            run_id = self.db.insert("sync_run", run)
            for token in tokens:
                self.db.insert("run_token", {
                    "run_id": run_id, "token_env": token["token_env"], "resource": token["resource"],
                    "spent": token["spent"], "remaining": token["remaining"], "budget": token["budget"],
                    "reset": to_stored_datetime(token["reset"]) if token["reset"] else None,
                    "rejected": int(token["rejected"]),
                })

    def save_budgets(self, token_env: str, budgets: list[dict], seen_at: datetime) -> None:
        """Keep each budget as this run last saw it ({resource, budget, remaining, reset}), unless the row holds a
        newer one (store/ledger.py: `newer`): other workers sharing the store write theirs as their answers come."""
        ledger = Ledger(self.db)
        with self.db.write():
            for budget in budgets:
                ledger.keep_newest(token_env, budget["resource"], budget, seen_at)

    def budgets(self) -> list[dict]:
        """Each budget as the last run saw it (rate_limit), read through store/stored.py (its reset a date-time).

        A row another program stored that cannot be read is left out: that budget is unknown, so it is asked
        again (a token no run has seen), and what the run sees replaces the row."""
        budgets, unreadable = self.read_budgets()
        for problem in unreadable:
            log.info("%s; taken as unknown", problem)
        return budgets

    def read_budgets(self) -> tuple[list[dict], list[UnreadableValue]]:
        """The budgets that can be read, by token variable and resource, and the values of those that cannot."""
        with self.db.tolerant():  # text that is not UTF-8 leaves its row out, named (store/stored.py)
            rows = self.db.select("SELECT * FROM rate_limit ORDER BY token_env, resource")
        return readable(self.db.path, rows, COLUMNS["rate_limit"], budget_row)

    def last(self, count: int) -> tuple[list[dict], list[UnreadableValue]]:
        """The last `count` runs that can be read, newest first, and the values of those that cannot."""
        with self.db.tolerant():
            rows = self.db.select("SELECT * FROM sync_run ORDER BY id DESC LIMIT ?", [count])
        return readable(self.db.path, rows, COLUMNS["sync_run"], lambda row: row_of("sync_run", id=row["id"]))

    def save_setting(self, name: str, value: str) -> None:
        with self.db.write():
            self.db.upsert("setting", ("name",), {"name": name, "value": value})


def budget_row(row: dict) -> str:
    """Where a budget's values are, as a message names it."""
    return row_of("rate_limit", token_env=row["token_env"], resource=row["resource"])
