"""`fetcher check` for GitHub: GET /rate_limit answers with or without a token, costs nothing, and says what is left.

With a pool (github.token_env a list of several), one check per variable, each asked with its own token.
"""

from datetime import datetime, timezone

from fetcher.errors import FetcherError, Failure, NotFound, TokenRejected, Unreachable
from fetcher.hosts.base import REJECTED, UNREACHABLE, Check
from fetcher.hosts.github.rules import API_HEADERS
from fetcher.net.request import Request
from fetcher.show.text import ago


async def check_github(github) -> list[Check]:
    config = github.config
    name = f"GitHub {config.github_api_url}"
    try:
        tokens = dict(config.github_tokens())
    except FetcherError as exc:  # whitespace or control characters in it: named, never shown
        return [Check(name, False, str(exc), REJECTED)]
    if len(config.token_envs) == 1:
        env = config.github_token_env
        return [await _check_token(github, name, env, env in tokens)]
    return [
        await _check_token(github, f"{name} ${env}", env, True) if env in tokens
        else Check(f"{name} ${env}", True, f"{env} unset: left out of the pool")
        for env in config.token_envs
    ]


async def _check_token(github, name: str, token_env: str, has_token: bool) -> Check:
    service = github.service.with_token(token_env) if has_token else github.service
    request = Request(f"{github.api_url.rstrip('/')}/rate_limit", "rate_limit", headers=API_HEADERS, once=True)
    now = github.client.clock()
    try:
        answer = await github.client.send(service, request)
        resources = answer.data["resources"]
        budgets = [
            f"{resource} {resources[resource]['remaining']} of {resources[resource]['limit']} left, "
            f"resets {ago(datetime.fromtimestamp(resources[resource]['reset'], timezone.utc), now)}"
            for resource in ("core", "graphql") if resource in resources
        ]  # fmt: skip
    except NotFound:
        # GitHub Enterprise Server without rate limiting answers 404 "Rate limiting is not enabled."
        return Check(name, True, "answers; rate limiting is not enabled there, so nothing is spent and no budget "
                     "to show (the token, if any, is first used by sync)")  # fmt: skip
    except TokenRejected:
        if not has_token:
            return Check(name, False, f"asks for a token (401): set {token_env}", REJECTED)
        return Check(name, False, f"the token in {token_env} was rejected (401): check it or unset it", REJECTED)
    except Unreachable as exc:
        return Check(name, False, f"cannot reach it: {exc}", UNREACHABLE)
    except Failure as exc:
        return Check(name, False, f"does not answer as GitHub does: {exc}", UNREACHABLE)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return Check(name, False, "GET /rate_limit answered without the budgets GitHub sends", UNREACHABLE)
    who = f"token from {token_env} accepted" if has_token else f"no token ({token_env} unset)"
    return Check(name, True, f"{who}; " + "; ".join(budgets))
