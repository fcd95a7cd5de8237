"""The seeded variation of the stand-in that the bench also measures against (python -m bench --vary SEED)."""

from __future__ import annotations

import json

from fetcher.standin import StandIn, World
from fetcher.standin.vary import Variation, route_kind
from tests.standin.test_github import get


def test_a_variation_is_the_same_for_the_same_seed_and_another_for_another():
    one, again, other = Variation(3, 0.05), Variation(3, 0.05), Variation(4, 0.05)
    assert one.describe() == again.describe() != other.describe()
    paddings = [one.padding(f"/repos/o/r{i}") for i in range(2000)]
    assert paddings == [again.padding(f"/repos/o/r{i}") for i in range(2000)]
    assert min(paddings) < 2_000 and max(paddings) > 32_000  # a spread of sizes, a few large
    assert route_kind("POST", "/graphql") == "graphql"
    assert route_kind("GET", "/repositories/10000001/contributors?page=2") == "contributors"
    assert route_kind("GET", "/pypi/django/json") == "pypi"


def test_a_query_of_more_repositories_takes_longer_and_every_delay_stays_in_its_routes_spread():
    variation = Variation(1, 0.05)
    for _ in range(200):
        delay = variation.delay("GET", "/repos/o/r", b"")
        factor = variation.route_factor["repo"]
        assert 0.05 * factor * 0.5 <= delay <= 0.05 * factor * 2.0
    query = b" ".join(b"r%d: repository(owner: $o, name: $n)" % i for i in range(100))
    least = 0.05 * variation.route_factor["graphql"] * 0.5 + 100 * variation.graphql_per_repository
    assert variation.delay("POST", "/graphql", query) >= least


def test_a_varied_standin_answers_the_same_json_padded_and_gives_some_repositories_many_contributor_pages():
    world, _ = World.generate(200, seed=0)
    plain_world, _ = World.generate(200, seed=0)
    variation = Variation(7, 0.0)  # no latency: nothing here waits
    with StandIn(world, variation=variation) as varied, StandIn(plain_world) as plain:
        name = sorted(world.repos)[0]
        padded, unpadded = get(varied, f"/repos/{name}"), get(plain, f"/repos/{name}")
        same = unpadded.raw.replace(plain.url.encode(), varied.url.encode())
        assert padded.raw == same + b" " * variation.padding(f"/repos/{name}") and json.loads(padded.raw)
        assert padded.headers["ETag"]  # validators as before: a warm run still gets its 304s
        again = get(varied, f"/repos/{name}", {"If-None-Match": padded.headers["ETag"]})
        assert again.status == 304
        assert varied.slept == 0.0
    many = [repo for repo in world.repos.values() if len(repo.contributors) >= 150]
    assert len(many) == round(len([r for r in world.repos.values() if not r.empty]) * 0.12)
    assert all(repo.contributions == sorted(repo.contributions, reverse=True) for repo in many)
