"""Bitbucket Cloud, REST API 2.0.

- repository: GET /repositories/{workspace}/{repo_slug}: `description`, `mainbranch`,
  `full_name`, `links.html` and `uuid` (a renamed repository answers under its new name).
- Bitbucket has no stars: `repo_watchers` is the `size` of /watchers, and `repo_forks`
  the `size` of /forks; both asked conditionally on every sync. For the djangopackages
  profile, how many the first page of each holds, and the workspace as the participant.
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
- the credential: with `username_env` set and its variable not empty, an API token (a user's) as HTTP Basic
  with the account's email or user name; otherwise the token as `Authorization: Bearer` (a repository,
  project or workspace access token, or OAuth). `Retry-After` is read by hosts/forge_service.py.
- `fetcher check`: GET /user shows a user's credential (and which); a credential that is no user's (an
  access token) and no credential at all are tried on the catalogue's first Bitbucket repository.
"""

import re
from datetime import datetime
from typing import Sequence
from urllib.parse import quote

from fetcher.config import HostConfig
from fetcher.errors import BadResponse, Failure, InputError, NotFound, Unreachable
from fetcher.hosts.base import REJECTED, UNREACHABLE, Check
from fetcher.hosts.forge import Forge, keyed
from fetcher.hosts.forge_service import ForgeCredential, TokenRefused
from fetcher.hosts.read import body_list, body_object, commit_date, count_field, path_field, text_field
from fetcher.hosts.commit_counts import BranchCounts, Commit
from fetcher.net.answer import Answer
from fetcher.net.credentials import basic, basic_pair
from fetcher.net.request import Request
from fetcher.cache import Cached
from fetcher.links import RepoRef

PAGELEN = 100
_WORKSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_SLUG = re.compile(r"[A-Za-z0-9_.-]{1,62}")
_RAW_AUTHOR = re.compile(r"^\s*(?P<name>[^<]*?)\s*(<[^>]*>)?\s*$")
_ANSWERED = re.compile(r"answered HTTP (\d+)")


class Bitbucket(Forge):
    kind = "bitbucket"
    # The authenticated user (`fetcher check`): answers a user's credential, refuses (401) one Bitbucket does not
    # accept. (The public repository list, GET /repositories, is deprecated.)
    probe_path = "/user"
    window_spent_on_429 = True

    def credential(self, host: HostConfig) -> ForgeCredential | None:
        token, username = host.token(), host.username()
        if token and username:  # an API token: HTTP Basic, with the account's email (or user name)
            return ForgeCredential(basic(username, token), host.api_url, host.token_env,
                                   [token, username, basic_pair(username, token)], host.username_env)
        return super().credential(host)

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
                                            lambda answer: {"size": count_field(answer, body_object(answer), "size"),
                                                            "page": len(body_list(answer, "values"))})
            sizes[resource] = keyed(answer, key)
        return sizes

    def extra_fields(self, meta: dict, cached: dict[str, Cached], kept: BranchCounts) -> dict:
        count = "page" if self.profile.bitbucket_counts == "first page" else "size"
        return {"repo_watchers": cached["watchers"].value[count], "repo_forks": cached["forks"].value[count]}

    def keeps(self, resource: str, value: dict) -> bool:
        # Watchers and forks kept before their first page was counted: asked afresh when the count is needed.
        return not (resource in ("watchers", "forks") and self.profile.bitbucket_counts == "first page"
                    and "page" not in value)

    def profile_fields(self, fields: dict, meta: dict, ref: RepoRef) -> dict:
        if self.profile.bitbucket_participants == "workspace":
            return {**fields, "participants": [ref.owner]}
        return fields

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


    # -- fetcher check ---------------------------------------------------------------------

    async def check(self, known: Sequence[str] = ()) -> list[Check]:
        """GET /user with a credential: a user's (an API token, OAuth) answers, and is all there is to know. One
        that is no user's (a repository, project or workspace access token) or none at all is tried on the first
        of the catalogue's Bitbucket repositories: what a sync would ask. A 404 of either fails the check."""
        credential = self.service.credential
        if not (self.config.named or credential):
            return []
        name = f"{self.name} ({self.kind}) {self.api_url}"
        said = _credential_said(credential)
        sample = self._sample(known)
        user = None
        if credential is not None:
            user = await self._probe("/user")
            if user == 200:
                return [Check(name, True, f"answers; {said} is a user's (GET /user): it reads the public repositories "
                                          "and what the account may, within the token's scopes")]
            if user == 404:
                return [Check(name, False, "GET /user answered 404: is api_url Bitbucket Cloud's API 2.0?", REJECTED)]
            if isinstance(user, Check):
                return [Check(name, user.ok, user.detail, user.exit_code)]
        if sample is None:
            if credential is None:
                return [Check(name, True, "no token, and no Bitbucket package in the catalogue to ask for")]
            if user == 401:
                return [Check(name, False, f"{said} was rejected (401 for GET /user); an access token, which is no "
                                           "user's, is tried on a Bitbucket package of the catalogue", REJECTED)]
            return [Check(name, True, f"answers; {said} is accepted, not as a user's ({user} for GET /user), and "
                                      "there is no Bitbucket package in the catalogue to try it on")]
        full_name, path = sample
        answer = await self._probe(path)
        if isinstance(answer, Check):
            return [Check(name, answer.ok, answer.detail, answer.exit_code)]
        if answer == 401:
            if credential is None:
                where = self.config.token_env or f'hosts."{self.name}".token_env'
                return [Check(name, False, f"asks for a token (401 for {full_name}): set {where}", REJECTED)]
            return [Check(name, False, f"{said} was rejected (401 for {full_name})", REJECTED)]
        if answer != 200:
            scope = "; an access token reads only its own repository, project or workspace" if credential else ""
            return [Check(name, False, f"{said or 'no token'}: cannot read {full_name} ({answer}), the catalogue's "
                                       f"first Bitbucket repository{scope}", REJECTED)]
        if credential is None:
            return [Check(name, True, f"answers for {full_name}; no token: 60 requests an hour from this address")]
        return [Check(name, True, f"answers; {said} reads {full_name} and is no user's ({user} for GET /user): an "
                                  "access token, which reads only its own repository, project or workspace")]

    def _sample(self, known: Sequence[str]) -> tuple[str, str] | None:
        """The first of `known` this host can read as a repository: its workspace/slug and its API path."""
        for repo_url in known:
            try:
                ref = self.ref(repo_url)
            except InputError:
                continue
            return ref.full_name, self.repo_url(ref).removeprefix(self.api_url)
        return None

    async def _probe(self, path: str) -> int | Check:
        """The status one request under api_url was answered with (200, 401, 403, 404...), or the failed Check of
        one that could not be asked or read."""
        try:
            await self.client.send(self.service, Request(f"{self.api_url}{path}", "probe", once=True))
        except TokenRefused:
            return 401
        except NotFound as exc:
            return exc.status
        except BadResponse as exc:  # 403 and the like: a refusal that is no rate limit, or an answer not JSON
            status = _ANSWERED.search(str(exc))
            if status:
                return int(status[1])
            return Check("", False, f"does not answer as {self.kind} does: {exc}", UNREACHABLE)
        except Unreachable as exc:
            return Check("", False, f"cannot reach it: {exc}", UNREACHABLE)
        except Failure as exc:
            return Check("", False, f"does not answer as {self.kind} does: {exc}", UNREACHABLE)
        return 200


def _credential_said(credential: ForgeCredential | None) -> str:
    """The credential as `check` names it: its variables and scheme, never a value."""
    if credential is None:
        return ""
    if credential.username_env:
        return f"the API token in {credential.token_env} with the user name in {credential.username_env} (HTTP Basic)"
    return f"the token in {credential.token_env} ({credential.scheme})"


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
