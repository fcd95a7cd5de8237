"""GitLab, Forgejo (Gitea, Codeberg) and Bitbucket Cloud in the stand-in: see ``fetcher.standin.forges.world``."""

from fetcher.standin.forges.world import (
    DEFAULT_HOSTS,
    Commit,
    ForgeHost,
    ForgeRepo,
    ForgeRequest,
    Forges,
    Person,
    add_catalog,
    add_to_world,
    generate,
    today_midnight,
    weekly_counts,
)

__all__ = [
    "DEFAULT_HOSTS",
    "Commit",
    "ForgeHost",
    "ForgeRepo",
    "ForgeRequest",
    "Forges",
    "Person",
    "add_catalog",
    "add_to_world",
    "generate",
    "today_midnight",
    "weekly_counts",
]
