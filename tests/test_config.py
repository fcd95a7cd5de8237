"""config: config.toml plus built-in defaults, checked key by key."""

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from dateutil import tz

from fetcher import config, durations
from fetcher.errors import ConfigError
from tests.conftest import ROOT

SHIPPED = ROOT / "config.toml"


@pytest.fixture(autouse=True)
def no_config_env(monkeypatch):
    monkeypatch.delenv("FETCHER_CONFIG", raising=False)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load_error(text: str, tmp_path: Path) -> str:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    return str(caught.value)


def test_built_in_defaults_when_there_is_no_config_toml(in_tmp):
    loaded = config.load()
    assert loaded == config.Config(
        source="built-in defaults",
        store_path=in_tmp / "packages.db",
        github_api_url="https://api.github.com",
        github_graphql_url="https://api.github.com/graphql",
        github_token_env="GITHUB_TOKEN",
        graphql=True,
        pace=True,
        pypi_url="https://pypi.org",
        concurrency=16,
        stale_after=timedelta(hours=24),
        max_rate_limit_wait=timedelta(minutes=15),
        timeout=20,
        retries=4,
        backoff=1.0,
        timezone=tz.UTC,
        github_token_envs=("GITHUB_TOKEN",),
        hosts={
            "gitlab.com": config.HostConfig("gitlab.com", "gitlab", "https://gitlab.com/api/v4", "GITLAB_TOKEN"),
            "codeberg.org": config.HostConfig("codeberg.org", "forgejo", "https://codeberg.org/api/v1", "CODEBERG_TOKEN"),
            "bitbucket.org": config.HostConfig(
                "bitbucket.org", "bitbucket", "https://api.bitbucket.org/2.0", "BITBUCKET_TOKEN"
            ),
        },
    )


def test_config_toml_in_the_working_directory_is_read(in_tmp):
    write(in_tmp / "config.toml", "[sync]\nconcurrency = 3\n")
    loaded = config.load()
    assert loaded.source == "config.toml"
    assert loaded.concurrency == 3


def test_a_named_file_that_is_missing_is_an_error(in_tmp):
    with pytest.raises(ConfigError) as caught:
        config.load("nowhere/fetcher.toml")
    assert str(caught.value) == "nowhere/fetcher.toml: config file not found"
    assert caught.value.exit_code == 2


def test_fetcher_config_env_is_honoured(in_tmp, monkeypatch):
    path = write(in_tmp / "elsewhere.toml", '[sync]\nstale_after = "7d"\n')
    write(in_tmp / "config.toml", '[sync]\nstale_after = "90s"\n')
    monkeypatch.setenv("FETCHER_CONFIG", str(path))
    loaded = config.load()
    assert loaded.source == str(path)
    assert loaded.stale_after == timedelta(days=7)


def test_fetcher_config_env_naming_a_missing_file_is_an_error(in_tmp, monkeypatch):
    monkeypatch.setenv("FETCHER_CONFIG", str(in_tmp / "gone.toml"))
    with pytest.raises(ConfigError) as caught:
        config.load()
    assert str(caught.value) == f"{in_tmp / 'gone.toml'}: config file not found"


def test_explicit_file_wins_over_fetcher_config(in_tmp, monkeypatch):
    monkeypatch.setenv("FETCHER_CONFIG", str(write(in_tmp / "env.toml", "[http]\nretries = 1\n")))
    explicit = write(in_tmp / "explicit.toml", "[http]\nretries = 2\n")
    assert config.load(str(explicit)).retries == 2


def test_shipped_config_equals_the_defaults(in_tmp):
    shipped = config.load(str(SHIPPED))
    defaults = config.load()
    assert shipped.source == str(SHIPPED)
    assert shipped.store_path == SHIPPED.parent / "packages.db"
    assert dataclasses.replace(shipped, source=defaults.source, store_path=defaults.store_path) == defaults


def test_relative_store_path_is_relative_to_the_config_files_directory(tmp_path, monkeypatch):
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    elsewhere = tmp_path / "run"
    elsewhere.mkdir()
    write(conf_dir / "fetcher.toml", '[store]\npath = "data/packages.db"\n')
    monkeypatch.chdir(elsewhere)
    assert config.load("../etc/fetcher.toml").store_path == conf_dir / "data" / "packages.db"


def test_absolute_store_path_is_kept(tmp_path):
    path = write(tmp_path / "c.toml", f'[store]\npath = "{tmp_path / "x" / "p.db"}"\n')
    assert config.load(str(path)).store_path == tmp_path / "x" / "p.db"


def test_every_key_is_read(tmp_path):
    path = write(
        tmp_path / "c.toml",
        '[github]\napi_url = "https://ghe.example.com/api/v3/"\ngraphql_url = "https://ghe.example.com/api/graphql"\n'
        'token_env = "GHE_TOKEN"\ngraphql = false\npace = false\n[pypi]\nurl = "http://127.0.0.1:9000/"\n'
        '[sync]\nconcurrency = 2\nstale_after = "90s"\nmax_rate_limit_wait = "1.5h"\n'
        '[http]\ntimeout = 2.5\nretries = 0\nbackoff = 0\n[output]\ntimezone = "America/New_York"\n',
    )
    loaded = config.load(str(path))
    assert loaded.github_api_url == "https://ghe.example.com/api/v3"
    assert loaded.github_graphql_url == "https://ghe.example.com/api/graphql"
    assert loaded.github_token_env == "GHE_TOKEN"
    assert loaded.graphql is False
    assert loaded.pace is False
    assert loaded.pypi_url == "http://127.0.0.1:9000"
    assert loaded.concurrency == 2
    assert loaded.stale_after == timedelta(seconds=90)
    assert loaded.max_rate_limit_wait == timedelta(minutes=90)
    assert loaded.timeout == 2.5
    assert loaded.retries == 0
    assert loaded.backoff == 0.0 and isinstance(loaded.backoff, float)
    assert loaded.timezone == tz.gettz("America/New_York")


def test_graphql_and_pace_default_to_true(tmp_path):
    path = write(tmp_path / "c.toml", '[github]\ntoken_env = "GITHUB_TOKEN"\n')
    loaded = config.load(str(path))
    assert loaded.graphql is True
    assert loaded.pace is True


@pytest.mark.parametrize(
    "text, graphql, pace",
    [
        ("[github]\npace = false\n", True, False),
        ("[github]\ngraphql = false\n", False, True),
        ("[github]\ngraphql = true\npace = true\n", True, True),
    ],
)
def test_graphql_and_pace_are_read(tmp_path, text, graphql, pace):
    loaded = config.load(str(write(tmp_path / "c.toml", text)))
    assert (loaded.graphql, loaded.pace) == (graphql, pace)


def test_github_token_is_read_from_the_named_variable(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", '[github]\ntoken_env = "MY_TOKEN"\n')
    loaded = config.load(str(path))
    monkeypatch.delenv("MY_TOKEN", raising=False)
    assert loaded.github_token() is None
    monkeypatch.setenv("MY_TOKEN", "")
    assert loaded.github_token() is None
    monkeypatch.setenv("MY_TOKEN", "ghp_abc")
    assert loaded.github_token() == "ghp_abc"


def test_unknown_section(tmp_path):
    message = load_error('[sync]\nconcurrency = 2\n\n[outptu]\ntimezone = "UTC"\n', tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}, line 4: unknown section [outptu]"


def test_unknown_key_names_file_section_key_and_line(tmp_path):
    message = load_error("# comment\n[http]\ntimeout = 5\nretry = 3\n", tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}, line 4: unknown key http.retry"


def test_a_key_of_another_section_is_unknown_here(tmp_path):
    message = load_error("[sync]\nconcurrency = 2\n[http]\nconcurrency = 2\n", tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}, line 4: unknown key http.concurrency"


def test_a_section_given_as_a_value(tmp_path):
    message = load_error("sync = 3\n", tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}, line 1: sync must be a [section]"


@pytest.mark.parametrize(
    "text, line, expected",
    [
        ('[sync]\nconcurrency = "16"\n', 2, "sync.concurrency must be an int, not '16'"),
        ("[sync]\nconcurrency = 16.0\n", 2, "sync.concurrency must be an int, not 16.0"),
        ("[sync]\nconcurrency = true\n", 2, "sync.concurrency must be an int, not True"),
        ("[http]\n\ntimeout = true\n", 3, "http.timeout must be an int or float, not True"),
        ('[http]\ntimeout = "20"\n', 2, "http.timeout must be an int or float, not '20'"),
        ("[sync]\nstale_after = 24\n", 2, "sync.stale_after must be a str, not 24"),
        ("[store]\npath = 1\n", 2, "store.path must be a str, not 1"),
        ('[output]\ntimezone = ["UTC"]\n', 2, "output.timezone must be a str, not ['UTC']"),
        ('[github]\npace = "no"\n', 2, "github.pace must be a bool, not 'no'"),
        ('[github]\ntoken_env = "T"\ngraphql = 0\n', 3, "github.graphql must be a bool, not 0"),
        ('[github]\ngraphql = "true"\n', 2, "github.graphql must be a bool, not 'true'"),
    ],
)
def test_wrong_type(tmp_path, text, line, expected):
    assert load_error(text, tmp_path) == f"{tmp_path / 'bad.toml'}, line {line}: {expected}"


def test_malformed_toml_names_file_and_line(tmp_path):
    message = load_error("[sync]\nconcurrency = 16\nstale_after = \n", tmp_path)
    assert message.startswith(f"{tmp_path / 'bad.toml'}: invalid TOML: ")
    assert "line 3" in message


def test_unclosed_section_header_is_malformed(tmp_path):
    message = load_error("[http]\nretries = 1\n[sync\n", tmp_path)
    assert message.startswith(f"{tmp_path / 'bad.toml'}: invalid TOML: ")
    assert "line 3" in message


def test_a_file_that_is_not_utf8_cannot_be_read(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[github]\ntoken_env = "\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    assert str(caught.value).startswith(f"{path}: cannot read: ")


@pytest.mark.parametrize("key", ["stale_after", "max_rate_limit_wait"])
@pytest.mark.parametrize("value", ["15 minutes", "x", "", "15", "-5m", "1w"])
def test_bad_duration(tmp_path, key, value):
    message = load_error(f'[sync]\n{key} = "{value}"\n', tmp_path)
    assert message == (
        f"{tmp_path / 'bad.toml'}: sync.{key}: {value!r} is not a duration like 90s, 15m, 24h or 7d"
    )


def test_unknown_time_zone(tmp_path):
    message = load_error('[output]\ntimezone = "Mars/Olympus_Mons"\n', tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}: output.timezone: unknown time zone 'Mars/Olympus_Mons'"


def test_empty_time_zone_is_not_silently_the_hosts_local_zone(tmp_path):
    # dateutil's gettz("") is the local zone of whatever machine runs the cron job.
    message = load_error('[output]\ntimezone = ""\n', tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}: output.timezone: unknown time zone ''"


@pytest.mark.parametrize("name", ["UTC", "utc"])
def test_utc_by_any_case(tmp_path, name):
    path = write(tmp_path / "c.toml", f'[output]\ntimezone = "{name}"\n')
    assert config.load(str(path)).timezone is tz.UTC


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[sync]\nconcurrency = 0\n", "sync.concurrency must be at least 1, not 0"),
        ("[http]\nretries = -1\n", "http.retries must be at least 0, not -1"),
        ("[http]\ntimeout = 0\n", "http.timeout must be at least 0.1, not 0"),
        ("[http]\nbackoff = -0.5\n", "http.backoff must be at least 0, not -0.5"),
        ("[http]\nmax_body = 100\n", "http.max_body must be at least 1024, not 100"),
        ("[status]\nstopped_runs = -1\n", "status.stopped_runs must be at least 0, not -1"),
        ("[status]\nstale_factor = 0.5\n", "status.stale_factor must be 0 (off) or at least 1, not 0.5"),
        ('[status]\nbacklog_for = "a day"\n', "status.backlog_for: 'a day' is not a duration like 90s, 15m, 24h or 7d"),
    ],
)
def test_values_below_their_minimum(tmp_path, text, expected):
    assert load_error(text, tmp_path) == f"{tmp_path / 'bad.toml'}: {expected}"


@pytest.mark.parametrize(
    "section, key, value",
    [("github", "api_url", "api.github.com"), ("github", "graphql_url", "ftp://x/graphql"), ("pypi", "url", "")],
)
def test_urls_must_be_http(tmp_path, section, key, value):
    message = load_error(f'[{section}]\n{key} = "{value}"\n', tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}: {section}.{key} must be an http(s) URL, not {value!r}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("0s", timedelta(0)),
        ("1.5h", timedelta(minutes=90)),
        (" 10 m ", timedelta(minutes=10)),
    ],
)
def test_parse_duration(text, expected):
    assert durations.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["15 minutes", "x", "", "15", "m", "1w", "-1s", "15M"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError) as caught:
        durations.parse_duration(text)
    assert str(caught.value) == f"{text!r} is not a duration like 90s, 15m, 24h or 7d"


def test_hosts_tables_override_built_in_forges_and_add_self_hosted_ones(tmp_path):
    path = write(tmp_path / "config.toml", """
[hosts."gitlab.com"]
token_env = "MY_GITLAB"

[hosts."gitlab.gnome.org"]
kind = "gitlab"
api_url = "https://gitlab.gnome.org/api/v4/"

[hosts."git.example.org"]
kind = "forgejo"
api_url = "http://git.example.org/api/v1"
token_env = "EXAMPLE_TOKEN"
""")
    hosts = config.load(str(path)).hosts
    assert hosts["gitlab.com"] == config.HostConfig("gitlab.com", "gitlab", "https://gitlab.com/api/v4", "MY_GITLAB")
    assert hosts["gitlab.gnome.org"] == config.HostConfig(
        "gitlab.gnome.org", "gitlab", "https://gitlab.gnome.org/api/v4", None)
    assert hosts["git.example.org"].kind == "forgejo" and hosts["git.example.org"].token_env == "EXAMPLE_TOKEN"
    assert hosts["bitbucket.org"].api_url == "https://api.bitbucket.org/2.0"


def test_a_host_token_is_read_from_its_variable_at_use(tmp_path, monkeypatch):
    path = write(tmp_path / "config.toml", '[hosts."codeberg.org"]\ntoken_env = "CB"\n')
    loaded = config.load(str(path))
    monkeypatch.delenv("CB", raising=False)
    assert loaded.hosts["codeberg.org"].token() is None
    monkeypatch.setenv("CB", "codeberg-secret-123")
    assert loaded.hosts["codeberg.org"].token() == "codeberg-secret-123"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[hosts."git.example.org"]\nkind = "gitea"\napi_url = "https://git.example.org/api/v1"\n',
         'line 1: hosts."git.example.org".kind must be one of gitlab, forgejo, bitbucket, not \'gitea\''),
        ('[hosts."git.example.org"]\nkind = "forgejo"\n', 'line 1: hosts."git.example.org".api_url is missing'),
        ('[hosts."git.example.org"]\napi_url = "https://git.example.org/api/v1"\n',
         'hosts."git.example.org".kind is missing'),
        ('[hosts."gitlab.com"]\napi_url = "gitlab.com/api/v4"\n',
         'hosts."gitlab.com".api_url must be an http(s) URL'),
        ('[hosts."gitlab.com"]\ntoken = "glpat-in-the-file"\n', 'unknown key hosts."gitlab.com".token'),
        ('[hosts."gitlab.com"]\nkind = 3\n', 'hosts."gitlab.com".kind must be a string, not 3'),
        ('[hosts]\n"gitlab.com" = "gitlab"\n', 'hosts."gitlab.com" must be a table'),
        ('hosts = 1\n', "hosts must be tables"),
    ],
)
def test_malformed_hosts_tables_are_config_errors_naming_the_key(tmp_path, text, message):
    assert message in load_error(text, tmp_path)


def test_username_env_without_token_env_is_one_line_naming_the_key(tmp_path, run_cli):
    path = write(tmp_path / "config.toml", '[store]\npath = "s.db"\n[hosts."bitbucket.org"]\ntoken_env = ""\n'
                                           'username_env = "BITBUCKET_EMAIL"\n')

    for command in ("check", "sync"):
        result = run_cli(path, command)
        assert result.exit_code == 2
        said = (f'{path}, line 3: hosts."bitbucket.org".username_env is set without hosts."bitbucket.org".token_env: '
                "a user name goes with a token")
        assert said in result.output and len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[hosts."gitlab.com"]\nusername_env = "GL_USER"\n',
         'hosts."gitlab.com".username_env: only a bitbucket host takes one (HTTP Basic with an API token)'),
        ('[hosts."bitbucket.example.org"]\nkind = "bitbucket"\napi_url = "https://bb.example.org/2.0"\n'
         'username_env = "BB_USER"\n', 'hosts."bitbucket.example.org".username_env is set without '
         'hosts."bitbucket.example.org".token_env'),
        ('[hosts."bitbucket.org"]\nusername_env = "BB USER"\n',
         'hosts."bitbucket.org".username_env: \'BB USER\' is not a variable\'s name'),
        ('[hosts."bitbucket.org"]\nusername_env = 1\n', 'hosts."bitbucket.org".username_env must be a string, not 1'),
    ],
)
def test_a_misplaced_or_malformed_username_env_is_a_config_error(tmp_path, text, message):
    assert message in load_error(text, tmp_path)


def test_a_user_name_is_read_at_use_and_refused_with_a_colon_naming_only_its_variable(tmp_path, monkeypatch):
    path = write(tmp_path / "config.toml", '[hosts."bitbucket.org"]\nusername_env = "BB_EMAIL"\n')
    host = config.load(str(path)).hosts["bitbucket.org"]
    monkeypatch.delenv("BB_EMAIL", raising=False)
    assert (host.token_env, host.username_env, host.username()) == ("BITBUCKET_TOKEN", "BB_EMAIL", None)
    monkeypatch.setenv("BB_EMAIL", "")
    assert host.username() is None  # empty: the token goes alone, as Bearer
    monkeypatch.setenv("BB_EMAIL", "ann@example.org")
    assert host.username() == "ann@example.org"
    monkeypatch.setenv("BB_EMAIL", "ann:secret@example.org")
    with pytest.raises(config.ConfigError) as raised:
        host.username()
    assert "$BB_EMAIL holds whitespace, control characters or a colon" in str(raised.value)
    assert "ann" not in str(raised.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[http]\nbackoff = inf\n", "http.backoff must be a finite number, not inf"),
        ("[http]\ntimeout = nan\n", "http.timeout must be a finite number, not nan"),
        ("[http]\ntimeout = -inf\n", "http.timeout must be a finite number, not -inf"),
        ("[http]\ntimeout = 1e9\n", "http.timeout must be at most 3600, not 1000000000.0"),
        ("[http]\nretries = 1000000\n", "http.retries must be at most 100, not 1000000"),
        ("[sync]\nconcurrency = 100000\n", "sync.concurrency must be at most 1000, not 100000"),
    ],
)
def test_values_that_are_not_finite_or_past_their_maximum(tmp_path, text, expected):
    assert load_error(text, tmp_path) == f"{tmp_path / 'bad.toml'}: {expected}"


@pytest.mark.parametrize(
    "value",
    [
        "https://api.github.com:notaport",
        "https://api.github.com:99999",
        "https://api.github.com:0",
        "https://exa mple.com",
        "https://[::1",
        "https://api.github.com?x=1",
        "https://api.github.com/#frag",
        "https://user:pass@api.github.com",
        "https://",
        "https://api.github.com\n",
    ],
)
def test_a_bad_api_url_is_refused_at_load(tmp_path, value):
    message = load_error(f'[github]\napi_url = "{value.encode("unicode_escape").decode()}"\n', tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}: github.api_url must be an http(s) URL, not {value!r}"


@pytest.mark.parametrize("value", ["http://127.0.0.1:8080", "https://ghe.example.com/api/v3", "https://[::1]:8443/api"])
def test_good_api_urls_pass(tmp_path, value):
    assert config.load(str(write(tmp_path / "c.toml", f'[github]\napi_url = "{value}"\n'))).github_api_url == value


@pytest.mark.parametrize("name", ["/etc/passwd", "/usr/share/zoneinfo/UTC", "./zone", "../../etc/hostname", "~/tz"])
def test_a_time_zone_given_as_a_file_path_is_refused(tmp_path, name):
    message = load_error(f'[output]\ntimezone = "{name}"\n', tmp_path)
    assert message == f"{tmp_path / 'bad.toml'}: output.timezone: unknown time zone {name!r}"


@pytest.mark.parametrize("text", ["99999999999999999999d", "3651d", "1e5d"])
def test_parse_duration_refuses_durations_past_ten_years(text):
    with pytest.raises(ValueError):
        durations.parse_duration(text)


def test_max_body_is_bytes_after_decompression_eight_mib_by_default(tmp_path):
    assert config.load(str(write(tmp_path / "c.toml", ""))).max_body == 8 * 1024 * 1024
    assert config.load(str(write(tmp_path / "d.toml", "[http]\nmax_body = 65536\n"))).max_body == 65536


def test_token_env_takes_a_list_of_variables_and_reads_the_set_ones_in_order(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", '[github]\ntoken_env = ["T_ONE", "T_TWO", "T_THREE"]\n')
    for name, value in (("T_ONE", "ghp_first_token"), ("T_THREE", "ghp_third_token")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("T_TWO", raising=False)
    loaded = config.load(str(path))
    assert loaded.token_envs == ("T_ONE", "T_TWO", "T_THREE") and loaded.github_token_env == "T_ONE"
    assert loaded.github_tokens() == [("T_ONE", "ghp_first_token"), ("T_THREE", "ghp_third_token")]
    assert loaded.github_token() == "ghp_first_token"


@pytest.mark.parametrize(
    "value, message",
    [
        ("[]", "github.token_env must name at least one variable"),
        ('["A", "A"]', "github.token_env names a variable twice"),
        ('["A", 3]', "github.token_env: 3 is not an environment variable's name"),
        ('["A B"]', "github.token_env: 'A B' is not an environment variable's name"),
        ("3", "github.token_env must be a str or list, not 3"),
    ],
)
def test_a_bad_token_env_list_is_named(tmp_path, value, message):
    path = write(tmp_path / "c.toml", f"[github]\ntoken_env = {value}\n")
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    assert message in str(caught.value)


def test_a_malformed_token_in_a_pool_is_named_by_its_variable_never_shown(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", '[github]\ntoken_env = ["T_ONE", "T_TWO"]\n')
    monkeypatch.setenv("T_ONE", "ghp_good_token")
    monkeypatch.setenv("T_TWO", "ghp_bad token\r")
    with pytest.raises(ConfigError) as caught:
        config.load(str(path)).github_tokens()
    assert "$T_TWO holds whitespace" in str(caught.value) and "ghp_bad" not in str(caught.value)


def test_a_forge_token_with_a_line_ending_is_refused_naming_its_variable(tmp_path, monkeypatch):
    loaded = config.load(str(write(tmp_path / "config.toml", '[hosts."gitlab.com"]\ntoken_env = "GL"\n')))
    monkeypatch.setenv("GL", "glpat-secret-value\r\n")
    with pytest.raises(ConfigError) as caught:
        loaded.hosts["gitlab.com"].token()
    assert "$GL holds whitespace" in str(caught.value) and "glpat-secret-value" not in str(caught.value)


def test_the_serve_keys_are_read_and_checked(tmp_path):
    defaults = config.load(str(write(tmp_path / "d.toml", "")))
    assert defaults.serve_cache_seconds == 60
    assert defaults.serve_last_sync_within == timedelta(hours=25)
    loaded = config.load(str(write(tmp_path / "c.toml", '[serve]\ncache_seconds = 0\nlast_sync_within = "2h"\n')))
    assert loaded.serve_cache_seconds == 0
    assert loaded.serve_last_sync_within == timedelta(hours=2)
    for text, message in (("[serve]\ncache_seconds = -1\n", "serve.cache_seconds must be at least 0"),
                          ('[serve]\nlast_sync_within = "soon"\n', "serve.last_sync_within"),
                          ("[serve]\nport = 80\n", "unknown key serve.port")):  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            config.load(str(write(tmp_path / "bad.toml", text)))


def test_the_status_thresholds_are_read_and_default_to_those_of_the_shipped_file(tmp_path):
    assert config.load(str(SHIPPED)).thresholds == config.Thresholds() == config.Thresholds(
        failures=3, stale_factor=2, stopped_runs=3, backlog_for=timedelta(hours=24))
    text = '[status]\nfailures = 0\nstale_factor = 1.5\nstopped_runs = 5\nbacklog_for = "2d"\n'
    path = write(tmp_path / "c.toml", text)
    assert config.load(str(path)).thresholds == config.Thresholds(0, 1.5, 5, timedelta(days=2))


def test_the_import_keys_are_read_and_the_api_root_ends_in_one_slash(tmp_path):
    loaded = config.load(str(write(tmp_path / "c.toml", '[import]\napi_url = "http://127.0.0.1:9000/api/v4"\n'
                                                        "requests_per_second = 0.5\npage_size = 20\n")))
    assert (loaded.import_api_url, loaded.import_requests_per_second, loaded.import_page_size) == (
        "http://127.0.0.1:9000/api/v4/", 0.5, 20)
    defaults = config.load(str(write(tmp_path / "empty.toml", "")))
    assert (defaults.import_api_url, defaults.import_requests_per_second, defaults.import_page_size) == (
        "https://djangopackages.org/api/v4/", 2, 100)


@pytest.mark.parametrize("text, expected", [
    ("requests_per_second = 0", "import.requests_per_second must be at least 0.01, not 0"),
    ("requests_per_second = 101", "import.requests_per_second must be at most 100, not 101"),
    ('requests_per_second = "2/s"', "import.requests_per_second must be an int or float, not '2/s'"),
    ("page_size = 0", "import.page_size must be at least 1, not 0"),
    ("page_size = 5000", "import.page_size must be at most 1000, not 5000"),
    ('api_url = "djangopackages.org/api/v4/"', "import.api_url must be an http(s) URL"),
])
def test_bad_import_keys_are_named(tmp_path, text, expected):
    path = write(tmp_path / "c.toml", f"[import]\n{text}\n")
    with pytest.raises(ConfigError) as caught:
        config.load(str(path))
    assert expected in str(caught.value)
