"""Read repository and PyPI URLs in the many forms people type them."""

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from fetcher.errors import InputError

GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
PYPI_HOSTS = frozenset({"pypi.org", "www.pypi.org", "pypi.python.org", "test.pypi.org"})

# git@github.com:owner/name.git
_SCP_FORM = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):(?P<path>[^\s]+)$")


@dataclass(frozen=True)
class RepoRef:
    host: str
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def same_repo(self, other: "RepoRef") -> bool:
        """GitHub owner and repository names are case-insensitive."""
        return self.full_name.lower() == other.full_name.lower()


def parse_repo_url(url: str) -> RepoRef:
    """https://github.com/o/r, http://, www., trailing /, .git, /tree/... and git@host:o/r.git."""
    host, segments = _host_and_segments(url)
    owner, name = segments[0], segments[1]
    if name.endswith(".git"):
        name = name[: -len(".git")]
    if not owner or not name:
        raise InputError(f"repo_url {url!r} does not name an owner and a repository")
    return RepoRef(host=host.lower(), owner=owner, name=name)


def repo_host(url: str) -> str:
    """The host name a repo_url names, lower-cased, in any form parse_repo_url reads; InputError for no URL."""
    return _host_and_segments(url)[0].lower()


def parse_nested_repo_url(url: str) -> RepoRef:
    """GitLab: groups nest, so every segment up to GitLab's "/-/" (tree, blob, merge_requests...) is the path.

    https://gitlab.com/group/subgroup/project/-/tree/main -> owner "group/subgroup", name "project".
    """
    host, segments = _host_and_segments(url)
    if "-" in segments:
        segments = segments[: segments.index("-")]
    if len(segments) < 2:
        raise InputError(f"repo_url {url!r} does not name a group and a project")
    name = segments[-1][: -len(".git")] if segments[-1].endswith(".git") else segments[-1]
    if not name:
        raise InputError(f"repo_url {url!r} does not name a group and a project")
    return RepoRef(host=host.lower(), owner="/".join(segments[:-1]), name=name)


def _host_and_segments(url: str) -> tuple[str, list[str]]:
    text = url.strip()
    scp = _SCP_FORM.match(text)
    if scp:
        host, path = scp["host"], scp["path"]
    else:
        parts = _split(text, f"repo_url {url!r}")
        if parts.scheme not in ("http", "https", "git", "ssh") or not parts.hostname:
            raise InputError(f"repo_url {url!r} is not a URL")
        host, path = parts.hostname, parts.path
    segments = [s for s in path.split("/") if s]
    if len(segments) < 2:
        raise InputError(f"repo_url {url!r} does not name an owner and a repository")
    return host, segments


def _split(text: str, what: str) -> SplitResult:
    """The parts of a URL (https:// assumed without a scheme); InputError naming `what` for text urlsplit cannot
    split (an unclosed IPv6 host, `https://[x/...`, or a host that changes under NFKC)."""
    try:
        return urlsplit(text if "//" in text else f"https://{text}")
    except ValueError as exc:
        raise InputError(f"{what} is not a URL: {exc}") from None


def same_repo_url(a: str, b: str) -> bool:
    """Whether two repo_urls name the same repository, whatever form each is written in."""
    try:
        ref_a, ref_b = parse_repo_url(a), parse_repo_url(b)
    except InputError:
        return a.strip() == b.strip()
    return _bare_host(ref_a.host) == _bare_host(ref_b.host) and ref_a.same_repo(ref_b)


def _bare_host(host: str) -> str:
    return host.removeprefix("www.")


def github_hosts(api_url: str) -> frozenset[str]:
    """github.com, plus the host of a GitHub Enterprise (or stand-in) API."""
    api_host = (urlsplit(api_url).hostname or "").lower()
    if api_host in ("api.github.com", ""):
        return GITHUB_HOSTS
    return GITHUB_HOSTS | {api_host}


def pypi_name(pypi_url: str | None) -> str | None:
    """The project name in a PyPI URL; None when the URL is empty.

    Accepts https://pypi.org/project/NAME/, http://pypi.python.org/pypi/NAME,
    https://pypi.org/pypi/NAME/json, .../pypi/NAME/VERSION and a bare NAME.
    """
    text = (pypi_url or "").strip()
    if not text:
        return None
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", text):
        return text
    parts = _split(text, f"pypi_url {pypi_url!r}")
    segments = [s for s in parts.path.split("/") if s]
    if (parts.hostname or "").lower() in PYPI_HOSTS and len(segments) >= 2:
        if segments[0] in ("project", "pypi", "simple"):
            return segments[1]
    raise InputError(f"pypi_url {pypi_url!r} is not a PyPI project URL")


def same_pypi_project(a: str | None, b: str | None) -> bool:
    """Whether two pypi_urls name the same project (both empty counts as the same)."""
    try:
        name_a, name_b = pypi_name(a), pypi_name(b)
    except InputError:
        return (a or "").strip() == (b or "").strip()
    return (name_a and normalize_pypi_name(name_a)) == (name_b and normalize_pypi_name(name_b))


def normalize_pypi_name(name: str) -> str:
    """PEP 503: PyPI redirects any other spelling, which would cost a round trip."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Links:
    """A package's catalogue links as stored: what a fetch was made for, and what its answers are written
    against (only while they still hold)."""

    repo_url: str
    pypi_url: str | None

    @classmethod
    def of(cls, row: dict) -> "Links":
        return cls(row["repo_url"], row["pypi_url"])
