"""A rate-limit wait is announced when it starts, and its length is in the summary and in sync_run."""

import logging
from datetime import timedelta

import httpx
import respx

from tests.conftest import GitHubRepo, pypi_route
from tests.run.test_loop import NOW, Sleeps, package, run, setup  # noqa: F401 (setup is a fixture)


def exhausted_until(reset):
    return httpx.Response(
        403,
        headers={
            "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(reset.timestamp()))
        },
        json={"message": "API rate limit exceeded for user ID 1."},
    )


@respx.mock
def test_a_long_wait_is_announced_and_counted_once(setup, respx_mock, caplog):
    config, store = setup(package())
    gh = GitHubRepo(respx_mock, "owner/pkg", forks=4)
    pypi_route(respx_mock, "pkg", "1.0")
    reset = NOW + timedelta(minutes=5)
    gh.repo.side_effect = [exhausted_until(reset), gh.repo.return_value]

    with caplog.at_level(logging.WARNING):
        report = run(config, store, Sleeps())

    assert report.exit_code == 0 and 300 <= report.rate_limit_wait <= 302
    (announced,) = [r for r in caplog.records if getattr(r, "event", None) == "rate_limit_wait"]
    assert announced.levelno == logging.WARNING
    assert announced.getMessage().endswith(f"for the rate limit to reset, until {reset:%Y-%m-%d %H:%M:%S} UTC")
    assert f"; waited {report.rate_limit_wait:.0f}s for rate limits" in report.summary()
    assert store.db.execute("SELECT rate_limit_wait FROM sync_run").fetchone()[0] == round(report.rate_limit_wait, 3)


@respx.mock
def test_a_run_without_waits_says_nothing_of_them(setup, respx_mock):
    config, store = setup(package())
    GitHubRepo(respx_mock, "owner/pkg")
    pypi_route(respx_mock, "pkg", "1.0")

    report = run(config, store, Sleeps())

    assert report.rate_limit_wait == 0 and "waited" not in report.summary()
    assert store.db.execute("SELECT rate_limit_wait FROM sync_run").fetchone()[0] == 0
