"""A run that fits its budgets: take the most overdue packages the hosts' tokens can pay for, leave the rest.

Each host with a budget to plan with (GitHub's token pool) says what its tokens can spend before
max_rate_limit_wait runs out and what a package is expected to cost it; a package is charged to
its own host's plan only (a PyPI-only or forge-only package costs GitHub nothing). The packages
are taken in due order until the first that does not fit: a cheap one never jumps ahead of an
older one. What is left is deferred to the next run, and the summary says why.
"""

import logging
from dataclasses import replace
from datetime import datetime
from typing import Iterable

from fetcher.errors import RunStopped
from fetcher.hosts.registry import Hosts
from fetcher.net.answer import PLAUSIBLE_WAIT
from fetcher.store import Store
from fetcher.store.schedule import DuePackages

log = logging.getLogger(__name__)


def believed(store: Store, now: datetime) -> list[dict]:
    """The budgets the runs saw (store.runs.budgets: one that cannot be read is left out), less those whose
    reset is further ahead than any answer's may be (net/answer.py: PLAUSIBLE_WAIT): fetcher never stored such a
    reset (another program did), and believed it would rest the token until then. Each left out is unknown, so it
    is asked again, and what the run sees replaces it. Each row says in `held` the points live workers hold of
    that window now (store.ledger.held): spent already, as far as a plan is concerned."""
    held = store.ledger.held(now)
    budgets = []
    for row in store.runs.budgets():
        row = dict(row, held=held.get((row["token_env"], row["resource"]), 0))
        if row["reset"] > now + PLAUSIBLE_WAIT:
            log.info("%s: the %s budget of %s resets %s, later than any window: taken as unknown", store.path,
                     row["resource"], row["token_env"] or "no token", row["reset"].isoformat())
        else:
            budgets.append(row)
    return budgets


async def fit(store: Store, due: DuePackages, hosts: Hosts, now: datetime,
              worker_id: int | None = None) -> tuple[int, str]:
    """Leave for the next run the due packages the plans cannot pay for; (how many were left, why).

    A worker of a fleet plans with what the budgets can pay less what the other live workers' claims expect to
    spend (store/claims.py: their points), so the fleet does not plan the same points twice; alone, that is none."""
    plans = {id(host): plan for host in hosts.all if (plan := host.plan()) is not None}
    if not plans:
        return 0, ""
    for plan in plans.values():
        # A token no run has seen yet is asked what it has left, so even the first run with it is planned.
        for token_env, budgets in (await plan.ask_unseen(believed(store, now), now)).items():
            store.runs.save_budgets(token_env, budgets, now)
    budgets = believed(store, now)
    capacity = {key: can for key, plan in plans.items() if (can := plan.capacity(budgets, now)) is not None}
    others = store.claims.others_points(worker_id, now)  # GitHub points: the plans are GitHub's token pool's
    if others:
        capacity = {key: replace(can, points=max(0, can.points - others)) for key, can in capacity.items()}

    def charges():  # one walk over the due packages that keeps nothing
        for repo_url, last_points in due.costs():
            key = id(hosts.host_of(repo_url))
            yield key, plans[key].cost(last_points) if key in capacity else 0

    taken, count, short, missing = affordable(charges(), {key: can.points for key, can in capacity.items()})
    if short is None:
        return 0, ""
    why = plans[short].shortfall(missing, capacity[short])
    if taken == 0:  # a run that would send nothing is no success to report in silence
        raise RunStopped(f"none of the {count} due packages fits the budget: {why}")
    due.take(taken)
    return count - taken, why


def affordable(charges: Iterable[tuple[object, int]], capacity: dict[object, int]) -> tuple[int, int, object, int]:
    """How many of the packages, in due order, their plans pay for; how many there are; the plan the first
    that did not fit would have spent (None when all fit); how many points more than that plan can pay
    its packages cost in all.

    `charges`: (plan, points) per package; `capacity`: plan -> points. The first that does not fit ends
    the taking: the most overdue go first, and a cheap one never jumps ahead of an older one.
    """
    spent = dict.fromkeys(capacity, 0)
    total = dict.fromkeys(capacity, 0)
    taken = count = 0
    short = None
    for key, cost in charges:
        count += 1
        if cost:
            total[key] += cost
            if short is None and spent[key] + cost > capacity[key]:
                short = key
        if short is None:
            taken += 1
            if cost:
                spent[key] += cost
    return taken, count, short, (total[short] - spent[short]) if short is not None else 0
