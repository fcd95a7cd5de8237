"""Forgejo, Gitea and Codeberg, REST API v1.

- repository: GET /repos/{owner}/{repo}: `stars_count` (not `watchers_count`, which
  counts subscribers, but for the djangopackages profile), `forks_count`, `description`, `default_branch`, `empty`,
  `full_name` and `html_url` (a renamed repository answers under its new name), and
  `updated_at`, which every push sets to its time (and every settings change).
- Forgejo sends no ETag on repository and commit JSON (only raw files, media, LFS and
  packages get one: modules/httpcache), so nothing is a 304. Instead the newest commit
  is asked only when `updated_at` moved since the answer read with the counts kept
  (`unchanged_since`): an unchanged repository costs one request a sync.
- newest commit: GET /repos/{owner}/{repo}/commits?sha=BRANCH&limit=1, with the
  per-commit diff stats, verification and file lists switched off (stat, verification,
  files = false) since none of them is read.
- commits: the same list of the newest commit's id (`sha=`: a push meanwhile shifts no
  page), 50 a page (the default most an instance serves), followed by its Link header;
  `not=OLD` lists exactly the commits made since (an OLD the repository no longer has
  answers 500: counted again). The whole history is paged (participants come from it),
  so `since` is not needed.
- a path is Forgejo's as Forgejo checks names: the owner letters, digits, `-`, `_` and
  `.`, starting with a letter or digit, never two of `-_.` in a row nor one at the end
  (a user or organisation name); the repository `-`, `_`, `.`, letters and digits, not
  `.`, `..` or `-`, no `..` in it, not ending in `.git`, `.wiki`, `.rss` or `.atom`.
- participants: each commit's linked user's login, else the author's name.
- commit count: the newest-commit answer's `X-Total-Count` (the branch's total).
- the token goes as `Authorization: token`; `X-RateLimit-*` (where an instance sends
  them) and `Retry-After` are read by hosts/forge_service.py.
"""

import re
from datetime import datetime, timedelta
from urllib.parse import quote

from fetcher.cache import Cached
from fetcher.errors import BadResponse
from fetcher.facts import MAX_COUNT
from fetcher.hosts.forge import Forge
from fetcher.hosts.read import body_list, body_object, commit_date, count_field, is_count, path_field, text_field
from fetcher.hosts.commit_counts import Commit
from fetcher.net.answer import Answer, header_number, next_link
from fetcher.record import parse_datetime, to_stored_datetime
from fetcher.links import RepoRef

LIMIT = 50
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_OWNER_NOT = re.compile(r"[-._]{2,}|[-._]$")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# Diff stats, signature checks and file lists cost the server work and are never read.
LEAN = "stat=false&verification=false&files=false"
# `updated_at` has whole seconds: a push in the very second an answer was read could leave it as it was. An answer
# read this long after its `updated_at` (by fetcher's clock: a skew under a minute changes nothing; fetcher's clock
# behind Forgejo's only asks more) vouches for what follows.
SETTLED = timedelta(minutes=1)


class Forgejo(Forge):
    kind = "forgejo"
    # The instance's version: answers without a token, and refuses (401) a token it does not accept.
    probe_path = "/version"
    # `not=` a commit the repository no longer has: git rev-list fails, and Forgejo answers 500 (routers/api/v1/
    # repo/commits.go, GetAllCommits: CommitsCount's error is a 500); a `sha=` it no longer has is a 404.
    gone_server_errors = frozenset({500})

    @staticmethod
    def authorization(token: str) -> str:
        return f"token {token}"

    def repo_url(self, ref: RepoRef) -> str:
        return f"{self.api_url}/repos/{quote(ref.owner, safe='')}/{quote(ref.name, safe='')}"

    def read_repo(self, answer: Answer) -> dict:
        repo = body_object(answer)
        watchers = repo.get("watchers_count")
        return {
            "id": repo.get("id") if isinstance(repo.get("id"), int) else None,
            "path": path_field(answer, repo, "full_name"),
            "web_url": path_field(answer, repo, "html_url"),
            "stars": count_field(answer, repo, "stars_count"),
            # The people watching it; its repo_watchers for the djangopackages profile, which needs it.
            "watchers": count_field(answer, repo, "watchers_count") if self._reads_watchers else (
                watchers if is_count(watchers) else None),
            "forks": count_field(answer, repo, "forks_count"),
            "description": text_field(answer, repo, "description"),
            # An empty repository has no commits to ask about (the commits list answers 409).
            "branch": None if repo.get("empty") is True else (text_field(answer, repo, "default_branch") or None),
            **_archive(answer, repo),
            "updated_at": _instant(repo.get("updated_at")),
        }

    @property
    def _reads_watchers(self) -> bool:
        return self.profile.forgejo_watchers == "watchers_count"

    def keeps(self, resource: str, value: dict) -> bool:
        # A repository answer kept before watchers were read has none to give: asked afresh when they are needed.
        return not (resource == "repo" and self._reads_watchers and value.get("watchers") is None)

    def profile_fields(self, fields: dict, meta: dict, ref: RepoRef) -> dict:
        fields = dict(fields)
        if self._reads_watchers:
            fields["repo_watchers"] = meta["watchers"]
        if self.profile.forgejo_participants == "kept":
            fields.pop("participants", None)
        return fields

    def unchanged_since(self, before: Cached, meta: dict) -> bool:
        """The same repository, its `updated_at` as it was, and that answer read well after it: nothing pushed."""
        then = before.value.get("updated_at")
        return (then is not None and then == meta.get("updated_at") and before.value.get("id") == meta.get("id")
                and before.fetched_at - parse_datetime(then) >= SETTLED)

    def is_path(self, path: str) -> bool:
        owner, _, name = path.partition("/")
        return bool(_OWNER.fullmatch(owner) and not _OWNER_NOT.search(owner) and _NAME.fullmatch(name)
                    and name not in (".", "-") and ".." not in name
                    and not name.lower().endswith((".git", ".wiki", ".rss", ".atom")))

    def _commits_base(self, meta: dict) -> str:
        owner, name = meta["path"].split("/", 1)
        return f"{self.api_url}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/commits"

    def head_url(self, meta: dict) -> str:
        return f"{self._commits_base(meta)}?sha={quote(meta['branch'], safe='')}&limit=1&{LEAN}"

    def read_total(self, answer: Answer) -> int | None:
        """The commits list's `X-Total-Count`: the branch's commit count, in the newest-commit answer itself."""
        text = answer.headers.get("x-total-count")
        if text is None:
            return None
        count = header_number(text)
        if count is None or count > MAX_COUNT:
            raise BadResponse(answer.url, f"X-Total-Count {text[:40]!r} is not a commit count")
        return count

    def commits_url(self, meta: dict, upto: str, exclude: str | None, now: datetime) -> str:
        url = f"{self._commits_base(meta)}?sha={quote(upto, safe='')}&limit={LIMIT}&{LEAN}"
        return f"{url}&not={quote(exclude, safe='')}" if exclude else url

    def read_commits(self, answer: Answer) -> list[Commit]:
        commits = []
        for item in body_list(answer):
            inner = item.get("commit") if isinstance(item, dict) else None
            committer = inner.get("committer") if isinstance(inner, dict) else None
            parents = item.get("parents") if isinstance(item, dict) else None
            if not (isinstance(committer, dict) and isinstance(parents, list)):
                raise BadResponse(answer.url, "commit lacks its committer or parents")
            commits.append(Commit(
                id=text_field(answer, item, "sha", required=True),
                parents=tuple(p["sha"] for p in parents if isinstance(p, dict) and isinstance(p.get("sha"), str)),
                committed=commit_date(answer, committer.get("date")),
                author=_participant(item, inner),
            ))
        return commits

    def next_page(self, answer: Answer) -> str | None:
        return next_link(answer.headers)


def _archive(answer: Answer, repo: dict) -> dict:
    """`archived`, and `archived_at` when it is (Forgejo says 1970-01-01 for a repository never archived)."""
    archived = repo.get("archived")
    if not isinstance(archived, bool):
        return {"archived": None}
    at = commit_date(answer, repo["archived_at"]) if archived and repo.get("archived_at") else None
    return {"archived": archived, "archived_at": to_stored_datetime(at) if at else None}


def _instant(text) -> str | None:
    """A date-time as stored (UTC), or None for anything else: it only decides whether to ask again."""
    try:
        return to_stored_datetime(parse_datetime(text)) if isinstance(text, str) and len(text) <= 40 else None
    except ValueError:
        return None


def _participant(item: dict, inner: dict) -> str | None:
    """The login where the host links the commit to a user, else the author's name."""
    user = item.get("author")
    if isinstance(user, dict) and isinstance(user.get("login"), str) and user["login"]:
        return user["login"]
    author = inner.get("author")
    name = author.get("name") if isinstance(author, dict) else None
    return name if isinstance(name, str) and name else None
