"""The token pool: the fullest token first, a spent one resting until its reset, a rejected one dropped by its
variable, every one rejected -> exit 2, and no token anywhere but in its own Authorization header."""

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from fetcher.config import load
from fetcher.errors import TokenRejected
from fetcher.hosts.github.rules import GitHubService
from fetcher.hosts.github.tokens import AllRested, TokenPool
from fetcher.net.answer import Budget
from fetcher.net.client import Client
from fetcher.net.request import Request
from tests.conftest import Clock

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
API = "https://api.github.com"
ONE, TWO, THREE = "ghp_pool_token_one_AAAAAAAA", "ghp_pool_token_two_BBBBBBBB", "ghp_pool_token_three_CCCCCC"
ENVS = {"POOL_ONE": ONE, "POOL_TWO": TWO, "POOL_THREE": THREE}


def limit(remaining: int, reset: datetime = NOW + timedelta(hours=1), resource: str = "core", of: int = 5000):
    return Budget(resource, of, remaining, reset)


# -- the pool's decisions -------------------------------------------------------------


def test_the_token_with_most_left_is_chosen_and_an_unheard_of_one_counts_as_full():
    pool = TokenPool(list(ENVS.items()))
    one, two, three = pool.tokens
    assert pool.choose("core", NOW) is one  # nothing known: the first in the configured order
    pool.saw(one, limit(4000), charged=1, refused=False)
    assert pool.choose("core", NOW) is two  # not heard of yet: full
    pool.saw(two, limit(100), charged=1, refused=False)
    pool.saw(three, limit(4500), charged=1, refused=False)
    assert pool.choose("core", NOW) is three
    assert pool.choose("graphql", NOW) is one  # each budget apart: GraphQL knows nothing yet


def test_a_spent_token_rests_until_its_reset_and_then_counts_as_full_again():
    pool = TokenPool(list(ENVS.items())[:2])
    one, two = pool.tokens
    reset = NOW + timedelta(minutes=10)
    pool.saw(one, limit(0, reset), charged=1, refused=False)
    pool.saw(two, limit(10), charged=1, refused=False)
    assert pool.choose("core", NOW) is two
    assert pool.choose("core", NOW, prefer="POOL_ONE") is two  # its ETag's token rests: another pays
    pool.saw(two, limit(0, NOW + timedelta(minutes=30)), charged=1, refused=False)
    with pytest.raises(AllRested) as rested:
        pool.choose("core", NOW)
    assert rested.value.until == reset  # the first one back
    assert pool.choose("core", reset) is one


def test_a_conditional_request_goes_to_the_token_that_made_its_etag():
    pool = TokenPool(list(ENVS.items()))
    one, two, three = pool.tokens
    pool.saw(one, limit(4000), charged=1, refused=False)
    pool.saw(two, limit(10), charged=1, refused=False)
    pool.saw(three, limit(4900), charged=1, refused=False)
    assert pool.choose("core", NOW, prefer="POOL_TWO") is two


def test_a_rejected_token_is_dropped_with_one_warning_naming_its_variable(caplog):
    pool = TokenPool(list(ENVS.items()))
    one, two, three = pool.tokens
    with caplog.at_level(logging.WARNING):
        assert pool.reject(two) and pool.reject(two)
    assert [record.getMessage() for record in caplog.records] == [
        "GitHub rejected the token in $POOL_TWO (401): it is left out for the rest of the run"
    ]
    assert pool.live == [one, three]
    assert pool.reject(one) and not pool.reject(three)


# -- through the client: the headers of each token's answers ---------------------------------------


def config_for(tmp_path, envs=("POOL_ONE", "POOL_TWO", "POOL_THREE")):
    path = tmp_path / "c.toml"
    path.write_text(f'[github]\ntoken_env = {json.dumps(list(envs))}\npace = false\n[http]\nbackoff = 0\n')
    return load(str(path))


def ask(pool: TokenPool, tmp_path, clock, times: int) -> list[str]:
    """`times` requests one after another, each through a fresh client (the pool is what remembers)."""
    async def go():
        client = Client(config_for(tmp_path), clock=clock)
        service = GitHubService(pool, client, pace=False)
        try:
            return [(await client.send(service, Request(f"{API}/repos/o/r", "repo"))).token_env for _ in range(times)]
        finally:
            await client.aclose()

    return asyncio.run(go())


@respx.mock
def test_requests_move_to_the_other_tokens_while_a_spent_one_rests_and_come_back_after_its_reset(tmp_path):
    clock, reset = Clock(NOW), NOW + timedelta(minutes=5)
    remaining = {ONE: 0, TWO: 50, THREE: 40}

    def answer(request):
        token = request.headers["authorization"].removeprefix("Bearer ")
        left = remaining[token] = max(remaining[token] - 1, 0) if token != ONE else remaining[token]
        at = reset if token == ONE else NOW + timedelta(hours=1)
        return httpx.Response(200, json={}, headers={
            "x-ratelimit-limit": "5000", "x-ratelimit-remaining": str(left),
            "x-ratelimit-reset": str(int(at.timestamp())), "x-ratelimit-resource": "core"})

    respx.get(f"{API}/repos/o/r").mock(side_effect=answer)
    pool = TokenPool([(name, value) for name, value in ENVS.items()], api_urls=(API,))

    first = ask(pool, tmp_path, clock, 5)
    clock.now = reset + timedelta(seconds=1)
    after_reset = ask(pool, tmp_path, clock, 1)

    # ONE answered "0 left" and rests; THREE is not heard of yet (full) after TWO's first answer;
    # then the one with most left: TWO 49 > THREE 39.
    assert first == ["POOL_ONE", "POOL_TWO", "POOL_THREE", "POOL_TWO", "POOL_TWO"]
    assert after_reset == ["POOL_ONE"]  # past its reset it counts as full again
    assert [(row["token_env"], row["spent"], row["remaining"]) for row in pool.report()] == [
        ("POOL_ONE", 2, 0), ("POOL_TWO", 3, 47), ("POOL_THREE", 1, 39)]


@respx.mock
def test_a_401_drops_the_token_and_the_request_goes_on_with_another_until_none_is_left(tmp_path, caplog):
    accepted = {TWO}

    def answer(request):
        token = request.headers["authorization"].removeprefix("Bearer ")
        if token not in accepted:
            return httpx.Response(401, json={"message": "Bad credentials"})
        return httpx.Response(200, json={})

    respx.get(f"{API}/repos/o/r").mock(side_effect=answer)
    pool = TokenPool(list(ENVS.items()), api_urls=(API,))
    with caplog.at_level(logging.WARNING):
        assert ask(pool, tmp_path, Clock(NOW), 2) == ["POOL_TWO", "POOL_TWO"]
    assert [record.getMessage() for record in caplog.records] == [
        "GitHub rejected the token in $POOL_ONE (401): it is left out for the rest of the run",
    ]
    assert [token.env for token in pool.live] == ["POOL_TWO", "POOL_THREE"]

    accepted.clear()
    with pytest.raises(TokenRejected):
        ask(pool, tmp_path, Clock(NOW), 1)
    assert pool.live == [] and all(token.rejected for token in pool.tokens)
    assert not any(value in record.getMessage() for record in caplog.records for value in ENVS.values())
