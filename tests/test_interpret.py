"""interpret: what each recorded GitHub answer means, as data or a typed failure."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.errors import (
    BadResponse,
    EmptyRepository,
    Failure,
    NotFound,
    RateLimited,
    StatsPending,
    TokenRejected,
    Transient,
)
from fetcher.interpret import Answer, RateLimit, interpret, lower_headers, next_link, rate_limit
from tests.conftest import recorded

# The recorded exchanges were made at "Date: Sat, 13 Jan 2024 02:46:46 GMT".
NOW = datetime(2024, 1, 13, 2, 46, 46, tzinfo=timezone.utc)
RESET = datetime.fromtimestamp(1705117606, timezone.utc)
REPO = "api_github_com_repos_django_deps"
COMMITS = "api_github_com_repos_django_deps_commits_per_page_100"
MISSING = "api_github_com_repos_djangopackages_does_not_exist"
URL = "https://api.github.com/repos/django/deps"


def exchange(name: str = REPO, *, status: int | None = None, body=None, headers: dict | None = None):
    """(url, status, lower-case headers, body bytes) of a recorded exchange, optionally changed."""
    ex = recorded(name)
    seen = lower_headers(ex["headers"])
    seen.update({k.lower(): v for k, v in (headers or {}).items()})
    payload = ex["body"] if body is None else body
    return ex["uri"], status or ex["status"], seen, json.dumps(payload).encode()


def outcome(name: str = REPO, **changes):
    return interpret(*exchange(name, **changes), NOW)


def failure(kind, name: str = REPO, **changes):
    with pytest.raises(kind) as caught:
        outcome(name, **changes)
    return caught.value


def test_lower_headers_lowers_names_and_joins_repeated_ones():
    headers = lower_headers(recorded(REPO)["headers"])
    assert headers["x-ratelimit-remaining"] == "4999"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["vary"] == "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding, Accept, X-Requested-With"
    assert all(name == name.lower() for name in headers)
    assert "X-RateLimit-Remaining" not in headers


def test_200_repository_is_data():
    answer = outcome()
    assert isinstance(answer, Answer)
    assert answer.url == URL
    assert answer.status == 200
    assert answer.data == recorded(REPO)["body"]
    assert answer.data["full_name"] == "django/deps"
    assert answer.data["forks_count"] == 85
    assert answer.headers["x-ratelimit-remaining"] == "4999"


def test_203_is_data_too():
    assert outcome(status=203).data["html_url"] == "https://github.com/django/deps"


def test_200_commits_page_is_a_list():
    answer = outcome(COMMITS)
    assert [c["sha"] for c in answer.data] == [
        "bd84846d4b2cf39df415706bdebf58add25999f6",
        "b6e6448160fccb04cf04c6015ce04e698fb56d63",
        "3a96a7d12e88a72d66f55b855a10cb0f30495bbd",
    ]


def test_recorded_404_is_not_found():
    found = failure(NotFound, MISSING)
    assert found.url == "https://api.github.com/repos/djangopackages/does-not-exist"
    assert found.status == 404
    assert str(found) == "not found (https://api.github.com/repos/djangopackages/does-not-exist)"
    assert not isinstance(found, Transient)


@pytest.mark.parametrize("status, reason", [(410, "gone"), (451, "blocked (451)")])
def test_gone_and_blocked_are_not_found(status, reason):
    found = failure(NotFound, MISSING, status=status, body={"message": "Repository access blocked"})
    assert found.status == status
    assert str(found) == f"{reason} (https://api.github.com/repos/djangopackages/does-not-exist)"


def test_202_is_stats_pending_and_transient():
    pending = failure(StatsPending, status=202, body={})
    assert isinstance(pending, Transient)
    assert pending.url == URL


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_have_no_data(status):
    url, _, headers, _ = exchange()
    answer = interpret(url, status, headers, b"", NOW)
    assert answer == Answer(URL, status, headers, None)


def test_409_is_empty_repository():
    empty = failure(EmptyRepository, COMMITS, status=409, body={"message": "Git Repository is empty."})
    assert empty.url == "https://api.github.com/repos/django/deps/commits?per_page=100"
    assert str(empty) == "repository is empty (https://api.github.com/repos/django/deps/commits?per_page=100)"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(status):
    error = failure(Transient, status=status, body={"message": "Server Error"})
    assert type(error) is Transient
    assert str(error) == f"server error {status} ({URL})"


def test_401_is_token_rejected():
    rejected = failure(TokenRejected, status=401, body={"message": "Bad credentials"})
    assert rejected.url == URL
    assert rejected.exit_code == 2


def test_403_with_no_requests_left_is_the_primary_rate_limit():
    limited = failure(
        RateLimited,
        status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Used": "5000"},
        body={"message": "API rate limit exceeded for user ID 1."},
    )
    assert limited.secondary is False
    assert limited.reset_at == RESET == datetime(2024, 1, 13, 3, 46, 46, tzinfo=timezone.utc)
    assert limited.url == URL
    assert str(limited) == f"GitHub rate limit exhausted until 2024-01-13 03:46:46 UTC ({URL})"


def test_429_with_no_requests_left_is_the_primary_rate_limit():
    limited = failure(RateLimited, status=429, headers={"X-RateLimit-Remaining": "0"}, body={"message": "x"})
    assert (limited.secondary, limited.reset_at) == (False, RESET)


@pytest.mark.parametrize("status", [403, 429])
def test_retry_after_seconds_is_a_secondary_limit(status):
    limited = failure(
        RateLimited,
        status=status,
        headers={"Retry-After": "30"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    assert limited.secondary is True
    assert limited.reset_at == NOW + timedelta(seconds=30)


def test_retry_after_wins_over_an_exhausted_budget():
    limited = failure(RateLimited, status=403, headers={"Retry-After": "30", "X-RateLimit-Remaining": "0"}, body={})
    assert (limited.secondary, limited.reset_at) == (True, NOW + timedelta(seconds=30))


def test_retry_after_as_an_http_date():
    limited = failure(RateLimited, status=429, headers={"Retry-After": "Sat, 13 Jan 2024 02:50:00 GMT"}, body={})
    assert limited.secondary is True
    assert limited.reset_at == datetime(2024, 1, 13, 2, 50, 0, tzinfo=timezone.utc)
    assert limited.reset_at.utcoffset() == timedelta(0)


def test_retry_after_that_cannot_be_read_waits_a_minute():
    limited = failure(RateLimited, status=403, headers={"Retry-After": "soon"}, body={})
    assert limited.reset_at == NOW + timedelta(minutes=1)


def test_secondary_limit_by_message_alone_waits_a_minute():
    body = json.dumps(
        {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        }
    ).encode()
    with pytest.raises(RateLimited) as caught:
        interpret(URL, 403, {}, body, NOW)
    assert caught.value.secondary is True
    assert caught.value.reset_at == datetime(2024, 1, 13, 2, 47, 46, tzinfo=timezone.utc)


def test_secondary_limit_by_message_with_budget_left():
    limited = failure(RateLimited, status=403, body={"message": "You have exceeded a secondary rate limit."})
    assert (limited.secondary, limited.reset_at) == (True, NOW + timedelta(seconds=60))


def test_plain_403_is_a_bad_response():
    bad = failure(BadResponse, status=403, body={"message": "Resource not accessible by integration"})
    assert not isinstance(bad, (RateLimited, Transient))
    assert str(bad) == f"unexpected HTTP 403: Resource not accessible by integration ({URL})"


@pytest.mark.parametrize("status", [400, 418, 422])
def test_other_statuses_are_bad_responses(status):
    bad = failure(BadResponse, status=status, body={"message": "Validation Failed"})
    assert str(bad) == f"unexpected HTTP {status}: Validation Failed ({URL})"


def test_bad_response_without_a_message():
    with pytest.raises(BadResponse) as caught:
        interpret(URL, 400, {}, b"<html>nope</html>", NOW)
    assert str(caught.value) == f"unexpected HTTP 400 ({URL})"


@pytest.mark.parametrize("body", [b'{"full_name": "django/de', b"", b"<html>502</html>", b"\xff\xfe"])
def test_invalid_json_on_200_is_transient(body):
    url, _, headers, _ = exchange()
    with pytest.raises(Transient) as caught:
        interpret(url, 200, headers, body, NOW)
    assert type(caught.value) is Transient
    assert str(caught.value) == f"invalid JSON in the answer ({URL})"


def test_every_failure_carries_its_url():
    for status in (202, 401, 404, 409, 500, 403):
        with pytest.raises(Failure) as caught:
            outcome(MISSING, status=status, body={"message": "x"})
        assert caught.value.url == "https://api.github.com/repos/djangopackages/does-not-exist"


def test_rate_limit_from_recorded_headers():
    assert rate_limit(lower_headers(recorded(REPO)["headers"])) == RateLimit(
        limit=5000, remaining=4999, reset_at=datetime(2024, 1, 13, 3, 46, 46, tzinfo=timezone.utc), resource="core"
    )


def test_rate_limit_of_the_404():
    limit = rate_limit(lower_headers(recorded(MISSING)["headers"]))
    assert (limit.limit, limit.remaining, limit.reset_at) == (5000, 4993, RESET)


def test_rate_limit_resource_defaults_to_core():
    headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1705117606"}
    assert rate_limit(headers) == RateLimit(60, 0, RESET, "core")
    assert rate_limit({**headers, "x-ratelimit-resource": "search"}).resource == "search"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "1"},
        {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "many", "x-ratelimit-reset": "1705117606"},
    ],
)
def test_rate_limit_without_usable_headers_is_none(headers):
    assert rate_limit(headers) is None


def test_next_link_of_the_recorded_commits_page():
    headers = lower_headers(recorded(COMMITS)["headers"])
    assert next_link(headers) == "https://api.github.com/repositories/18764735/commits?per_page=100&page=2"


def test_no_next_link_without_a_link_header():
    assert next_link(lower_headers(recorded(REPO)["headers"])) is None
    assert next_link({"link": ""}) is None


def test_next_link_among_prev_first_and_last():
    link = (
        '<https://api.github.com/repositories/18764735/commits?per_page=100&page=1>; rel="prev", '
        '<https://api.github.com/repositories/18764735/commits?per_page=100&page=3>; rel="next", '
        '<https://api.github.com/repositories/18764735/commits?per_page=100&page=5>; rel="last", '
        '<https://api.github.com/repositories/18764735/commits?per_page=100&page=1>; rel="first"'
    )
    assert next_link({"link": link}) == "https://api.github.com/repositories/18764735/commits?per_page=100&page=3"


def test_no_next_link_on_the_last_page():
    link = (
        '<https://api.github.com/repositories/18764735/commits?per_page=100&page=2>; rel="prev", '
        '<https://api.github.com/repositories/18764735/commits?per_page=100&page=1>; rel="first"'
    )
    assert next_link({"link": link}) is None


def test_next_link_without_quotes():
    assert next_link({"link": "<https://x/?page=2>; rel=next"}) == "https://x/?page=2"
