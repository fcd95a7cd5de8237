"""The djangopackages profile through whole syncs against the stand-in's forge world: each field of each forge
means what Django Packages' updater means by it (package/repos/*.py of djangopackages/djangopackages), where
that differs from fetcher's own meaning; the default keeps fetcher's."""

import json
from datetime import timedelta

import pytest

from fetcher.standin.forges import Person
from fetcher.standin.forges.gitlab_bodies import contributors
from tests.hosts.forges import test_sync as forge_sync
from tests.hosts.forges.test_sync import MIDNIGHT, NOW, OLD, package, project, record, run

forges = forge_sync.forges  # the stand-in's forge world and a store for it, as the sync tests have them
setup = forge_sync.setup
DJANGOPACKAGES = '\n[compat]\nprofile = "djangopackages"\n'
AUTHORS = ["alice", "Ann Cient", "bob", "Carol Unlinked"]  # the branch's authors, most commits first


@pytest.mark.parametrize(("profile", "watchers", "participants"), [
    ("", 21, AUTHORS),  # stars_count; the authors of the default branch
    (DJANGOPACKAGES, 7, OLD["participants"]),  # watchers_count (#1444); Django Packages writes none: as stored
], ids=["fetcher", "djangopackages"])
def test_forgejo_repo_watchers_and_participants(setup, forges, profile, watchers, participants):
    config, store = setup(package("thing", "https://codeberg.org/someone/django-thing", **OLD), extra=profile)
    project(forges, "https://codeberg.org/someone/django-thing", stars=21, forks=4, watchers=7)

    report = run(config, store, forges)

    got = record(store, "thing")
    assert report.exit_code == 0, report.failures
    assert (got["repo_watchers"], got["repo_forks"], got["participants"]) == (watchers, 4, participants)


@pytest.mark.parametrize(("profile", "watchers", "forks", "participants"), [
    ("", 16, 37, AUTHORS),  # the size of /watchers and /forks; the authors of the main branch
    (DJANGOPACKAGES, 10, 10, ["Manfre"]),  # the first page of each (10 a page); the workspace of the repo_url
], ids=["fetcher", "djangopackages"])
def test_bitbucket_repo_watchers_repo_forks_and_participants(setup, forges, profile, watchers, forks, participants):
    config, store = setup(package("mssql", "https://bitbucket.org/Manfre/django-mssql", **OLD), extra=profile)
    project(forges, "https://bitbucket.org/Manfre/django-mssql", stars=16, forks=37)  # 16 watchers

    report = run(config, store, forges)

    got = record(store, "mssql")
    assert report.exit_code == 0, report.failures
    assert (got["repo_watchers"], got["repo_forks"], got["participants"]) == (watchers, forks, participants)


def gitlab_with_21_contributors(forges):
    """The history's four authors (Alice A with the most commits), a fifth named "Doe, Jane", 16 more with one
    commit each: 20 on GitLab's first page of the fewest commits first, Alice A on the second."""
    url = "https://gitlab.com/group/sub/gl"
    repo = project(forges, url)
    forges.commit(url, MIDNIGHT - timedelta(days=2), author=Person("Doe, Jane", "jane@example.org"))
    for number in range(16):
        forges.commit(url, MIDNIGHT - timedelta(days=1, minutes=number),
                      author=Person(f"Dev {number:02}", f"dev{number}@example.org"))
    return repo


def test_gitlab_participants_every_contributor_most_commits_first_each_once_by_default(setup, forges):
    config, store = setup(package("gl", "https://gitlab.com/group/sub/gl"))
    gitlab_with_21_contributors(forges)

    run(config, store, forges)

    got = record(store, "gl")["participants"]
    assert len(got) == 21 and got[:2] == ["Alice A", "Ann Cient"]  # 3 and 2 commits first
    assert "Doe, Jane" in got


def test_gitlab_participants_for_djangopackages_the_first_page_as_listed_split_at_commas(setup, forges):
    config, store = setup(package("gl", "https://gitlab.com/group/sub/gl"), extra=DJANGOPACKAGES)
    repo = gitlab_with_21_contributors(forges)

    run(config, store, forges)

    # GitLab without parameters: by commits, ascending, 20 a page; Django Packages reads one page and stores the
    # names joined with commas, which its API splits again.
    first_page = [group["name"] for group in contributors(repo)][:20]
    assert "Alice A" not in first_page and "Doe, Jane" in first_page
    expected = [part.strip() for name in first_page for part in name.split(",")]
    assert record(store, "gl")["participants"] == expected
    assert "Doe" in expected and "Jane" in expected and len(expected) == 21
    (asked,) = forges.requests("gitlab.com", "contributors")
    assert asked.url.endswith("/repository/contributors")  # no parameters, no second page


def test_switching_to_the_profile_rereads_what_was_kept_without_a_push(setup, forges, tmp_path):
    config, store = setup(package("thing", "https://codeberg.org/someone/django-thing"),
                          package("gl", "https://gitlab.com/group/sub/gl"),
                          package("mssql", "https://bitbucket.org/Manfre/django-mssql"))
    project(forges, "https://codeberg.org/someone/django-thing", stars=21, forks=4, watchers=7)
    project(forges, "https://gitlab.com/group/sub/gl")
    project(forges, "https://bitbucket.org/Manfre/django-mssql", stars=16, forks=37)
    run(config, store, forges)
    assert record(store, "thing")["repo_watchers"] == 21
    sent = len(forges.log)
    config, store = setup(extra=DJANGOPACKAGES)  # the same store, now with the profile

    report = run(config, store, forges, clock=NOW + timedelta(hours=1))

    assert report.exit_code == 0, report.failures
    again = forges.log[sent:]
    # Forgejo's and Bitbucket's answers hold both readings: a 304 is enough where the host sends an ETag.
    assert record(store, "thing")["repo_watchers"] == 7
    assert (record(store, "mssql")["repo_watchers"], record(store, "mssql")["repo_forks"]) == (10, 10)
    # Forgejo sends no ETag: its repository is asked once, a 200 holding both readings, and its commits not at all.
    assert [(entry.resource, entry.status) for entry in again if entry.host == "codeberg.org"] == [("repo", 200)]
    assert {entry.status for entry in again
            if entry.host == "bitbucket.org" or (entry.host == "gitlab.com" and entry.resource != "contributors")} == \
        {304}
    # GitLab's contributors were asked otherwise: asked again, as Django Packages asks them.
    assert [entry.url.rsplit("/", 1)[1] for entry in again if entry.resource == "contributors"] == ["contributors"]


def test_a_repository_answer_kept_before_watchers_were_read_is_asked_afresh_for_the_profile(setup, forges):
    config, store = setup(package("thing", "https://codeberg.org/someone/django-thing"), extra=DJANGOPACKAGES)
    project(forges, "https://codeberg.org/someone/django-thing", stars=21, forks=4, watchers=7)
    run(config, store, forges)
    package_id = store.reads.record("thing")["id"]
    kept = json.loads(store.db.one("SELECT value FROM resource_cache WHERE package_id = ? AND resource = 'repo'",
                                   [package_id]))
    with store.db.write():  # as a sync before watchers were read kept it
        store.db.execute("UPDATE resource_cache SET value = ? WHERE package_id = ? AND resource = 'repo'",
                         [json.dumps({k: v for k, v in kept.items() if k != "watchers"}), package_id])
    sent = len(forges.log)

    run(config, store, forges, clock=NOW + timedelta(hours=1))

    (repo,) = [entry for entry in forges.log[sent:] if entry.resource == "repo"]
    assert (repo.conditional, repo.status) == (False, 200)
    assert record(store, "thing")["repo_watchers"] == 7
