"""A run that fits GitHub's budget: what the tokens can pay for, and what each package is expected to cost.

The estimate is each package's REST points of its last fetch (`fetch_state.last_points`, counted per
package as the run goes), or COLD_POINTS for one never fetched with the count kept. Over a catalogue,
what packages cost last time is what they cost this time give or take the packages pushed since, so
the sum is a fair forecast. GraphQL is left out: a point per hundred packages, from a budget of its own.

What the pool can pay is read from the budgets the last run saw (table `rate_limit`); a token no run
has seen is first asked `GET /rate_limit`, which GitHub does not count. Each token's points left, or
its whole budget once its reset has passed, less `[sync] reserve`; plus one more window when its
reset comes within `max_rate_limit_wait`. A token whose budget is still not known is not counted on:
with any such token nothing is planned, and the run takes every due package as without a pool.
"""

from datetime import datetime, timedelta

from fetcher.durations import format_duration
from fetcher.errors import Failure, Unreachable
from fetcher.hosts.base import BudgetPlan, Capacity
from fetcher.hosts.github.rules import API_HEADERS, GitHubService
from fetcher.net.answer import reset_time
from fetcher.net.client import Client
from fetcher.net.request import Request

# A first fetch with GraphQL metadata: the weekly counts (plus a retry or two of a 202) and a page of
# contributors. The bench's cold phase measures 2.3 REST points a package; 3 errs on the side of deferring.
COLD_POINTS = 3
RATE_LIMIT_BODY_MAX = 64 * 1024  # GET /rate_limit answers about 2 KiB


class GitHubPlan(BudgetPlan):
    def __init__(self, client: Client, service: GitHubService, api_url: str, token_envs: list[str], reserve: int,
                 max_wait: timedelta):
        self.client = client
        self.service = service
        self.api_url = api_url
        self.token_envs = tuple(token_envs)
        self.reserve = reserve
        self.max_wait = max_wait

    async def ask_unseen(self, budgets: list[dict], now: datetime) -> dict[str, list[dict]]:
        """token variable -> its budgets, from GET /rate_limit (which GitHub does not count) asked with each
        token no run has seen, or whose window as last seen has reset since (a stored budget is trusted
        until its reset, never longer).

        Whatever goes wrong with one token's answer (not 200, too long, not GitHub's shape) leaves that
        token out: this only spares a plan from guessing, it never stops a run. No connection for one
        token is none for the others: the asking ends there, without waiting on each in turn.
        """
        url = f"{self.api_url.rstrip('/')}/rate_limit"
        request = Request(url, "rate_limit", headers=API_HEADERS, once=True, max_body=RATE_LIMIT_BODY_MAX)
        seen = {row["token_env"] for row in budgets if row["resource"] == "core" and row["reset"] > now}
        found: dict[str, list[dict]] = {}
        for token_env in (env for env in self.token_envs if env not in seen):
            try:
                answer = await self.client.send(self.service.with_token(token_env), request)
            except Unreachable:
                break
            except Failure:
                continue
            if answer.status == 200 and (budgets := read_rate_limit(answer.data, now)):
                found[token_env] = budgets
        return found

    def capacity(self, budgets: list[dict], now: datetime) -> Capacity | None:
        """What the pool can pay for: None when a token's budget has never been seen (nothing to plan with).

        `budgets`: rows of rate_limit (token_env, resource, budget, remaining, reset as datetime), each with the
        points live workers hold of it (`held`, run/plan.py: believed; 0 when absent).
        """
        core = {row["token_env"]: row for row in budgets if row["resource"] == "core"}
        points = 0
        for env in self.token_envs:
            row = core.get(env)
            if row is None:
                return None
            fresh = row["reset"] <= now
            # What workers sharing the store hold of it now (their requests out) is as good as spent.
            points += max(0, (row["budget"] if fresh else row["remaining"]) - row.get("held", 0) - self.reserve)
            if not fresh and row["reset"] <= now + self.max_wait:
                points += max(0, row["budget"] - self.reserve)  # the next window opens within the allowed wait
        return Capacity(points, len(self.token_envs))

    def cost(self, last_points: int | None) -> int:
        return COLD_POINTS if last_points is None else last_points

    def shortfall(self, missing: int, capacity: Capacity) -> str:
        return (
            f"about {missing} points more than the {capacity.points} the pool's {capacity.tokens} "
            f"token{'s' if capacity.tokens != 1 else ''} can spend before sync.max_rate_limit_wait "
            f"({format_duration(self.max_wait)}) runs out, sync.reserve ({self.reserve}) kept on each"
        )


def read_rate_limit(data: object, now: datetime) -> list[dict]:
    """GET /rate_limit's core and graphql budgets as {resource, budget, remaining, reset}; [] when it says neither.

    A budget whose numbers are not plain non-negative integers, or whose reset is no time a budget resets
    at (more than a day away), is left out: the plan then knows as little of it as before it asked.
    """
    resources = data.get("resources") if isinstance(data, dict) else None
    if not isinstance(resources, dict):
        return []
    budgets = []
    for resource in ("core", "graphql"):
        entry = resources.get(resource)
        numbers = [entry.get(key) for key in ("limit", "remaining", "reset")] if isinstance(entry, dict) else []
        if len(numbers) != 3 or not all(type(number) is int and number >= 0 for number in numbers):
            continue
        limit, remaining, reset = numbers
        reset_at = reset_time(str(reset), now)
        if reset_at is not None:
            budgets.append({"resource": resource, "budget": limit, "remaining": min(remaining, limit),
                            "reset": reset_at})
    return budgets
