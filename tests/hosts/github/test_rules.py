"""GitHub's rules: what each recorded GitHub answer means, as data or a typed failure; and what any answer shares."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.errors import (
    BadResponse,
    EmptyRepository,
    Failure,
    NotFound,
    QueryTimedOut,
    RateLimited,
    StatsPending,
    TokenRejected,
    Transient,
)
from fetcher.hosts.github.rules import budget_of, read_answer
from fetcher.net.answer import Answer, Budget, lower_headers, next_link, read_common
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
    return read_answer(*exchange(name, **changes), NOW)


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
    answer = read_answer(url, status, headers, b"", NOW)
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


@pytest.mark.parametrize("status", [502, 504])
def test_a_502_or_504_to_a_graphql_query_is_the_query_timed_out(status):
    with pytest.raises(QueryTimedOut) as caught:
        read_answer("https://api.github.com/graphql", status, {}, b'{"message": "Bad Gateway"}', NOW, query=True)
    assert str(caught.value) == f"GraphQL query timed out (HTTP {status}: Bad Gateway) (https://api.github.com/graphql)"


def test_a_500_to_a_graphql_query_is_still_transient():
    with pytest.raises(Transient) as caught:
        read_answer("https://api.github.com/graphql", 500, {}, b"{}", NOW, query=True)
    assert type(caught.value) is Transient


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
        read_answer(URL, 403, {}, body, NOW)
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
        read_answer(URL, 400, {}, b"<html>nope</html>", NOW)
    assert str(caught.value) == f"unexpected HTTP 400 ({URL})"


@pytest.mark.parametrize("body", [b'{"full_name": "django/de', b"", b"<html>502</html>", b"\xff\xfe"])
def test_invalid_json_on_200_is_transient(body):
    url, _, headers, _ = exchange()
    with pytest.raises(Transient) as caught:
        read_answer(url, 200, headers, body, NOW)
    assert type(caught.value) is Transient
    assert str(caught.value) == f"invalid JSON in the answer ({URL})"


def test_every_failure_carries_its_url():
    for status in (202, 401, 404, 409, 500, 403):
        with pytest.raises(Failure) as caught:
            outcome(MISSING, status=status, body={"message": "x"})
        assert caught.value.url == "https://api.github.com/repos/djangopackages/does-not-exist"


def test_rate_limit_from_recorded_headers():
    assert budget_of(lower_headers(recorded(REPO)["headers"]), NOW) == Budget(
        name="core", limit=5000, remaining=4999, reset_at=datetime(2024, 1, 13, 3, 46, 46, tzinfo=timezone.utc)
    )


def test_rate_limit_of_the_404():
    limit = budget_of(lower_headers(recorded(MISSING)["headers"]), NOW)
    assert (limit.limit, limit.remaining, limit.reset_at) == (5000, 4993, RESET)


def test_rate_limit_resource_defaults_to_core():
    headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1705117606"}
    assert budget_of(headers, NOW) == Budget("core", 60, 0, RESET)
    assert budget_of({**headers, "x-ratelimit-resource": "search"}, NOW).name == "search"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "1"},
        {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "many", "x-ratelimit-reset": "1705117606"},
    ],
)
def test_rate_limit_without_usable_headers_is_none(headers):
    assert budget_of(headers, NOW) is None


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


# Untrusted bodies and headers: bounded, typed, never a crash.


@pytest.mark.parametrize("body, reason", [
    (b'{"forks_count": 9223372036854775808}', "number out of range in the answer: 9223372036854775808"),
    (b'{"forks_count": -9223372036854775809}', "number out of range"),
    (b'{"n": 1' + b"0" * 400 + b"}", "number out of range"),
    (b'{"n": 1e999}', "number out of range"),
    (b'{"n": NaN}', "number out of range"),
    (b'{"description": "\\ud800"}', "invalid Unicode (a lone surrogate) in the answer"),
    (b'{"description": "x\\udfff"}', "invalid Unicode (a lone surrogate) in the answer"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply in the answer"),
    (b'{"a": "\xff"}', "answer is not UTF-8"),
])
def test_a_body_that_cannot_be_stored_as_it_is_is_a_bad_response(body, reason):
    with pytest.raises(BadResponse) as caught:
        read_answer(URL, 200, {}, body, NOW)
    assert reason in str(caught.value)


def test_numbers_at_the_edges_of_64_bits_and_surrogate_pairs_are_data():
    body = b'{"max": 9223372036854775807, "min": -9223372036854775808, "emoji": "\\ud83d\\ude00", "f": 1.5}'
    assert read_answer(URL, 200, {}, body, NOW).data == {
        "max": 2**63 - 1, "min": -(2**63), "emoji": "\U0001F600", "f": 1.5}


@pytest.mark.parametrize("retry_after", ["99999999999999999999", "86401", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_an_absurd_retry_after_is_a_bad_response_not_a_wait_or_a_crash(retry_after):
    with pytest.raises(BadResponse, match="implausible Retry-After"):
        read_answer(URL, 403, {"retry-after": retry_after}, b'{"message": "secondary rate limit"}', NOW)


def test_a_retry_after_date_without_a_zone_is_taken_as_utc():
    limited = failure(RateLimited, status=429, headers={"Retry-After": "Sat, 13 Jan 2024 02:47:46 -0000"})
    assert limited.reset_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("reset", [str(10**30), "-5", str(2**63)])
def test_an_absurd_rate_limit_reset_is_no_budget_and_refusing_with_it_is_a_bad_response(reset):
    headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    assert budget_of(headers, NOW) is None
    with pytest.raises(BadResponse, match="implausible X-RateLimit-Reset"):
        read_answer(URL, 403, headers, b'{"message": "API rate limit exceeded"}', NOW)


def test_a_secondary_limit_is_waited_out_by_its_retry_after_whatever_the_status():
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    limited = failure(RateLimited, status=502, headers={"Retry-After": "30"}, body=body)
    assert limited.reset_at == NOW + timedelta(seconds=30) and limited.secondary
    # Without such a message, a Retry-After on a 404 is no reason to wait.
    assert failure(NotFound, status=404, headers={"Retry-After": "30"}, body={"message": "Not Found"}).status == 404


@pytest.mark.parametrize("status", [401, 403])
def test_pypi_refusing_is_pypis_failure_of_the_package(status):
    with pytest.raises(BadResponse) as caught:
        read_common("https://pypi.org/pypi/x/json", status, {}, b'{"message": "Forbidden"}', NOW, "PyPI")
    assert str(caught.value) == f"PyPI answered HTTP {status}: Forbidden (https://pypi.org/pypi/x/json)"
    assert not isinstance(caught.value, TokenRejected)


def test_pypi_rate_limit_is_pypis():
    with pytest.raises(RateLimited) as caught:
        read_common("https://pypi.org/pypi/x/json", 429, {"retry-after": "60"}, b"", NOW, "PyPI")
    assert caught.value.service == "PyPI"
    assert str(caught.value).startswith("PyPI rate limit until 2024-01-13 02:47:46 UTC")


@pytest.mark.parametrize("status", [400, 410])
def test_an_unsupported_api_version_refuses_the_run(status):
    from fetcher.errors import ApiVersionUnsupported

    body = {"message": "The X-GitHub-Api-Version header value 2022-11-28 is no longer supported"}
    refused = failure(ApiVersionUnsupported, status=status, body=body)
    assert refused.exit_code == 2
    assert "upgrade fetcher to a release that sends a supported X-GitHub-Api-Version" in str(refused)


def test_a_410_about_anything_else_is_gone():
    assert failure(NotFound, status=410, body={"message": "Repository access blocked"}).status == 410


def test_contributors_too_large_is_its_own_failure():
    from fetcher.errors import ContributorsTooLarge

    body = {"message": "The history or contributor list is too large to list contributors for this repository "
                       "via the API."}
    assert "too large" in str(failure(ContributorsTooLarge, status=403, body=body))


def test_an_error_message_is_one_line_of_valid_unicode():
    with pytest.raises(BadResponse) as caught:
        read_answer(URL, 418, {}, json.dumps({"message": "a\nb\ud800" + "x" * 500}).encode(), NOW)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300
    message.encode("utf-8")
