"""GitLab, Forgejo (Gitea, Codeberg) and Bitbucket Cloud in the stand-in: their repositories, histories and truth.

URL convention. Every forge host is served by the same stand-in under
``{standin.url}/_forge/{host}/`` followed by that host's own API path::

    {standin.url}/_forge/gitlab.com/api/v4/projects/group%2Fsub%2Fproject     GitLab API v4
    {standin.url}/_forge/gitlab.example.org/api/v4/...                         a self-hosted GitLab
    {standin.url}/_forge/codeberg.org/api/v1/repos/owner/name                  Forgejo API v1
    {standin.url}/_forge/git.example.org/api/v1/...                            a self-hosted Forgejo
    {standin.url}/_forge/bitbucket.org/2.0/repositories/workspace/slug         Bitbucket Cloud API 2.0

so a host's ``api_url`` is ``Forges.api_url(standin.url, host)`` and
``Forges.hosts_config(standin.url)`` writes the ``[hosts."..."]`` tables of a
fetcher config. The catalogue keeps the real ``repo_url`` (``https://HOST/PATH``).
In-process, ``ForgeTransport(forges)`` (transport.py) serves each host at its
own API URL instead (``https://gitlab.com/api/v4/...``,
``https://api.bitbucket.org/2.0/...``), with no socket: an httpx transport, or
a respx side effect. Every request either way is in ``Forges.log`` (``Forges.requests``).

A repository's default branch is a real commit graph: every commit has a sha,
parents (merge commits have two), author and committer with dates and time
zones, and an author who is, or is not, linked to an account on the host. The
hosts list what is reachable from the head, newest committer date first, as
``git log`` does. ``Forges.commit`` writes a history commit by commit (merges,
topic branches, named shas), ``Forges.grow`` a long one cheaply, ``Forges.push``
adds commits (``Forges.push_while_paging``: while a client pages), ``Forges.reset``
and ``Forges.force_push`` rewrite the newest ones, ``Forges.prune`` forgets what no
branch reaches, ``Forges.move`` renames or transfers a repository, ``Forges.remake``
deletes one and makes it anew at its path. Hosts can misbehave as real ones do
(events.py): a token they reject (``ForgeHost.token``), an older GitLab without the
commit ``sequence`` (``ForgeHost.version``), a spent rate limit (``Forges.throttle``),
no answer at all, its name resolving or not (``Forges.take_down``), a refusal
(``Forges.refuse``), a next page off the API (``Forges.misdirect_next``), a total
that is no count (``Forges.misreport_total``), a path that is not where the
repository is, or no path at all (``Forges.misreport_path``).

The answers take the shapes recorded from gitlab.com and api.bitbucket.org
(bodies field for field, their headers, their paging) and, for Forgejo,
its API description; ``tests/standin/test_forges.py`` compares them.

The truth (``Forges.expected``, from ``truth.py``) is computed from the graph, never from
what fetcher does, to the issue's definitions:

- ``commits_over_52``: 52 counts, oldest first; window ``i`` holds the commits
  whose committer date ``d`` satisfies ``start_i <= d < end_i`` where
  ``end_51`` is today's UTC midnight and each window is seven days. Merge
  commits (more than one parent) are not counted; commits after today's
  midnight are in no window yet.
- ``participants``: GitLab -- the names of ``repository/contributors`` ordered
  by commits, most first, each name once; Forgejo and Bitbucket -- the authors
  of the whole default-branch history (merges included), keyed by the linked
  account's login (Forgejo) or nickname (Bitbucket), else the author's name,
  most commits first, ties in alphabetical order of the key.
- ``last_updated``: the committer date (Bitbucket: ``date``) of the head
  commit, in UTC, ``YYYY-MM-DDTHH:MM:SSZ``.
"""

from fetcher.standin.forges.generate import DEFAULT_HOSTS, add_catalog, add_generated, add_to_world, generate
from fetcher.standin.forges.model import (
    API_ROOTS,
    KINDS,
    Commit,
    ForgeHost,
    ForgeRepo,
    ForgeRequest,
    Person,
    today_midnight,
)
from fetcher.standin.forges.transport import ForgeTransport
from fetcher.standin.forges.truth import author_key, history_participants, weekly_counts
from fetcher.standin.forges.world import Forges

__all__ = [
    "API_ROOTS",
    "DEFAULT_HOSTS",
    "KINDS",
    "Commit",
    "ForgeHost",
    "ForgeRepo",
    "ForgeRequest",
    "ForgeTransport",
    "Forges",
    "Person",
    "add_catalog",
    "add_generated",
    "add_to_world",
    "author_key",
    "generate",
    "history_participants",
    "today_midnight",
    "weekly_counts",
]
