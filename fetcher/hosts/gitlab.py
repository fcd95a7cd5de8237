"""GitLab (gitlab.com and self-hosted), REST API v4.

- project: GET /projects/:id with the URL-encoded full path (groups nest: the whole
  path is the project): `star_count`, `forks_count`, `description`, `default_branch`,
  `path_with_namespace` and `web_url` (a moved project answers under its new path).
- newest commit: GET /projects/:id/repository/commits?ref_name=BRANCH&per_page=1.
- commits: the same list of the newest commit's id (a push meanwhile shifts no page),
  100 a page (GitLab's most), followed by its Link header: `since` the window's start
  when counting from scratch, else the revision range `OLD..NEW`, which lists exactly
  the commits made since (an OLD GitLab no longer has answers 404: counted again).
- a path is GitLab's when each of its groups and the project is letters, digits, `_`,
  `.` and `-`, not starting with `-` or `.`, not ending in `.git` or `.atom`, and there
  are at most 20 levels of subgroups (docs.gitlab.com, "Reserved project and group
  names" and "Subgroups"; older paths may start with `_`, so that is allowed).
- commit count: GET /projects/:id/repository/commits/HEAD/sequence (`git rev-list --count`;
  GitLab 16.9+), asked only when the branch moved; project `statistics` would need the
  Reporter role, and the commits list sends no `X-Total`.
- participants: GET /projects/:id/repository/contributors?order_by=commits&sort=desc,
  asked only when the branch moved. GitLab gives names, not usernames: names, each once.
  For the djangopackages profile, the first page asked without parameters, as listed.
- the token goes as `Authorization: Bearer`; `RateLimit-*` and `Retry-After` are read by hosts/forge_service.py.
"""

import re
from datetime import datetime
from urllib.parse import quote

from fetcher.hosts import commit_counts
from fetcher.hosts.forge import Forge
from fetcher.hosts.read import body_list, body_object, commit_date, count_field, path_field, text_field
from fetcher.hosts.commit_counts import BranchCounts, Commit
from fetcher.net.answer import Answer, next_link
from fetcher.errors import BadResponse, NotFound
from fetcher.facts import MAX_COUNT
from fetcher.cache import Cached
from fetcher.compat import split_participants
from fetcher.links import RepoRef, parse_nested_repo_url

PER_PAGE = 100
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
MAX_DEPTH = 22  # a top-level group, 20 levels of subgroups, the project


class GitLab(Forge):
    kind = "gitlab"
    # The public project list: answers without a token, and refuses (401) a token GitLab does not accept.
    probe_path = "/projects?per_page=1"
    with_authors = False  # GitLab lists contributors itself
    # Only the window's commits are paged, and the commits list sends no total (GitLab leaves X-Total out of it):
    # the commit count comes from the commit's sequence instead.
    whole_history = False

    def ref(self, repo_url: str) -> RepoRef:
        return parse_nested_repo_url(repo_url)

    def repo_url(self, ref: RepoRef) -> str:
        return f"{self.api_url}/projects/{quote(ref.full_name, safe='')}"

    def read_repo(self, answer: Answer) -> dict:
        project = body_object(answer)
        project_id = project.get("id")
        if not isinstance(project_id, int) or isinstance(project_id, bool):
            raise BadResponse(answer.url, "project answer lacks its id")
        return {
            "id": project_id,
            "path": path_field(answer, project, "path_with_namespace"),
            "web_url": path_field(answer, project, "web_url"),
            "stars": count_field(answer, project, "star_count"),
            "forks": count_field(answer, project, "forks_count"),
            "description": text_field(answer, project, "description"),
            "branch": text_field(answer, project, "default_branch") or None,  # None: an empty project
            "archived": project.get("archived") if isinstance(project.get("archived"), bool) else None,
        }

    def is_path(self, path: str) -> bool:
        segments = path.split("/")
        return 2 <= len(segments) <= MAX_DEPTH and all(
            _SEGMENT.fullmatch(part) and not part.lower().endswith((".git", ".atom")) for part in segments)

    def _commits_base(self, meta: dict) -> str:
        return f"{self.api_url}/projects/{meta['id']}/repository/commits"

    def head_url(self, meta: dict) -> str:
        return f"{self._commits_base(meta)}?ref_name={quote(meta['branch'], safe='')}&per_page=1"

    def commits_url(self, meta: dict, upto: str, exclude: str | None, now: datetime) -> str:
        upto = quote(upto, safe="")
        if exclude:
            return f"{self._commits_base(meta)}?ref_name={quote(exclude, safe='')}..{upto}&per_page={PER_PAGE}"
        since = commit_counts.window_start(now).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self._commits_base(meta)}?ref_name={upto}&since={since}&per_page={PER_PAGE}"

    def read_commits(self, answer: Answer) -> list[Commit]:
        commits = []
        for item in body_list(answer):
            if not isinstance(item, dict) or not isinstance(item.get("parent_ids"), list):
                raise BadResponse(answer.url, "commit lacks its id or parent_ids")
            commits.append(Commit(
                id=text_field(answer, item, "id", required=True),
                parents=tuple(str(parent) for parent in item["parent_ids"]),
                committed=commit_date(answer, item.get("committed_date")),
            ))
        return commits

    def next_page(self, answer: Answer) -> str | None:
        return next_link(answer.headers)

    async def count_total(self, meta: dict, head: str) -> int | None:
        """`git rev-list --count` of the head: its sequence (GitLab 16.9+; an older instance 404s: unknown)."""
        try:
            answer = await self.get(f"{self._commits_base(meta)}/{quote(head, safe='')}/sequence", "commits")
        except NotFound:
            return None
        count = body_object(answer).get("count")
        if not (isinstance(count, int) and not isinstance(count, bool) and 0 < count <= MAX_COUNT):
            raise BadResponse(answer.url, f"commit sequence {str(count)[:40]!r} is not a commit count")
        return count

    async def extras(self, meta: dict, cached: dict[str, Cached], key: str, head_moved: bool) -> dict[str, Cached]:
        asked = self.profile.gitlab_participants
        kept = cached.get("contributors")
        if kept is not None and not head_moved and kept.value.get("asked", "every") == asked:
            return {}  # contributors cannot change without a push
        base = f"{self.api_url}/projects/{meta['id']}/repository/contributors"
        if asked == "first page":  # as Django Packages asks: GitLab's defaults (fewest commits first, 20), one page
            names = _names(await self.get(base, "contributors"))
        else:
            names = []
            async for answer in self.pages(f"{base}?order_by=commits&sort=desc&per_page={PER_PAGE}", "contributors"):
                names.extend(_names(answer))
            names = list(dict.fromkeys(names))
        return {"contributors": Cached({"repo": key, "names": names, "asked": asked}, self.client.clock())}

    def extra_fields(self, meta: dict, cached: dict[str, Cached], kept: BranchCounts) -> dict:
        contributors = cached.get("contributors")
        names = list(contributors.value["names"]) if contributors else []
        if self.profile.gitlab_participants == "first page":
            names = split_participants(names)
            return {"participants": names} if names else {}  # none listed: Django Packages keeps the old list
        return {"participants": names}


def _names(answer: Answer) -> list[str]:
    return [item["name"] for item in body_list(answer)
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]]
