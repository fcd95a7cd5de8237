"""The client: every answer read within bounds, every httpx failure typed, the token sent under its own API only."""

import asyncio
import gzip

import httpx
import pytest
import respx

from fetcher.config import load
from fetcher.errors import BadResponse, Transient, Unreachable
from fetcher.net.client import MAX_REDIRECTS, Client
from fetcher.net.credentials import Credential, origin, under
from fetcher.net.request import Request
from fetcher.net.service import Service

API = "https://api.github.com"
SECRET = "Bearer ghp_http_token_0123456789"


class Api(Service):
    """A service whose token goes under API only."""

    name = label = "api"

    def __init__(self):
        super().__init__(Credential(SECRET, (API,), "API_TOKEN"))


def http(config_file, **keys) -> Client:
    extra = "".join(f"{key} = {value}\n" for key, value in keys.items())
    path = config_file()
    text = path.read_text().replace("timeout = 5\n", "" if "timeout" in keys else "timeout = 5\n")
    path.write_text(text.replace("[http]\n", f"[http]\nretries = 0\n{extra}"))
    return Client(load(str(path)))


def get(client: Client, url: str, resource: str = "repo"):
    async def run():
        try:
            return await client.send(Api(), Request(url, resource))
        finally:
            await client.aclose()
    return asyncio.run(run())


def test_origin_is_scheme_host_and_port():
    assert origin("https://api.github.com/repos/x") == "https://api.github.com:443"
    assert origin("http://127.0.0.1:8080/x?y") == "http://127.0.0.1:8080"
    assert origin("HTTPS://API.GitHub.com:443/") == "https://api.github.com:443"
    for bad in ("http://[::1/x", "ftp://host/x", "/relative?page=2"):
        with pytest.raises(httpx.InvalidURL):
            origin(bad)


@respx.mock
def test_the_token_goes_to_its_origin_and_nowhere_else(config_file, respx_mock):
    respx_mock.get(f"{API}/repos/o/a").mock(return_value=httpx.Response(200, json={}))
    respx_mock.get("https://api.github.com:8443/x").mock(return_value=httpx.Response(200, json={}))
    respx_mock.get("http://api.github.com/x").mock(return_value=httpx.Response(200, json={}))
    respx_mock.get("https://elsewhere.example/x").mock(return_value=httpx.Response(200, json={}))
    client = http(config_file)

    async def run():
        for url in (f"{API}/repos/o/a", "https://api.github.com:8443/x", "http://api.github.com/x",
                    "https://elsewhere.example/x"):
            await client.send(Api(), Request(url, "repo"))
        await client.aclose()
    asyncio.run(run())

    sent = {str(call.request.url): call.request.headers.get("Authorization") for call in respx_mock.calls}
    assert sent == {f"{API}/repos/o/a": SECRET, "https://api.github.com:8443/x": None,
                    "http://api.github.com/x": None, "https://elsewhere.example/x": None}


@respx.mock
def test_a_redirect_to_another_origin_is_not_followed(config_file, respx_mock):
    respx_mock.get(f"{API}/repos/o/a").mock(
        return_value=httpx.Response(307, headers={"Location": "https://elsewhere.example/a"}))
    elsewhere = respx_mock.get("https://elsewhere.example/a").mock(return_value=httpx.Response(200, json={}))

    with pytest.raises(BadResponse, match=r"redirected off the API's origin \(https://api.github.com:443\)"):
        get(http(config_file), f"{API}/repos/o/a")
    assert elsewhere.call_count == 0
    assert [call.request.headers.get("Authorization") for call in respx_mock.calls] == [SECRET]


@respx.mock
def test_a_redirect_within_the_origin_is_followed_with_the_token_under_the_api(config_file, respx_mock):
    respx_mock.get(f"{API}/repos/o/a").mock(return_value=httpx.Response(301, headers={"Location": f"{API}/x/1"}))
    respx_mock.get(f"{API}/x/1").mock(return_value=httpx.Response(200, json={"ok": True}))

    assert get(http(config_file), f"{API}/repos/o/a").data == {"ok": True}
    assert [call.request.headers.get("Authorization") for call in respx_mock.calls] == [SECRET, SECRET]


@respx.mock
def test_a_redirect_loop_is_a_bad_response(config_file, respx_mock):
    loop = respx_mock.get(f"{API}/repos/o/a").mock(
        return_value=httpx.Response(301, headers={"Location": f"{API}/repos/o/a"}))

    with pytest.raises(BadResponse, match=f"more than {MAX_REDIRECTS} redirects"):
        get(http(config_file), f"{API}/repos/o/a")
    assert loop.call_count == MAX_REDIRECTS + 1


@pytest.mark.parametrize("location", ["http://[::1/x", "ftp://files.example/x"])
@respx.mock
def test_a_location_fetcher_will_not_follow_is_a_bad_response(config_file, respx_mock, location):
    respx_mock.get(f"{API}/repos/o/a").mock(return_value=httpx.Response(302, headers={"Location": location}))
    if location.startswith("ftp:"):  # what httpcore raises for a scheme it has no connection for
        respx_mock.get(location).mock(side_effect=httpx.UnsupportedProtocol("Request URL has an unsupported protocol"))

    with pytest.raises(BadResponse):
        get(http(config_file), f"{API}/repos/o/a")


@respx.mock
def test_a_gzip_bomb_is_refused_past_max_body_without_inflating_it(config_file, respx_mock):
    bomb = gzip.compress(b" " * (16 * 1024 * 1024))
    respx_mock.get(f"{API}/repos/o/a").mock(
        return_value=httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"}))

    with pytest.raises(BadResponse, match=r"answer larger than http.max_body \(65536 bytes\)"):
        get(http(config_file, max_body=65536), f"{API}/repos/o/a")


@respx.mock
def test_a_gzip_body_within_max_body_is_read(config_file, respx_mock):
    respx_mock.get(f"{API}/repos/o/a").mock(return_value=httpx.Response(
        200, content=gzip.compress(b'{"forks_count": 3}'), headers={"Content-Encoding": "gzip"}))

    assert get(http(config_file, max_body=1024), f"{API}/repos/o/a").data == {"forks_count": 3}


@respx.mock
def test_a_plain_body_past_max_body_is_refused(config_file, respx_mock):
    respx_mock.get(f"{API}/repos/o/a").mock(return_value=httpx.Response(200, content=b" " * 5000 + b"{}"))

    with pytest.raises(BadResponse, match="larger than http.max_body"):
        get(http(config_file, max_body=4096), f"{API}/repos/o/a")


@respx.mock
def test_an_encoding_not_asked_for_is_refused(config_file, respx_mock):
    respx_mock.get(f"{API}/repos/o/a").mock(
        return_value=httpx.Response(200, content=b"xx", headers={"Content-Encoding": "br"}))

    with pytest.raises(BadResponse, match="encoding fetcher did not ask for"):
        get(http(config_file), f"{API}/repos/o/a")


@respx.mock
def test_an_unreachable_host_is_named(config_file, respx_mock):
    respx_mock.get(f"{API}/repos/o/a").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(Unreachable) as caught:
        get(http(config_file), f"{API}/repos/o/a")
    assert caught.value.host == "https://api.github.com:443"


@respx.mock
def test_a_request_past_its_deadline_is_transient(config_file, respx_mock):
    async def slow(request):
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    respx_mock.get(f"{API}/repos/o/a").mock(side_effect=slow)

    with pytest.raises(Transient, match=r"no complete answer within 0.3s"):
        get(http(config_file, timeout=0.1), f"{API}/repos/o/a")


class Unreadable(httpx.AsyncByteStream):
    """A body that must never be read: a redirect's, which could be a bomb of any size."""

    async def __aiter__(self):
        raise AssertionError("a redirect's body was read")
        yield b""  # pragma: no cover


@respx.mock
def test_a_redirects_body_is_never_read(config_file, respx_mock):
    respx_mock.get(f"{API}/repos/o/old").mock(return_value=httpx.Response(
        301, headers={"Location": f"{API}/repositories/1", "Content-Encoding": "gzip"}, stream=Unreadable()))
    respx_mock.get(f"{API}/repositories/1").mock(return_value=httpx.Response(200, json={"id": 1}))

    assert get(http(config_file), f"{API}/repos/o/old").data == {"id": 1}


def test_a_credential_covers_its_api_url_and_the_paths_under_it_only():
    github = "http://127.0.0.1:8000"  # a GitHub stand-in at the origin's root
    gitlab = "http://127.0.0.1:8000/_forge/gitlab.com/api/v4"
    assert under(f"{github}/repos/a/b", github) and under(f"{gitlab}/projects/1", gitlab)
    assert under(gitlab, gitlab) and under(f"{gitlab}/", gitlab)
    assert not under(f"{github}/_forge/gitlab.com/api/v4x", gitlab)
    assert not under("http://127.0.0.1:8001/repos/a/b", github)
    assert not under("https://127.0.0.1:8000/repos/a/b", github)
    assert not under("http://[::1/x", github)
