"""Bitbucket's two kinds of credential through the real `fetcher sync` and `fetcher check`, against the stand-in's
Bitbucket, which takes each only in its own scheme: a user's API token only as HTTP Basic with the account's email,
a repository, project or workspace access token only as Bearer (fetcher/standin/forges/bitbucket.py)."""

import base64
import json
import sqlite3
from datetime import timedelta

import pytest

from fetcher.standin.forges import Forges, ForgeTransport
from tests.hosts.forges.test_sync import BITBUCKET, NOW, package, project

EMAIL, API_TOKEN = "ann.cient@example.org", "ATATT3xFfGF0-api-token-of-ann"
ACCESS_TOKEN = "ATCTT3xFfGF0-access-token-of-team"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
SECRETS = (EMAIL, API_TOKEN, ACCESS_TOKEN, BASIC.removeprefix("Basic "))
WITH_EMAIL = '[hosts."bitbucket.org"]\nusername_env = "BITBUCKET_EMAIL"\n'
NAMED = '[hosts."bitbucket.org"]\n'
LINE = f"bitbucket.org (bitbucket) {BITBUCKET}"


@pytest.fixture
def bitbucket(run_cli, config_file, respx_mock, monkeypatch, tmp_path):
    """Bitbucket with one public repository, an access token and one account's API token; a catalogue naming
    the repository. Gives `use(config_extra, token, email)` -> the config file, the variables set."""
    forges = Forges(now=NOW)
    host = forges.add_host("bitbucket.org", "bitbucket")
    host.token, host.api_token = ACCESS_TOKEN, (EMAIL, API_TOKEN)
    project(forges, "https://bitbucket.org/team/app")
    reset = int((NOW + timedelta(hours=1)).timestamp())  # `check` asks GitHub and PyPI too
    respx_mock.get("https://api.github.com/rate_limit").respond(
        json={"resources": {"core": {"limit": 60, "remaining": 60, "reset": reset}}})
    respx_mock.get("https://pypi.org/pypi/pip/json").respond(json={"info": {"version": "25.0"}})
    respx_mock.route().mock(side_effect=ForgeTransport(forges).handle)
    for name in ("BITBUCKET_TOKEN", "BITBUCKET_EMAIL"):
        monkeypatch.delenv(name, raising=False)

    def use(extra: str, token: str | None = None, email: str | None = None, urls=("https://bitbucket.org/team/app",)):
        config = config_file(extra)
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps([package(f"p{i}", url) for i, url in enumerate(urls)]))
        assert run_cli(config, "import", str(catalog)).exit_code == 0
        for name, value in (("BITBUCKET_TOKEN", token), ("BITBUCKET_EMAIL", email)):
            if value is not None:
                monkeypatch.setenv(name, value)
        forges.clear_log()
        return config

    use.forges = forges
    return use


def sent(forges: Forges) -> set:
    return {entry.credential for entry in forges.requests("bitbucket.org")}


def shows_no_secret(result, tmp_path) -> None:
    stored = "\n".join(sqlite3.connect(tmp_path / "test.db").iterdump())
    for secret in SECRETS:
        assert secret not in result.output and secret not in stored


def test_an_api_token_goes_as_basic_with_the_accounts_email(bitbucket, run_cli, tmp_path):
    config = bitbucket(WITH_EMAIL, API_TOKEN, EMAIL)

    result = run_cli(config, "sync")

    assert result.exit_code == 0, result.output
    assert sent(bitbucket.forges) == {BASIC}  # every request, watchers, forks and commits included
    exported = json.loads(run_cli(config, "export").stdout)
    assert (exported[0]["repo_watchers"], exported[0]["repo_forks"], exported[0]["repo_description"]) == (
        16, 37, "A backend.")
    shows_no_secret(result, tmp_path)


def test_an_api_token_sent_as_bearer_is_refused_and_its_package_fails(bitbucket, run_cli, tmp_path):
    config = bitbucket(NAMED, API_TOKEN)  # no username_env: the token goes alone, as Bearer

    result = run_cli(config, "sync")

    assert result.exit_code == 1
    assert sent(bitbucket.forges) == {f"Bearer {API_TOKEN}"}
    assert "bitbucket.org rejected the token (401): check $BITBUCKET_TOKEN or unset it" in result.stderr
    shows_no_secret(result, tmp_path)


def test_an_api_token_with_another_email_is_refused_naming_both_variables(bitbucket, run_cli, tmp_path):
    config = bitbucket(WITH_EMAIL, API_TOKEN, "someone.else@example.org")

    result = run_cli(config, "sync")

    assert result.exit_code == 1
    assert ("bitbucket.org rejected the token (401): check $BITBUCKET_TOKEN and $BITBUCKET_EMAIL (HTTP Basic), "
            "or unset them") in result.stderr
    assert "someone.else@example.org" not in result.output
    shows_no_secret(result, tmp_path)


def test_an_access_token_goes_as_bearer_and_the_user_name_is_left_out_when_its_variable_is_empty(
        bitbucket, run_cli, tmp_path):
    config = bitbucket(WITH_EMAIL, ACCESS_TOKEN, "")  # username_env set, its variable empty: Bearer

    result = run_cli(config, "sync")

    assert result.exit_code == 0, result.output
    assert sent(bitbucket.forges) == {f"Bearer {ACCESS_TOKEN}"}
    shows_no_secret(result, tmp_path)


def test_an_access_token_sent_as_basic_is_refused(bitbucket, run_cli):
    config = bitbucket(WITH_EMAIL, ACCESS_TOKEN, EMAIL)

    result = run_cli(config, "sync")

    assert result.exit_code == 1
    assert "check $BITBUCKET_TOKEN and $BITBUCKET_EMAIL (HTTP Basic)" in result.stderr
    assert ACCESS_TOKEN not in result.output and EMAIL not in result.output


def test_a_basic_header_a_host_echoes_is_masked_with_the_email(bitbucket, run_cli, tmp_path):
    config = bitbucket(WITH_EMAIL, API_TOKEN, EMAIL)
    bitbucket.forges.take_down("bitbucket.org", "refused (Authorization: {authorization}) for ann.cient@example.org")

    result = run_cli(config, "--verbose", "sync")

    assert result.exit_code == 75  # a host that cannot be reached blames no package: they are left due
    assert "refused (Authorization: Basic ***) for ***" in result.stderr
    shows_no_secret(result, tmp_path)


# --- fetcher check ---------------------------------------------------------------------------


def checked(run_cli, config) -> tuple[int, list[str]]:
    result = run_cli(config, "check")
    for secret in SECRETS:
        assert secret not in result.output
    return result.exit_code, [line for line in result.stdout.splitlines() if "bitbucket.org" in line]


def test_check_says_an_api_token_is_a_users_from_get_user_alone(bitbucket, run_cli):
    config = bitbucket(WITH_EMAIL, API_TOKEN, EMAIL)

    code, lines = checked(run_cli, config)

    assert code == 0
    assert lines == [f"✓ {LINE}: answers; the API token in BITBUCKET_TOKEN with the user name in BITBUCKET_EMAIL "
                     "(HTTP Basic) is a user's (GET /user): it reads the public repositories and what the account "
                     "may, within the token's scopes"]
    assert [(e.url, e.status, e.credential) for e in bitbucket.forges.log] == [(f"{BITBUCKET}/user", 200, BASIC)]


def test_check_refuses_an_api_token_with_the_wrong_email(bitbucket, run_cli):
    config = bitbucket(WITH_EMAIL, API_TOKEN, "someone.else@example.org")

    code, lines = checked(run_cli, config)

    assert code == 2
    assert lines == [f"✗ {LINE}: the API token in BITBUCKET_TOKEN with the user name in BITBUCKET_EMAIL (HTTP Basic) "
                     "was rejected (401 for team/app)"]
    # GET /user refused it (401), and so did the catalogue's repository: a token no request takes.
    assert [(e.target, e.status) for e in bitbucket.forges.log] == [
        ("/2.0/user", 401), ("/2.0/repositories/team/app", 401)]


def test_check_tries_an_access_token_which_is_no_user_on_the_catalogues_first_bitbucket_repository(
        bitbucket, run_cli):
    config = bitbucket(NAMED, ACCESS_TOKEN, urls=("https://github.com/a/b", "https://bitbucket.org/team/app"))

    code, lines = checked(run_cli, config)

    assert code == 0
    assert lines == [f"✓ {LINE}: answers; the token in BITBUCKET_TOKEN (Bearer) reads team/app and is no user's "
                     "(403 for GET /user): an access token, which reads only its own repository, project or workspace"]
    assert [(e.target, e.status, e.credential) for e in bitbucket.forges.log] == [
        ("/2.0/user", 403, f"Bearer {ACCESS_TOKEN}"), ("/2.0/repositories/team/app", 200, f"Bearer {ACCESS_TOKEN}")]


def test_check_fails_with_exit_2_when_the_catalogues_repository_answers_404(bitbucket, run_cli):
    config = bitbucket(NAMED, ACCESS_TOKEN, urls=("https://bitbucket.org/team/gone",))

    code, lines = checked(run_cli, config)

    assert code == 2
    assert lines == [f"✗ {LINE}: the token in BITBUCKET_TOKEN (Bearer): cannot read team/gone (404), the catalogue's "
                     "first Bitbucket repository; an access token reads only its own repository, project or "
                     "workspace"]


def test_check_fails_with_exit_2_when_get_user_answers_404(bitbucket, run_cli):
    # An api_url that is not Bitbucket Cloud's API 2.0: the stand-in has no /user there.
    config = bitbucket(NAMED + 'api_url = "https://api.bitbucket.org/2.1"\n', API_TOKEN)

    code, lines = checked(run_cli, config)

    assert code == 2
    assert lines == ["✗ bitbucket.org (bitbucket) https://api.bitbucket.org/2.1: GET /user answered 404: is api_url "
                     "Bitbucket Cloud's API 2.0?"]


def test_check_without_a_token_reads_the_catalogues_repository_anonymously(bitbucket, run_cli):
    config = bitbucket(NAMED)

    code, lines = checked(run_cli, config)

    assert code == 0
    assert lines == [f"✓ {LINE}: answers for team/app; no token: 60 requests an hour from this address"]
    assert [(e.target, e.credential) for e in bitbucket.forges.log] == [("/2.0/repositories/team/app", None)]


def test_check_without_a_token_and_no_bitbucket_package_asks_nothing(bitbucket, run_cli):
    config = bitbucket(NAMED, urls=("https://github.com/a/b",))

    code, lines = checked(run_cli, config)

    assert code == 0
    assert lines == [f"✓ {LINE}: no token, and no Bitbucket package in the catalogue to ask for"]
    assert bitbucket.forges.log == []


def test_a_user_name_basic_cannot_carry_fails_check_and_sync_naming_only_its_variable(bitbucket, run_cli):
    config = bitbucket(WITH_EMAIL, API_TOKEN, "ann:cient@example.org")

    checked_ = run_cli(config, "check")
    synced = run_cli(config, "sync")

    said = "$BITBUCKET_EMAIL holds whitespace, control characters or a colon: set it to the account's email or user"
    assert checked_.exit_code == 2 and f"✗ config: {said}" in checked_.stdout
    assert synced.exit_code == 2 and said in synced.output
    for result in (checked_, synced):
        assert "cient@example.org" not in result.output and API_TOKEN not in result.output
    assert bitbucket.forges.log == []
