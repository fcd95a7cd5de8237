"""GitLab, Forgejo and Bitbucket as respx routes over one commit graph, built from recorded answers.

Each fake answers the way its API does (its paths, parameters, paging and ETag/304),
with bodies made from the recorded (or, for Forgejo, Swagger-built) fixtures and only
the values a test is about changed. Every request is kept, to count and inspect.
"""

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote

import httpx

from tests.conftest import FIXTURES, response_from


def fixture(kind: str, name: str) -> dict:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text())


@dataclass
class Node:
    id: str
    parents: tuple[str, ...]
    date: datetime
    login: str | None  # the user the host links the commit to, if any
    name: str  # the author's name as written in the commit


class Graph:
    """A repository's commits and its branch heads."""

    def __init__(self):
        self.nodes: dict[str, Node] = {}
        self.heads: dict[str, str] = {}

    def commit(self, ident: str, parents: tuple[str, ...], date: datetime, *, branch="main",
               login: str | None = "dev", name: str = "Dev Eloper") -> Node:
        self.nodes[ident] = node = Node(ident, parents, date, login, name)
        self.heads[branch] = ident
        return node

    def linear(self, prefix: str, dates: list[datetime], **who) -> None:
        """Commits one after another on main, oldest date first."""
        for i, date in enumerate(dates):
            parent = self.heads.get("main")
            self.commit(f"{prefix}{i}", (parent,) if parent else (), date, **who)

    def reachable(self, head: str | None) -> set[str]:
        seen, todo = set(), [head] if head else []
        while todo:
            ident = todo.pop()
            if ident in seen or ident not in self.nodes:
                continue
            seen.add(ident)
            todo.extend(self.nodes[ident].parents)
        return seen

    def log(self, ref: str, exclude: str | None = None, since: datetime | None = None) -> list[Node]:
        head = self.heads.get(ref, ref)
        wanted = self.reachable(head) - self.reachable(self.heads.get(exclude, exclude) if exclude else None)
        nodes = [self.nodes[i] for i in wanted if since is None or self.nodes[i].date >= since]
        return sorted(nodes, key=lambda n: (n.date, n.id), reverse=True)


# Recorded headers that describe the recorded page, not the answer being made.
_PAGE_HEADERS = {"link", "etag", "last-modified", "x-next-page", "x-page", "x-per-page", "x-prev-page", "x-total",
                 "x-total-pages", "x-total-count", "x-hasmore", "x-pagecount"}


def etagged(request: httpx.Request, exchange: dict, body, headers: dict | None = None) -> httpx.Response:
    """200 with an ETag of the body, or 304 when the request already has it."""
    tag = 'W/"' + hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest() + '"'
    if request.headers.get("if-none-match") == tag:
        return httpx.Response(304, headers={"ETag": tag})
    bare = {**exchange, "headers": {k: v for k, v in exchange["headers"].items() if k.lower() not in _PAGE_HEADERS}}
    return response_from(bare, status=200, body=body, headers={**(headers or {}), "ETag": tag})


class Fake:
    def __init__(self, mock, api: str):
        self.api = api
        self.requests: list[httpx.Request] = []
        mock.route(url__regex=rf"^{re.escape(api)}/").mock(side_effect=self._record)

    def _record(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        raw = request.url.raw_path.decode()
        path = raw.split("?", 1)[0][len(httpx.URL(self.api).raw_path.decode()):]
        return self.handle(request, path, dict(request.url.params))

    def handle(self, request, path: str, params: dict) -> httpx.Response:
        raise NotImplementedError

    def page(self, items: list, params: dict, size_key: str, default: int, base: str, limit: int):
        size = min(int(params.get(size_key, default)), limit)
        number = int(params.get("page", 1))
        chunk = items[(number - 1) * size: number * size]
        more = number * size < len(items)
        return chunk, more, size, number


class FakeGitLab(Fake):
    def __init__(self, mock, api, path, graph, *, project_id=6812925, stars=33, forks=25, description="An app.",
                 contributors=("Scott Sharkey", "Dana Spiegel"), moved_to=None, missing=False, archived=False,
                 sequence=True):
        super().__init__(mock, api)
        self.archived = archived
        self.sequence = sequence  # GitLab 16.9+ counts a commit's ancestors; an older instance 404s
        self.path, self.graph, self.id = path, graph, project_id
        self.stars, self.forks, self.description = stars, forks, description
        self.contributors, self.moved_to, self.missing = list(contributors), moved_to, missing

    def handle(self, request, path, params):
        project = fixture("gitlab", "gitlab_com_api_v4_projects_lansharkconsulting_2Fdjango_2Fdjango_"
                                    "encrypted_model_fields_license_True")
        if path in (f"/projects/{quote(self.path, safe='')}", f"/projects/{self.id}"):
            if self.missing:
                return httpx.Response(404, json={"message": "404 Project Not Found"})
            body = copy.deepcopy(project["body"])
            body.update(id=self.id, path_with_namespace=self.moved_to or self.path, star_count=self.stars,
                        forks_count=self.forks, description=self.description, default_branch="main",
                        archived=self.archived)
            return etagged(request, project, body)
        if path == f"/projects/{self.id}/repository/commits":
            exchange = fixture("gitlab", "gitlab_com_api_v4_projects_6812925_repository_commits")
            ref = params.get("ref_name", "main")
            old, _, ref = ref.rpartition("..") if ".." in ref else (None, "", ref)
            since = datetime.fromisoformat(params["since"].replace("Z", "+00:00")) if "since" in params else None
            nodes = self.graph.log(ref, old, since)
            chunk, more, size, number = self.page(nodes, params, "per_page", 20, "", 100)
            template = exchange["body"][0]
            body = [{**template, "id": n.id, "short_id": n.id[:8], "parent_ids": list(n.parents),
                     "committed_date": n.date.isoformat(), "created_at": n.date.isoformat(),
                     "authored_date": n.date.isoformat(), "author_name": n.name} for n in chunk]
            link = {}
            if more:
                following = httpx.URL(str(request.url)).copy_merge_params({"page": str(number + 1)})
                link = {"Link": f'<{following}>; rel="next"'}
            return etagged(request, exchange, body, link)
        sha = path.removeprefix(f"/projects/{self.id}/repository/commits/").removesuffix("/sequence")
        if self.sequence and path == f"/projects/{self.id}/repository/commits/{sha}/sequence":
            if sha not in self.graph.nodes:
                return httpx.Response(404, json={"message": "404 Commit Not Found"})
            return httpx.Response(200, json={"count": len(self.graph.reachable(sha))})
        if path == f"/projects/{self.id}/repository/contributors":
            exchange = fixture("gitlab", "gitlab_com_api_v4_projects_6812925_repository_contributors")
            body = [{"name": name, "email": f"{i}@example.org", "commits": 10 - i, "additions": 0, "deletions": 0}
                    for i, name in enumerate(self.contributors)]
            return etagged(request, exchange, body)
        return httpx.Response(404, json={"message": "404 Not Found"})


class FakeForgejo(Fake):
    def __init__(self, mock, api, full_name, graph, *, stars=21, forks=4, watchers=7, description="A Django app.",
                 renamed_from=None, missing=False):
        super().__init__(mock, api)
        self.full_name, self.graph = full_name, graph
        self.stars, self.forks, self.watchers, self.description = stars, forks, watchers, description
        self.renamed_from, self.missing = renamed_from, missing

    def handle(self, request, path, params):
        repo = fixture("forgejo", "repos_someone_django_thing")
        if self.renamed_from and unquote(path).startswith(f"/repos/{self.renamed_from}"):
            # Forgejo redirects a renamed repository's old name to the new one.
            location = self.api + "/repos/" + self.full_name + unquote(path)[len(f"/repos/{self.renamed_from}"):]
            query = request.url.query.decode()
            return httpx.Response(301, headers={"Location": location + (f"?{query}" if query else "")})
        if unquote(path) == f"/repos/{self.full_name}":
            if self.missing:
                return httpx.Response(404, json={"errors": [], "message": "The target couldn't be found."})
            body = copy.deepcopy(repo["body"])
            body.update(full_name=self.full_name, name=self.full_name.split("/")[1], stars_count=self.stars,
                        forks_count=self.forks, watchers_count=self.watchers, description=self.description,
                        default_branch="main", empty=not self.graph.heads)
            return etagged(request, repo, body)
        if unquote(path) == f"/repos/{self.full_name}/commits":
            exchange = fixture("forgejo", "repos_someone_django_thing_commits")
            nodes = self.graph.log(params.get("sha", "main"), params.get("not"))
            chunk, more, size, number = self.page(nodes, params, "limit", 30, "", 50)
            template = exchange["body"][0]
            body = []
            for n in chunk:
                item = copy.deepcopy(template)
                item.update(sha=n.id, parents=[{"url": "", "sha": p, "created": ""} for p in n.parents])
                item["commit"]["committer"]["date"] = item["commit"]["author"]["date"] = n.date.isoformat()
                item["commit"]["author"]["name"] = n.name
                item["author"] = {**template["author"], "login": n.login} if n.login else None
                body.append(item)
            headers = {"X-Total-Count": str(len(nodes)), "X-HasMore": str(more).lower()}
            if more:
                following = httpx.URL(str(request.url)).copy_merge_params({"page": str(number + 1)})
                headers["Link"] = f'<{following}>; rel="next"'
            return etagged(request, exchange, body, headers)
        return httpx.Response(404, json={"message": "not found"})


class FakeBitbucket(Fake):
    def __init__(self, mock, api, full_name, graph, *, watchers=16, forks=37, description="A backend.",
                 missing=False, next_elsewhere=None):
        super().__init__(mock, api)
        self.full_name, self.graph = full_name, graph
        self.watchers, self.forks, self.description, self.missing = watchers, forks, description, missing
        self.next_elsewhere = next_elsewhere  # a hostile `next` link, off the API's origin

    def handle(self, request, path, params):
        base = f"/repositories/{self.full_name}"
        repo = fixture("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql")
        path = unquote(path)
        if self.missing and path.startswith(base):
            return httpx.Response(404, json={"type": "error", "error": {"message": "Repository not found"}})
        if path == base:
            body = copy.deepcopy(repo["body"])
            body.update(full_name=self.full_name, description=self.description,
                        mainbranch={"name": "main", "type": "branch"})
            return etagged(request, repo, body)
        for resource, size in (("watchers", self.watchers), ("forks", self.forks)):
            if path == f"{base}/{resource}":
                exchange = fixture("bitbucket", f"api_bitbucket_org_2_0_repositories_Manfre_django_mssql_{resource}")
                return etagged(request, exchange, {**exchange["body"], "size": size, "next": None})
        commits = fixture("bitbucket", "api_bitbucket_org_2_0_repositories_Manfre_django_mssql_commits_limit_50")
        if path in (f"{base}/commits/main", f"{base}/commits"):
            nodes = self.graph.log(params.get("include", "main"), params.get("exclude"))
            chunk, more, size, number = self.page(nodes, params, "pagelen", 30, "", 100)
            body = {"pagelen": size, "values": [self._commit(commits, n) for n in chunk]}
            if more:
                following = httpx.URL(str(request.url)).copy_merge_params({"page": str(number + 1)})
                body["next"] = self.next_elsewhere or str(following)
            return etagged(request, commits, body)
        return httpx.Response(404, json={"type": "error"})

    @staticmethod
    def _commit(exchange: dict, node: Node) -> dict:
        item = copy.deepcopy(exchange["body"]["values"][0])
        item.update(hash=node.id, date=node.date.isoformat(),
                    parents=[{"hash": p, "type": "commit", "links": {}} for p in node.parents])
        item["author"]["raw"] = f"{node.name} <{node.name.split()[0].lower()}@example.org>"
        if node.login:
            item["author"]["user"]["nickname"] = node.login
        else:
            item["author"].pop("user")
        return item
