"""`fetcher serve` as a process, over HTTP: the contract of Django Packages' API v4 and of fetcher's own endpoints.

One server for the module, on a store made by `fetcher import` of a generated catalogue and a `fetcher sync`
against the stand-in. The expected envelopes and links are written out by hand from DRF's rules (PAGE_SIZE 20,
`replace_query_param`, `remove_query_param`) and Django Packages' documented example; the records are compared with
what `fetcher show` and `fetcher export` print. Nothing here is timed: readiness is polled a bounded number of times.
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from fetcher.standin import StandIn, World, github_full_name
from tests.conftest import ROOT

PACKAGES = 45  # ids 1 to 45: pages at offsets 0, 20 and 40 of 20, 20 and 5 records
TOKEN = "ghp_serve_contract_token_0123"
PUSHED = ("django-pkg3", "django-pkg17", "django-pkg44")


def fetcher(config: Path, *args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args], capture_output=True,
                          text=True, env=_env(), cwd=ROOT, timeout=120, **options)  # fmt: skip


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    env["GITHUB_TOKEN"] = TOKEN
    return env


def start_server(config: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """`fetcher serve --port 0`, and its URL as the line it prints once listening says (JSON logs: the event)."""
    process = subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(config), *options, "serve",
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                               cwd=ROOT)  # fmt: skip
    stream = process.stderr if "json" in options else process.stdout
    ready, _, _ = select.select([stream], [], [], 60)
    line = stream.readline().decode() if ready else ""
    if "json" in options:
        url = json.loads(line)["url"] if line else ""
    else:
        url = line.split()[1].removesuffix("/api/v4/") if line.startswith("serving ") else ""
    if not url:
        process.kill()
        raise AssertionError(f"no listening line: {line!r} {process.stderr.read().decode()[-2000:]}")
    for _ in range(200):  # bounded: the health endpoint answers once the server takes requests
        try:
            httpx.get(f"{url}/api/fetcher/health/", timeout=5)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return process, url


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    finally:
        process.kill()
        process.stdout.close()
        process.stderr.close()


@dataclass
class Site:
    url: str
    config: Path
    world: World
    catalog: list[dict]
    client: httpx.Client

    def get(self, path: str, **options) -> httpx.Response:
        return self.client.get(self.url + path, **options)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return fetcher(self.config, *args)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    world, catalog = World.generate(PACKAGES, seed=7, renamed=0, missing=0, empty=0, cold_stats=0.0)
    (folder / "catalog.json").write_text(json.dumps(catalog))
    with StandIn(world, stats_delay=0) as standin:
        config = folder / "config.toml"
        config.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\n'
                          f'graphql_url = "{standin.url}/graphql"\npace = false\n[pypi]\nurl = "{standin.url}"\n'
                          '[http]\nbackoff = 0\ntimeout = 5\n[serve]\ncache_seconds = 30\n')  # fmt: skip
        assert fetcher(config, "import", str(folder / "catalog.json")).returncode == 0
        synced = fetcher(config, "sync")
        assert synced.returncode == 0, synced.stderr
        process, url = start_server(config)
        with httpx.Client(timeout=30) as client:
            yield Site(url, config, world, catalog, client)
        assert stop(process) == 0


def ids_desc(start: int, stop_before: int) -> list[int]:
    """The catalogue's ids (1 to 45) newest first, from position `start` up to `stop_before`."""
    return list(range(PACKAGES, 0, -1))[start:stop_before]


# --- pages --------------------------------------------------------------------------------------------------------


def test_the_first_page_as_django_packages_documents_it(site):
    page = site.get("/api/v4/packages/").json()
    assert list(page) == ["count", "next", "previous", "results"]
    assert page["count"] == PACKAGES
    assert page["next"] == f"{site.url}/api/v4/packages/?limit=20&offset=20"
    assert page["previous"] is None
    assert [record["id"] for record in page["results"]] == ids_desc(0, 20)


def test_a_middle_page_links_back_to_the_first_without_an_offset(site):
    page = site.get("/api/v4/packages/?offset=20").json()
    assert page["next"] == f"{site.url}/api/v4/packages/?limit=20&offset=40"
    assert page["previous"] == f"{site.url}/api/v4/packages/?limit=20"
    assert [record["id"] for record in page["results"]] == ids_desc(20, 40)


def test_the_last_page_has_no_next(site):
    page = site.get("/api/v4/packages/?offset=40&limit=20").json()
    assert page["next"] is None
    assert page["previous"] == f"{site.url}/api/v4/packages/?limit=20&offset=20"
    assert [record["id"] for record in page["results"]] == ids_desc(40, 45)


def test_past_the_end_is_an_empty_page_that_steps_back(site):
    page = site.get("/api/v4/packages/?offset=100").json()
    assert page == {"count": PACKAGES, "next": None, "previous": f"{site.url}/api/v4/packages/?limit=20&offset=80",
                    "results": []}  # fmt: skip


def test_unknown_parameters_are_ignored_and_kept_in_the_links_sorted(site):
    page = site.get("/api/v4/packages/?zz=1&offset=3&limit=7&format=json").json()
    assert page["next"] == f"{site.url}/api/v4/packages/?format=json&limit=7&offset=10&zz=1"
    assert page["previous"] == f"{site.url}/api/v4/packages/?format=json&limit=7&zz=1"
    assert [record["id"] for record in page["results"]] == ids_desc(3, 10)


def test_every_listed_record_is_the_bytes_export_prints(site):
    exported = site.cli("export", "--jsonl").stdout.splitlines()
    by_id = {json.loads(line)["id"]: line for line in exported}
    served = site.get("/api/v4/packages/?limit=100").text
    expected = ", ".join(by_id[number] for number in ids_desc(0, PACKAGES))
    assert served == f'{{"count": {PACKAGES}, "next": null, "previous": null, "results": [{expected}]}}'


# --- one record ---------------------------------------------------------------------------------------------------


def test_a_record_by_slug_or_id_is_the_bytes_show_prints(site):
    record = site.catalog[11]
    shown = site.cli("show", record["slug"]).stdout
    by_slug = site.get(f"/api/v4/packages/{record['slug']}/")
    by_id = site.get(f"/api/v4/packages/{record['id']}/")
    assert by_slug.status_code == by_id.status_code == 200
    assert by_slug.content == by_id.content == shown.encode()
    assert by_slug.headers["content-type"] == "application/json"
    assert json.loads(shown)["repo_watchers"] == site.world.expected_fields(record)["repo_watchers"]


def test_a_missing_package_is_drfs_404(site):
    for path in ("/api/v4/packages/no-such-package/", "/api/v4/packages/999/"):
        answer = site.get(path)
        assert (answer.status_code, answer.json()) == (404, {"detail": "No Package matches the given query."})


def test_fetchers_own_endpoints_are_what_the_commands_print(site):
    slug = site.catalog[5]["slug"]
    assert site.get(f"/api/fetcher/packages/{slug}/facts/").text == site.cli("show", slug, "--facts").stdout
    assert site.get(f"/api/fetcher/packages/{slug}/history/").text == site.cli("history", slug, "--json").stdout
    assert site.get("/api/fetcher/trending/?days=30").text == site.cli("trending", "--json").stdout


def test_health_is_200_after_a_recent_sync(site):
    answer = site.get("/api/fetcher/health/")
    assert answer.status_code == 200
    assert answer.json()["healthy"] is True and answer.json()["store"] == {"readable": True, "packages": PACKAGES}


def test_grids_and_categories_are_empty_lists(site):
    for path in ("/api/v4/grids/", "/api/v4/categories/"):
        assert site.get(path).json() == {"count": 0, "next": None, "previous": None, "results": []}


# --- bad input ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, status, body", [
    ("/api/v4/packages/?limit=100000000", 200, None),  # cut to 1,000: every package, one page
    ("/api/v4/packages/?limit=" + "9" * 5000, 200, None),  # past int()'s digits: the default, as DRF
    ("/api/v4/packages/?offset=-20", 200, None),  # DRF reads it as 0
    ("/api/v4/packages/?limit=-1&offset=abc", 200, None),
    ("/api/v4/packages/" + "x" * 10000 + "/", 404, {"detail": "No Package matches the given query."}),
    ("/api/v4/packages/%00/", 404, {"detail": "Not found."}),
    ("/api/v4/packages/%FF%FE/", 404, {"detail": "Not found."}),
    ("/api/v4/packages/%C2%B2/", 404, {"detail": "Not found."}),
    ("/api/v4/packages/?modified_since=not-a-date", 400, "modified_since"),
    ("/api/v4/packages/?modified_since=2026-12-01T00:00:00+00:00", 400, "modified_since"),  # + is a space
    ("/api/v4/packages/?" + "&".join(f"p{n}=1" for n in range(1001)), 400, "detail"),
    ("/api/fetcher/trending/?days=0", 400, "days"),
    ("/api/v4/nowhere/", 404, {"detail": "Not found."}),
])  # fmt: skip
def test_bad_input_is_a_4xx_with_a_json_body_or_what_drf_would_answer(site, path, status, body):
    answer = site.get(path)
    assert answer.status_code == status
    if status == 200:
        page = answer.json()
        assert page["count"] == PACKAGES and len(page["results"]) == min(PACKAGES, 20 if "limit=1" not in path else 1000)
    elif isinstance(body, dict):
        assert answer.json() == body
    else:
        assert list(answer.json()) == [body]


def test_bytes_that_are_not_http_get_a_400_with_a_body_and_the_server_goes_on(site):
    host, port = site.url.removeprefix("http://").split(":")
    for request in (b"GET /api/v4/packages/\xff/ HTTP/1.1\r\nHost: x\r\n\r\n", b"NOT HTTP\r\n\r\n",
                    b"GET /api/v4/packages/ HTTP/1.1\r\nHost: \xff\r\n\r\n"):  # fmt: skip
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(request)
            head, body = read_answer(connection)
        assert head.startswith(b"HTTP/1.1 400 ") and body
    assert site.get("/api/v4/packages/").status_code == 200


def read_answer(connection: socket.socket) -> tuple[bytes, bytes]:
    """One answer's head and body: up to its Content-Length, or to the end of a closed connection."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), None)  # fmt: skip
    while length is None or len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def test_nothing_writes_and_head_has_no_body(site):
    answer = site.client.post(site.url + "/api/v4/packages/", json={"slug": "x"})
    assert (answer.status_code, answer.json()) == (405, {"detail": 'Method "POST" not allowed.'})
    head = site.client.head(site.url + "/api/v4/packages/")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(site.get("/api/v4/packages/").content)


def test_a_path_without_its_slash_is_redirected_to_it(site):
    answer = site.get("/api/v4/packages?limit=2", follow_redirects=False)
    assert answer.status_code == 301 and answer.headers["location"] == "/api/v4/packages/?limit=2"


# --- conditional requests and deltas, around a sync that changes some packages -----------------------------------


def test_deltas_and_304s_around_a_sync_that_changes_some_packages(site):
    before = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    first = site.get(f"/api/v4/packages/{PUSHED[0]}/")
    tag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "public, max-age=30"
    assert site.get(f"/api/v4/packages/{PUSHED[0]}/", headers={"If-None-Match": tag}).status_code == 304
    unchanged = site.get(f"/api/v4/packages/{PUSHED[0]}/", headers={"If-Modified-Since": last_modified})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == tag
    assert site.get("/api/v4/packages/", params={"modified_since": before}).json()["count"] == 0

    for record in site.catalog:
        if record["slug"] in PUSHED:
            site.world.push(github_full_name(record["repo_url"]), commits=2)
    sync = subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(site.config), "sync", "--all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=ROOT)  # fmt: skip
    while sync.poll() is None:  # the server answers while the sync writes, and the sync is never held up
        assert site.get("/api/v4/packages/?offset=10").status_code == 200
    assert sync.returncode == 0, sync.stderr.read().decode()
    sync.stdout.close()
    sync.stderr.close()

    delta = site.get("/api/v4/packages/", params={"modified_since": before, "limit": "2"}).json()
    assert delta["count"] == len(PUSHED)
    assert delta["next"] == f"{site.url}/api/v4/packages/?limit=2&modified_since={before.replace(':', '%3A')}&offset=2"
    rest = site.get(delta["next"].removeprefix(site.url)).json()
    assert rest["next"] is None
    assert [r["slug"] for r in delta["results"] + rest["results"]] == ["django-pkg44", "django-pkg17", "django-pkg3"]
    changed = site.get(f"/api/v4/packages/{PUSHED[0]}/", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert changed.content == site.cli("show", PUSHED[0]).stdout.encode()


# --- the process --------------------------------------------------------------------------------------------------


def test_sigterm_stops_it_cleanly_and_access_logs_are_json_events(site, tmp_path):
    process, url = start_server(site.config, "--log-format", "json")
    assert httpx.get(f"{url}/api/v4/packages/?limit=1").status_code == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    events = [json.loads(line) for line in process.stderr.read().decode().splitlines()]
    process.stdout.close()
    process.stderr.close()
    requests = [e for e in events if e["event"] == "access" and e["target"] == "/api/v4/packages/?limit=1"]
    assert len(requests) == 1
    assert {key: requests[0][key] for key in ("method", "status", "client")} == \
        {"method": "GET", "status": 200, "client": "127.0.0.1"}
    assert requests[0]["bytes"] > 0 and "ms" in requests[0]


def test_two_workers_share_the_port_and_stop_on_sigterm(site):
    process = subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(site.config), "serve", "--port",
                                "0", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                               cwd=ROOT)  # fmt: skip
    ready, _, _ = select.select([process.stdout], [], [], 60)
    url = process.stdout.readline().decode().split()[1].removesuffix("/api/v4/") if ready else ""
    for _ in range(200):
        try:
            assert httpx.get(f"{url}/api/v4/packages/?limit=1").status_code == 200
            break
        except httpx.TransportError:
            time.sleep(0.05)
    assert stop(process) == 0


def test_without_the_serve_extra_it_says_how_to_install_it(site):
    blocked = ("import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None; "
               "from fetcher.cli import main; sys.argv = ['fetcher', '--config', sys.argv[1], 'serve']; main()")
    result = subprocess.run([sys.executable, "-c", blocked, str(site.config)], capture_output=True, text=True,
                            env=_env(), cwd=ROOT, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == "fetcher: serve needs its extra: pip install 'fetcher[serve]'\n"
