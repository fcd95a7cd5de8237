"""Bitbucket Cloud, REST API 2.0.

- repository: GET /repositories/{workspace}/{repo_slug}: `description`, `mainbranch`,
  `full_name`, `links.html` and `uuid` (a renamed repository answers under its new name).
- Bitbucket has no stars: `repo_watchers` is the `size` of /watchers, and `repo_forks`
  the `size` of /forks; both asked conditionally on every sync.
- newest commit: GET /repositories/{workspace}/{repo_slug}/commits/{branch}?pagelen=1.
- commits: GET .../commits/{newest commit} (or .../commits?include=NEW&exclude=OLD for
  exactly the commits made since; an OLD the repository no longer has answers 404: counted
  again), 100 a page, following each page's `next`; of the newest commit's id, so a push
  meanwhile shifts no page. Bitbucket takes no date filter: the whole history is paged
  (participants come from it), then only what is new.
- a path is Bitbucket's when the workspace is letters, digits, `-` and `_`, starting with a
  letter or digit (support.atlassian.com, "Change a workspace ID": lowercase letters now; older
  IDs, made from usernames, keep capitals, as the recorded `Manfre` does), and the slug is
  letters, digits, `_`, `-` and `.`, at most 62 of them, not `.` or `..`, no `--`, not ending in
  `-` ("What is a repository slug?").
- a 429 (Bitbucket sends no reset and no Retry-After: its window is a rolling hour) means
  the window is spent: Bitbucket is asked nothing more in the run, its packages left due.
- participants: the linked user's `nickname`, else the name in `author.raw`.
- commit count: what that paging counted (the whole history), the new commits added to it.
- the token goes as `Authorization: Bearer`; `Retry-After` is read by hosts/forge_service.py.
"""

import re
from datetime import datetime
from urllib.parse import quote

from fetcher.errors import BadResponse
from fetcher.hosts.forge import Forge, keyed
from fetcher.hosts.read import body_list, body_object, commit_date, count_field, path_field, text_field
from fetcher.hosts.commit_counts import BranchCounts, Commit
from fetcher.net.answer import Answer
from fetcher.cache import Cached

PAGELEN = 100
_WORKSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_SLUG = re.compile(r"[A-Za-z0-9_.-]{1,62}")
_RAW_AUTHOR = re.compile(r"^\s*(?P<name>[^<]*?)\s*(<[^>]*>)?\s*$")


class Bitbucket(Forge):
    kind = "bitbucket"
    # The public repository list: answers without a token, and refuses (401) a token Bitbucket does not accept.
    probe_path = "/repositories?pagelen=1"
    window_spent_on_429 = True

    def repo_url(self, ref) -> str:
        return f"{self.api_url}/repositories/{quote(ref.owner, safe='')}/{quote(ref.name, safe='')}"

    def _base(self, meta: dict) -> str:
        workspace, slug = meta["path"].split("/", 1)
        return f"{self.api_url}/repositories/{quote(workspace, safe='')}/{quote(slug, safe='')}"

    def read_repo(self, answer: Answer) -> dict:
        repo = body_object(answer)
        main = repo.get("mainbranch")
        branch = main.get("name") if isinstance(main, dict) else None
        links = repo.get("links")
        html = links.get("html") if isinstance(links, dict) else None
        return {
            "id": repo.get("uuid") if isinstance(repo.get("uuid"), str) else None,
            "path": path_field(answer, repo, "full_name"),
            "web_url": path_field(answer, html, "href") if isinstance(html, dict) else None,
            "stars": None,  # from /watchers (extras)
            "forks": None,  # from /forks (extras)
            "description": text_field(answer, repo, "description"),
            "branch": branch if isinstance(branch, str) and branch else None,
        }

    def is_path(self, path: str) -> bool:
        workspace, _, slug = path.partition("/")
        return bool(_WORKSPACE.fullmatch(workspace) and _SLUG.fullmatch(slug) and slug not in (".", "..")
                    and "--" not in slug and not slug.endswith("-"))

    async def extras(self, meta: dict, cached: dict[str, Cached], key: str, head_moved: bool) -> dict[str, Cached]:
        sizes = {}
        for resource in ("watchers", "forks"):
            answer = await self.revalidated(resource, f"{self._base(meta)}/{resource}", cached.get(resource),
                                            lambda answer: {"size": count_field(answer, body_object(answer), "size")})
            sizes[resource] = keyed(answer, key)
        return sizes

    def extra_fields(self, meta: dict, cached: dict[str, Cached], kept: BranchCounts) -> dict:
        return {"repo_watchers": cached["watchers"].value["size"], "repo_forks": cached["forks"].value["size"]}

    def head_url(self, meta: dict) -> str:
        return f"{self._base(meta)}/commits/{quote(meta['branch'], safe='')}?pagelen=1"

    def commits_url(self, meta: dict, upto: str, exclude: str | None, now: datetime) -> str:
        upto = quote(upto, safe="")
        if exclude:
            return f"{self._base(meta)}/commits?include={upto}&exclude={quote(exclude, safe='')}&pagelen={PAGELEN}"
        return f"{self._base(meta)}/commits/{upto}?pagelen={PAGELEN}"

    def read_commits(self, answer: Answer) -> list[Commit]:
        return [_commit(answer, item) for item in body_list(answer, "values")]

    def next_page(self, answer: Answer) -> str | None:
        following = body_object(answer).get("next")
        return following if isinstance(following, str) and following else None


def _commit(answer: Answer, item) -> Commit:
    parents = item.get("parents") if isinstance(item, dict) else None
    if not isinstance(parents, list):
        raise BadResponse(answer.url, "commit lacks its parents")
    return Commit(
        id=text_field(answer, item, "hash", required=True),
        parents=tuple(p["hash"] for p in parents if isinstance(p, dict) and isinstance(p.get("hash"), str)),
        committed=commit_date(answer, item.get("date")),
        author=_participant(item.get("author")),
    )


def _participant(author) -> str | None:
    """The user's nickname where Bitbucket links the commit to one, else the name in `raw` ("Name <email>")."""
    if not isinstance(author, dict):
        return None
    user = author.get("user")
    if isinstance(user, dict) and isinstance(user.get("nickname"), str) and user["nickname"]:
        return user["nickname"]
    raw = author.get("raw")
    match = _RAW_AUTHOR.match(raw) if isinstance(raw, str) else None
    return match["name"] if match and match["name"] else None
