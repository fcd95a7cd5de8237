"""The runs and the budgets they saw: one row per sync or refresh, each token's spend, what each window had left."""

from datetime import datetime

from fetcher.record import parse_datetime, to_stored_datetime
from fetcher.store.sql import Database


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
        """Keep each budget as this run last saw it: {resource, budget, remaining, reset}."""
        stamp = to_stored_datetime(seen_at)
        with self.db.write():
            for budget in budgets:
                self.db.upsert("rate_limit", ("token_env", "resource"), {
                    "token_env": token_env, "resource": budget["resource"], "budget": budget["budget"],
                    "remaining": budget["remaining"], "reset": to_stored_datetime(budget["reset"]),
                    "seen_at": stamp,
                })

    def budgets(self) -> list[dict]:
        """Each budget as the last run saw it (rate_limit), its reset as a date-time."""
        return [{**row, "reset": parse_datetime(row["reset"])} for row in self.db.rows("SELECT * FROM rate_limit")]

    def save_setting(self, name: str, value: str) -> None:
        with self.db.write():
            self.db.upsert("setting", ("name",), {"name": name, "value": value})
