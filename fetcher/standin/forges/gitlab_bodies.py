"""GitLab API v4's bodies and headers as gitlab.com sends them: a project, a commit, contributors.

Field for field the answers recorded from gitlab.com (a project in a nested
group asked with ``license=true``, its commits and contributors): the project
entity an anonymous client is shown, ``license_url`` and ``license`` only when
asked for, ``owner`` only for a project in a user's namespace; commit dates
in milliseconds with the committer's own offset. ``HEADERS`` are the ones
gitlab.com sends with every API answer (its CDN's left out).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fetcher.standin.forges.model import Commit, ForgeRepo

# GitLab counts contributors over the newest 2,000 commits of the branch, merges left out.
CONTRIBUTOR_COMMITS = 2000
HEADERS = {
    "Cache-Control": "max-age=0, private, must-revalidate",
    "Content-Security-Policy": "default-src 'none'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Vary": "Origin, Accept-Encoding",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
}
# The project's features as a public project on gitlab.com shows them to an anonymous client.
_ACCESS_LEVELS = {
    f"{feature}_access_level": "private" if feature == "security_and_compliance" else "enabled"
    for feature in (
        "issues", "repository", "merge_requests", "forking", "wiki", "builds", "snippets", "pages", "analytics",
        "container_registry", "security_and_compliance", "releases", "environments", "feature_flags",
        "infrastructure", "monitor", "model_experiments", "model_registry",
    )
}  # fmt: skip
_MIT = {
    "key": "mit",
    "name": "MIT License",
    "nickname": None,
    "html_url": "https://opensource.org/licenses/MIT",
    "source_url": None,
}


def stamp(moment: datetime) -> str:
    """GitLab's spelling of a commit date: milliseconds and the committer's own offset."""
    return moment.isoformat(timespec="milliseconds")


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _namespace(repo: ForgeRepo) -> tuple[dict[str, Any], bool]:
    """The project's namespace, and whether it is a user's (a group's nests; a user's does not)."""
    namespace = repo.owner
    users = "/" not in namespace and namespace.startswith("user")
    body = {
        "id": repo.id // 7,
        "name": namespace.rsplit("/", 1)[-1],
        "path": namespace.rsplit("/", 1)[-1],
        "kind": "user" if users else "group",
        "full_path": namespace,
        "parent_id": repo.id // 11 if "/" in namespace else None,
        "avatar_url": None,
        "web_url": f"https://{repo.host}/{'' if users else 'groups/'}{namespace}",
    }
    return body, users


def project_body(repo: ForgeRepo, api: str, *, license: bool = False) -> dict[str, Any]:
    """``GET /projects/:id`` (``license``: ``?license=true``, which adds ``license_url`` and ``license``)."""
    web = f"https://{repo.host}/{repo.path}"
    newest = utc_stamp(repo.newest or repo.created)
    branch = repo.default_branch if repo.head else None
    namespace, users = _namespace(repo)
    description = repo.description or ""
    body: dict[str, Any] = {
        "id": repo.id,
        "description": repo.description,
        "name": repo.name,
        "name_with_namespace": " / ".join(repo.path.split("/")),
        "path": repo.name,
        "path_with_namespace": repo.said_path,
        "created_at": utc_stamp(repo.created),
        "default_branch": branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": f"git@{repo.host}:{repo.path}.git",
        "http_url_to_repo": f"{web}.git",
        "web_url": repo.said_url,
        "readme_url": f"{web}/-/blob/{repo.default_branch}/README.md" if repo.head else None,
        "forks_count": repo.forks,
    }
    if license:
        body["license_url"] = f"{web}/-/blob/{repo.default_branch}/LICENSE" if repo.head else None
        body["license"] = dict(_MIT) if repo.head else None
    body.update(
        {
            "avatar_url": None,
            "star_count": repo.stars,
            "last_activity_at": newest,
            "namespace": namespace,
            "container_registry_image_prefix": f"registry.{repo.host}/{repo.path.lower()}",
            "_links": {
                "self": api,
                **{name: f"{api}/{name}" for name in ("issues", "merge_requests")},
                "repo_branches": f"{api}/repository/branches",
                **{name: f"{api}/{name}" for name in ("labels", "events", "members", "cluster_agents")},
            },
            "code_suggestions": True,
            "packages_enabled": None,
            "empty_repo": repo.head is None,
            "archived": repo.archived,
            "visibility": "public",
        }
    )
    if users:
        body["owner"] = _owner(repo, namespace)
    body.update(
        {
            "resolve_outdated_diff_discussions": False,
            **dict.fromkeys(("issues_enabled", "merge_requests_enabled", "wiki_enabled", "jobs_enabled"), True),
            **dict.fromkeys(("snippets_enabled", "container_registry_enabled", "service_desk_enabled"), True),
            "can_create_merge_request_in": True,
            **_ACCESS_LEVELS,
            "emails_disabled": False,
            "emails_enabled": True,
            "shared_runners_enabled": True,
            "lfs_enabled": False,
            "creator_id": repo.id // 13,
            "import_status": "finished" if repo.id % 2 else "none",
            "open_issues_count": repo.stars % 17,
            "description_html": f'<p data-sourcepos="1:1-1:{len(description)}" dir="auto">{description}</p>'
            if description
            else "",
            "updated_at": newest,
            "ci_config_path": None,
            "public_jobs": True,
            "shared_with_groups": [],
            "only_allow_merge_if_pipeline_succeeds": False,
            "allow_merge_on_skipped_pipeline": None,
            "request_access_enabled": False,
            "only_allow_merge_if_all_discussions_are_resolved": False,
            "remove_source_branch_after_merge": None,
            "printing_merge_request_link_enabled": True,
            "merge_method": "merge",
            "squash_option": "default_off",
            "enforce_auth_checks_on_uploads": True,
            **dict.fromkeys(("suggestion_commit_message", "merge_commit_template", "squash_commit_template"), None),
            "issue_branch_template": None,
            "autoclose_referenced_issues": True,
            "external_authorization_classification_label": "",
            "requirements_enabled": False,
            "requirements_access_level": "enabled",
            "security_and_compliance_enabled": False,
            "compliance_frameworks": [],
            "permissions": {"project_access": None, "group_access": None},
        }
    )
    return body


def _owner(repo: ForgeRepo, namespace: dict[str, Any]) -> dict[str, Any]:
    """The user whose namespace holds the project."""
    return {
        "id": namespace["id"] + 71,
        "username": namespace["path"],
        "name": namespace["name"],
        "state": "active",
        "locked": False,
        "avatar_url": f"https://secure.gravatar.com/avatar/{repo.id:032x}?s=80&d=identicon",
        "web_url": f"https://{repo.host}/{namespace['path']}",
    }


def commit_body(repo: ForgeRepo, commit: Commit) -> dict[str, Any]:
    return {
        "id": commit.sha,
        "short_id": commit.sha[:8],
        "created_at": stamp(commit.committed),
        "parent_ids": list(commit.parents),
        "title": commit.message.splitlines()[0],
        "message": commit.message + "\n",
        "author_name": commit.author.name,
        "author_email": commit.author.email,
        "authored_date": stamp(commit.authored),
        "committer_name": commit.committer.name,
        "committer_email": commit.committer.email,
        "committed_date": stamp(commit.committed),
        "trailers": {},
        "extended_trailers": {},
        "web_url": f"https://{repo.host}/{repo.path}/-/commit/{commit.sha}",
    }


def contributors(repo: ForgeRepo, order_by: str = "commits", sort: str = "asc") -> list[dict[str, Any]]:
    """GitLab's contributors: the newest 2,000 non-merge commits grouped by author email, named by the newest."""
    groups: dict[str, dict[str, Any]] = {}
    counted = [commit for commit in repo.history() if not commit.is_merge][:CONTRIBUTOR_COMMITS]
    for commit in counted:
        email = commit.author.email
        group = groups.setdefault(
            email, {"name": commit.author.name, "email": email, "commits": 0, "additions": 0, "deletions": 0}
        )
        group["commits"] += 1
    ranked = sorted(groups.values(), key=lambda group: group[order_by], reverse=sort == "desc")
    return ranked
