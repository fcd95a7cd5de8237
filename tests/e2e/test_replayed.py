"""The recorded real answers of GitHub, GitLab, Bitbucket and PyPI, replayed through a whole sync.

Each exchange in ../shared/fixtures/real/ (see its README) is served to fetcher's own client, under the
run loop, as it was recorded: its status, its headers (each line as recorded; only the transfer framing,
Transfer-Encoding and Content-Length, is left to the transport) and its body, the recorded JSON value
serialized once and gzip-compressed again where it came gzip-compressed. Nothing is rebuilt by a fake.

fetcher asks some things in another way than Django Packages did when it recorded them (a page size, a
query, a trailing slash): ALIASES says which recorded exchange answers which of fetcher's requests, and
why it is the same answer. What was never recorded is answered by STAND_IN, each a minimal answer
saying why; the fields and facts that come from a stand-in answer say so where they are asserted. Any
other request is answered 599 and fails the test.

The expected records are written out by hand from the recorded bodies (counts, names, dates), never
computed with fetcher's readers. The clock is the morning the answers were recorded (their Date headers
say 2024-01-13 02:46 to 02:47 UTC), so the weekly windows and the scores are those of that day.
"""

import gzip
import json
from datetime import UTC, datetime

import httpx
import pytest

from fetcher.config import load
from fetcher.facts import FACT_NAMES
from fetcher.record import validate
from fetcher.run import loop
from fetcher.run.report import FAILED, SKIPPED, SYNCED
from fetcher.store import open_store
from tests.conftest import REAL, Clock, no_sleep

NOW = datetime(2024, 1, 13, 12, 0, tzinfo=UTC)
STAMP = "2024-01-13T12:00:00+00:00"
GITHUB, GITLAB, BITBUCKET, PYPI = ("https://api.github.com", "https://gitlab.com/api/v4",
                                   "https://api.bitbucket.org/2.0", "https://pypi.org")
ZEROS = [0] * 52
JSON = "application/json"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
# Headers that frame the transfer, not the answer: the transport sets its own.
FRAMING = {"transfer-encoding", "content-length"}
PYPI_PROJECTS = ("django", "djangorestframework", "wagtail", "django-crispy-forms", "django-minify-html", "nango")

# fetcher's request -> the recorded exchange (its file) that answers it, and why that is the same answer.
ALIASES = {
    f"{GITLAB}/projects/lansharkconsulting%2Fdjango%2Fdjango-encrypted-model-fields": (
        "gitlab/gitlab_com_api_v4_projects_lansharkconsulting_2Fdjango_2Fdjango_encrypted_model_fields_license_True",
        "recorded with ?license=True: the same project answer, with a license key fetcher does not read"),
    f"{GITLAB}/projects/jeff.triplett%2Fdjango-metadata": (
        "gitlab/gitlab_com_api_v4_projects_jeff_triplett_2Fdjango_metadata_license_True",
        "recorded with ?license=True: the same project answer, with a license key fetcher does not read"),
    f"{GITLAB}/projects/6812925/repository/commits?ref_name=develop&per_page=1": (
        "gitlab/gitlab_com_api_v4_projects_6812925_repository_commits",
        "the default branch's (develop) commits, newest first, 20 a page: fetcher reads the first"),
    # The history is paged from the newest commit's id (develop's head when recorded), so a push meanwhile
    # shifts no page: the same list as the branch's.
    f"{GITLAB}/projects/6812925/repository/commits?ref_name=3a68fa64428d9e64bc298d9c9c9ce21d54d4263d"
    "&since=2023-01-14T00:00:00Z&per_page=100": (
        "gitlab/gitlab_com_api_v4_projects_6812925_repository_commits",
        ("the same list recorded from the branch, without `since` or a page size: its Link leads through the "
         "recorded pages 2 to 5, the whole history; the commits before the window are outside the 52 weeks")),
    f"{GITLAB}/projects/6812925/repository/contributors?order_by=commits&sort=desc&per_page=100": (
        "gitlab/gitlab_com_api_v4_projects_6812925_repository_contributors",
        "recorded without a query: GitLab's default order, sort=asc (its Link says so), one page"),
    f"{GITLAB}/projects/46520/repository/contributors?order_by=commits&sort=desc&per_page=100": (
        "gitlab/gitlab_com_api_v4_projects_46520_repository_contributors",
        "recorded without a query: GitLab's default order, sort=asc (its Link says so), one page"),
    f"{BITBUCKET}/repositories/Manfre/django-mssql": (
        "bitbucket/api_bitbucket_org_2_0_repositories_Manfre_django_mssql", "recorded with a trailing slash"),
    f"{BITBUCKET}/repositories/Manfre/django-mssql/watchers": (
        "bitbucket/api_bitbucket_org_2_0_repositories_Manfre_django_mssql_watchers", "recorded with a trailing slash"),
    f"{BITBUCKET}/repositories/Manfre/django-mssql/forks": (
        "bitbucket/api_bitbucket_org_2_0_repositories_Manfre_django_mssql_forks", "recorded with a trailing slash"),
    f"{BITBUCKET}/repositories/Manfre/django-mssql/commits/master?pagelen=1": (
        "bitbucket/api_bitbucket_org_2_0_repositories_Manfre_django_mssql_commits_limit_50",
        ("the main branch's commits, newest first (limit= is no Bitbucket parameter: 30 a page): fetcher "
         "reads the first")),
    # The history is paged from the newest commit's id (master's head when recorded): the branch's list.
    f"{BITBUCKET}/repositories/Manfre/django-mssql/commits/5c1672ba764b65a30e81863ad0a1672b81376bec?pagelen=100": (
        "bitbucket/api_bitbucket_org_2_0_repositories_Manfre_django_mssql_commits_limit_50",
        "the same list, 30 a page instead of 100; its `next` is page 2, which was not recorded (STAND_IN)"),
}

# Where nothing was recorded: a minimal answer, and why. None of it comes from a live service.
DEPS_COMMITS = 201  # the recorded commits pages of 100 run to page 3: 201 to 300 commits; the stand-in says 201


def _deps_newest_commit() -> list:
    # The recorded per_page=100 page's first commit, as it was recorded; fetcher asks per_page=1.
    return json.loads((REAL / "github/api_github_com_repos_django_deps_commits_per_page_100.json").read_text())[
        "body"][:1]


STAND_IN = {
    f"{GITHUB}/repos/django/deps/stats/participation": (
        200, {"Content-Type": JSON}, lambda: {"all": [0] * 48 + [1, 0, 0, 0], "owner": ZEROS},
        ("weekly counts were not recorded: one commit in week 48 (17 to 23 Dec 2023), where the recorded "
         "newest commit (19 Dec) falls")),
    f"{GITHUB}/repos/django/deps/commits?per_page=1": (
        200, {"Content-Type": JSON, "Link": f'<{GITHUB}/repositories/18764735/commits?per_page=1&page=2>; '
                                            f'rel="next", <{GITHUB}/repositories/18764735/commits?per_page=1&page='
                                            f'{DEPS_COMMITS}>; rel="last"'},
        _deps_newest_commit,
        "only per_page=100 was recorded: its newest commit, and a Link whose last page is DEPS_COMMITS"),
    f"{GITHUB}/repos/pydanny/dj-paginator/stats/participation": (
        200, {"Content-Type": JSON}, lambda: {"all": ZEROS, "owner": ZEROS},
        "weekly counts were not recorded: none (its last push was in 2016)"),
    f"{GITHUB}/repos/pydanny/dj-paginator/commits?per_page=1": (
        200, {"Content-Type": JSON}, lambda: [{"commit": {"committer": {"date": "2016-11-07T08:42:39Z"}}}],
        "no commit was recorded: one, dated at the recorded pushed_at, and no Link (so a count of 1)"),
    f"{GITLAB}/projects/6812925/repository/commits/3a68fa64428d9e64bc298d9c9c9ce21d54d4263d/sequence": (
        200, {"Content-Type": JSON}, lambda: {"count": 92},
        "not recorded: the recorded pages list the whole history, 4 x 20 + 12 = 92 commits"),
    f"{GITLAB}/projects/46520/repository/commits?ref_name=master&per_page=1": (
        200, {"Content-Type": JSON}, list,
        "no commit of django-metadata was recorded: an empty list, so no last commit, no weekly counts"),
    f"{BITBUCKET}/repositories/Manfre/django-mssql/commits/?limit=50&ctx=dc1b9b5d6cb2188fcb3e14bd5a152048&page=2": (
        200, {"Content-Type": JSON}, lambda: {"pagelen": 30, "page": 2, "values": []},
        "page 2 was not recorded: a last page with no commits, so the history counted is the 30 recorded"),
    **{f"{PYPI}/simple/{name}/": (
        200, {"Content-Type": SIMPLE_JSON}, lambda name=name: {"meta": {"api-version": "1.4"}, "name": name,
                                                               "versions": [], "files": []},
        "the JSON Index API was not recorded: a project page that says no status (active)")
       for name in PYPI_PROJECTS},
}

# Recorded, and not asked by fetcher, with why.
NOT_ASKED = {
    f"{GITHUB}/repos/django/deps/commits?per_page=100": "fetcher asks per_page=1 (STAND_IN holds its first commit)",
}


def recorded_exchanges() -> dict[str, dict]:
    """Every recorded exchange by the URL it was recorded at; PyPI's bodies were kept without their headers."""
    exchanges = {}
    for kind in ("github", "gitlab", "bitbucket"):
        for path in sorted((REAL / kind).glob("*.json")):
            exchange = json.loads(path.read_text())
            exchange["file"] = f"{kind}/{path.stem}"
            exchanges[exchange["uri"]] = exchange
    for path in sorted((REAL / "pypi").glob("pypi-*.json")):
        name = path.stem.removeprefix("pypi-")
        exchanges[f"{PYPI}/pypi/{name}/json"] = {
            "file": f"pypi/{path.stem}", "status": 200, "headers": {"Content-Type": JSON},  # none were recorded
            "body": json.loads(path.read_text())}
    return exchanges


def as_served(exchange: dict) -> httpx.Response:
    """The recorded answer: its status, every header line as recorded but the framing, its body."""
    headers = [(name, line) for name, value in exchange["headers"].items() if name.lower() not in FRAMING
               for line in (value if isinstance(value, list) else [value])]
    body = json.dumps(exchange["body"], ensure_ascii=False).encode()
    if any(name.lower() == "content-encoding" and line == "gzip" for name, line in headers):
        body = gzip.compress(body)
    return framed(exchange["status"], headers, body)


def framed(status: int, headers, body: bytes) -> httpx.Response:
    """An answer as the client reads one off the wire: a stream of bytes, framed by Content-Length."""
    return httpx.Response(status, headers=[*headers, ("Content-Length", str(len(body)))],
                          stream=httpx.ByteStream(body))


class Replay:
    """The transport: each request answered by its recorded exchange, an alias of one, or a stand-in."""

    def __init__(self):
        self.recorded = recorded_exchanges()
        self.by_file = {exchange["file"]: exchange for exchange in self.recorded.values()}
        self.asked: list[str] = []
        self.unexpected: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.asked.append(url)
        if request.method == "GET" and url in self.recorded:
            return as_served(self.recorded[url])
        if request.method == "GET" and url in ALIASES:
            return as_served(self.by_file[ALIASES[url][0]])
        if request.method == "GET" and url in STAND_IN:
            status, headers, body, _why = STAND_IN[url]
            return framed(status, list(headers.items()), json.dumps(body()).encode())
        self.unexpected.append(f"{request.method} {url}")
        return framed(599, [], b"")


def package(number: int, slug: str, repo_url: str = "", pypi_url: str = "") -> dict:
    """A catalogue record never fetched."""
    return {"category": None, "grids": [], "id": number, "title": slug, "slug": slug, "last_updated": None,
            "last_fetched": None, "repo_url": repo_url, "pypi_version": "", "created": "2020-01-01T00:00:00+00:00",
            "modified": "2020-01-01T00:00:00+00:00", "repo_forks": 0, "repo_description": "", "pypi_url": pypi_url,
            "documentation_url": "", "repo_watchers": 0, "commits_over_52": [], "participants": []}


CATALOGUE = [
    package(number, *links) for number, links in enumerate([
        ("deps", "https://github.com/django/deps"),
        ("dj-paginator", "https://github.com/pydanny/dj-paginator"),
        ("does-not-exist", "https://github.com/djangopackages/does-not-exist"),
        ("django-encrypted-model-fields", "https://gitlab.com/lansharkconsulting/django/django-encrypted-model-fields"),
        ("django-metadata", "https://gitlab.com/jeff.triplett/django-metadata"),
        ("django-mssql", "https://bitbucket.org/Manfre/django-mssql"),
        *((name, "", f"https://pypi.org/project/{name}/") for name in PYPI_PROJECTS),
    ], start=1)
]

NO_PYPI = {"pypi_version": "", "documentation_url": "", "license": None, "requires_python": None,
           "supports_python3": None, "django_versions": None, "classifiers": None, "latest_release_at": None,
           "latest_release_yanked": None, "pypi_status": None}
NO_REPO = {"repo_forks": 0, "repo_watchers": 0, "repo_description": "", "participants": [], "commits_over_52": [],
           "last_updated": None, "archived": None, "archived_at": None, "commit_count": None}

# slug -> every fetched field and fact it should have, from the recorded answers (and the stand-ins named).
EXPECTED = {
    "deps": {
        **NO_PYPI,
        "repo_forks": 85, "repo_watchers": 401,  # forks_count, watchers_count (GitHub's star count)
        "repo_description": "Django Enhancement Proposals",
        # The 31 logins of the one recorded contributors page, in GitHub's order.
        "participants": ["carljm", "jacobian", "aaugustin", "andrewgodwin", "treyhunner", "ubernostrum", "jezdez",
                         "adrianholovaty", "sjoerdjob", "akaariai", "carltongibson", "adamchainz", "ovangle",
                         "timgraham", "thedrow", "nedbat", "MarkusH", "jdufresne", "thibaudcolas", "VishvajitP",
                         "alexwlchan", "andreif", "berkerpeksag", "ewjoachim", "jarshwah", "mjtamlyn", "felixxm",
                         "mblayman", "michael-k", "knyghty", "nessita"],
        "commits_over_52": [0] * 48 + [1, 0, 0, 0],  # STAND_IN
        "last_updated": "2023-12-19T21:59:33+00:00",  # the recorded newest commit's committer date
        "archived": False, "archived_at": None,
        "commit_count": DEPS_COMMITS,  # STAND_IN
        # 401 stars, 0 whole months since 19 Dec, Python 3 support unknown: 401 - 0 - 0.3 x 401 = 280.7
        "score": 280,
    },
    "dj-paginator": {
        **NO_PYPI,
        "repo_forks": 4, "repo_watchers": 36, "repo_description": "Django + Pagination made easy.",
        "participants": ["audreyfeldroy", "pydanny"],
        "commits_over_52": ZEROS,  # STAND_IN
        "last_updated": "2016-11-07T08:42:39+00:00",  # STAND_IN: the recorded pushed_at
        "archived": True, "archived_at": STAMP,  # REST does not say when: when fetcher first saw it archived
        "commit_count": 1,  # STAND_IN
        # 7 years 2 months since: 86 months, 28 quarters: 36 - 28 x 3.6 - 0.3 x 36 = -75.6, truncated toward 0
        "score": -75,
    },
    "django-encrypted-model-fields": {
        **NO_PYPI,
        "repo_forks": 25, "repo_watchers": 33,  # forks_count, star_count
        "repo_description": "A set of fields that wrap standard Django fields with encryption provided by the "
                            "python cryptography library.",
        # The recorded contributors' names, each once, in the order recorded (least commits first: see ALIASES).
        "participants": ["Pavel Žák", "Jonathan DEKHTIAR", "Manuel Kaufmann", "Will Gordon", "Yoseph Radding",
                         "Dylan Gregersen", "Matt Lewellyn", "Lucas Roesler", "nasief", "waseem-omar", "Josh Wright",
                         "ghalebkhaled", "Dana Spiegel", "Scott Sharkey"],
        "commits_over_52": ZEROS,  # the newest of the 92 recorded commits is of 12 Jul 2022: none in the window
        "last_updated": "2022-07-12T13:28:12+00:00",  # 2022-07-12T09:28:12.000-04:00, the head's committed_date
        "archived": False, "archived_at": None,
        "commit_count": 92,  # STAND_IN (the head's sequence)
        # 1 year 6 months since: 6 quarters: 33 - 6 x 3.3 - 0.3 x 33 = 3.3
        "score": 3,
    },
    "django-metadata": {
        **NO_PYPI,
        "repo_forks": 0, "repo_watchers": 0,
        "repo_description": "Metadata package for models. \r\n\r\nMy forked copy of: "
                            "https://github.com/rafaelsierra/django-metadata",
        "participants": ["Israel Fruchter", "fruch", "Jeff Triplett", "Rafael Sierra"],  # Rafael Sierra twice
        "commits_over_52": [], "last_updated": None,  # STAND_IN: no commit recorded
        "archived": True, "archived_at": STAMP,  # GitLab does not say when: when fetcher first saw it archived
        "commit_count": None,  # STAND_IN: no commit recorded, and GitLab's count comes from the head's sequence
        "score": 0,
    },
    "django-mssql": {
        **NO_PYPI,
        "repo_forks": 37, "repo_watchers": 16,  # the `size` of /forks and of /watchers
        "repo_description": "Microsoft SQL server backend for Django running on windows.\r\n\r\nNo actively "
                            "maintained and only supports up to Django 1.8, which hasn't received security fixes "
                            "for years.",
        # The 30 recorded commits by author (the linked user's nickname), merges included: Manfre 19,
        # timograham 3, AdamChainz, mu5h3r and phistrom 2 each, Erin Mullaney and jblissnge 1 each.
        "participants": ["Manfre", "timograham", "AdamChainz", "mu5h3r", "phistrom", "Erin Mullaney", "jblissnge"],
        "commits_over_52": ZEROS,  # the newest is of 22 Aug 2018
        "last_updated": "2018-08-22T18:50:22+00:00",
        "archived": None, "archived_at": None,  # Bitbucket has no archiving
        "commit_count": 30,  # the 30 recorded, and STAND_IN's empty page 2
        # 5 years 4 months since: 64 months, 21 quarters: 16 - 21 x 1.6 - 0.3 x 16 = -22.4
        "score": -22,
    },
    # PyPI: info.version; the facts from info and the release files in `urls` (the license a list of names: no
    # project here gives a PEP 639 expression); the status from STAND_IN.
    # No repository: its fields stay as the catalogue had them, and the score of 0 stars is 0.
    **{slug: {**NO_REPO, "pypi_version": version, "documentation_url": docs, "license": license_,
              "requires_python": requires, "supports_python3": True, "django_versions": django,
              "latest_release_at": released, "latest_release_yanked": False, "pypi_status": "active", "score": 0}
       for slug, version, docs, license_, requires, django, released in (
           ("django", "4.0.2", "https://docs.djangoproject.com/", ["BSD-3-Clause"], ">=3.8", [],
            "2022-02-01T07:56:23.036066+00:00"),  # docs: project_urls "Documentation"
           ("djangorestframework", "3.13.1", "", ["BSD"], ">=3.6", ["2.2", "3.0", "3.1", "3.2", "4.0"],
            "2021-12-15T15:18:42.237445+00:00"),
           ("wagtail", "2.16.1", "", ["BSD"], ">=3.7", ["3.2", "4.0"], "2022-02-11T13:58:20.278624+00:00"),
           ("django-crispy-forms", "1.14.0", "", ["MIT"], ">=3.7", ["2.2", "3.2", "4.0"],
            "2022-01-25T08:08:34.739304+00:00"),
           ("django-minify-html", "1.0.0", "", ["MIT"], ">=3.8", ["2.2", "3.0", "3.1", "3.2", "4.0"],
            "2021-12-28T10:37:18.583101+00:00"),
           # license is "": the License classifier names it.
           ("nango", "0.1.2", "", ["MIT License"], ">=3.8", [], "2022-02-12T23:39:48.897997+00:00"),
       )},
}


@pytest.fixture
def replayed(tmp_path, config_file, run_cli, monkeypatch):
    """One sync of CATALOGUE against the recorded answers; (the report, the replay, `export --facts` by slug)."""
    if not REAL.is_dir():
        pytest.fail(f"the recorded answers are not at {REAL}: check the shared fixtures out beside the repository")
    for name in ("GITHUB_TOKEN", "GITLAB_TOKEN", "BITBUCKET_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # no token: GitHub's REST answers, as recorded, not GraphQL
    path = config_file()
    config = load(str(path))
    store = open_store(config.store_path)
    store.catalogue.import_records([validate(record, "test") for record in CATALOGUE], NOW)
    replay = Replay()
    report = loop.run(store, store.schedule.due(None, None), config, "sync", clock=Clock(NOW), sleep=no_sleep,
                      transport=httpx.MockTransport(replay))
    exported = run_cli(path, "export", "--facts")
    assert exported.exit_code == 0, exported.output
    return report, replay, {record["slug"]: record for record in json.loads(exported.stdout)}


def test_the_recorded_answers_replayed_through_a_sync_give_the_records_they_imply(replayed):
    report, replay, records = replayed

    assert replay.unexpected == []
    assert (report.outcomes[SYNCED], report.outcomes[SKIPPED], report.outcomes[FAILED]) == (5, 6, 1)
    assert report.failures == [("does-not-exist", f"not found ({GITHUB}/repos/djangopackages/does-not-exist)")]
    for slug, expected in EXPECTED.items():
        record = records[slug]
        got = {**{name: record[name] for name in expected if name not in FACT_NAMES},
               **{name: record["facts"][name] for name in expected if name in FACT_NAMES}}
        assert got == expected, slug
        assert (record["last_fetched"], record["modified"]) == (STAMP, STAMP), slug
    for slug in PYPI_PROJECTS:  # the classifiers as recorded, in their order
        recorded = json.loads((REAL / "pypi" / f"pypi-{slug}.json").read_text())["info"]["classifiers"]
        assert records[slug]["facts"]["classifiers"] == recorded, slug
    # The repository that is not there fails and keeps what it had: nothing, as the catalogue said.
    missing = records["does-not-exist"]
    assert {k: missing[k] for k in NO_REPO if k in missing} == {k: v for k, v in NO_REPO.items() if k in missing}
    assert missing["last_fetched"] is None and missing["facts"] == dict.fromkeys(FACT_NAMES)


def test_every_recorded_answer_but_the_ones_named_is_asked_and_nothing_else(replayed):
    _report, replay, _records = replayed

    asked = set(replay.asked)
    recorded = set(replay.recorded)
    aliased = {ALIASES[url][0] for url in asked if url in ALIASES}
    replayed_files = {replay.recorded[url]["file"] for url in asked & recorded} | aliased
    assert {exchange["file"] for url, exchange in replay.recorded.items() if url not in NOT_ASKED} == replayed_files
    assert not asked & set(NOT_ASKED)
    assert asked <= recorded | set(ALIASES) | set(STAND_IN) and asked >= set(ALIASES) | set(STAND_IN)
    # GitLab's history is followed through its recorded Link headers, page by page.
    assert [url for url in replay.asked if "&page=" in url and url.startswith(GITLAB)] == [
        f"{GITLAB}/projects/6812925/repository/commits?id=6812925&order=default&page={page}&per_page=20"
        "&trailers=false" for page in (2, 3, 4, 5)]
