"""`fetcher show SLUG --pretty`: one record for a person, with its fetch state."""

from datetime import datetime

from fetcher.show.text import ago, sparkline


def render(row: dict, state: dict | None, now: datetime) -> str:
    """The package row and its fetch_state row (None when never attempted), as the store reads them (lists as
    lists, date-times as date-times), as a few labelled lines."""
    weeks = row["commits_over_52"] or []
    participants = row["participants"] or []
    lines = [row["title"] or row["slug"]]
    if row["repo_description"]:
        lines.append(row["repo_description"])
    lines.append("")
    for label, url in (("repository", row["repo_url"]), ("PyPI", row["pypi_url"]), ("docs", row["documentation_url"])):
        if url:
            lines.append(f"{label + ':':<14}{url}")
    if row["pypi_version"]:
        lines.append(f"{'version:':<14}{row['pypi_version']}")
    lines += [
        f"{'stars:':<14}{row['repo_watchers']:,}    forks: {row['repo_forks']:,}"
        f"    participants: {len(participants):,}",
        f"{'52 weeks:':<14}{sparkline(weeks) if weeks else '(none yet)'}"
        + (f"  {sum(weeks):,} commits, at most {max(weeks):,} a week" if weeks else ""),
        f"{'last commit:':<14}{_when(row['last_updated'], now)}",
        f"{'last fetch:':<14}{_when(row['last_fetched'], now)}",
    ]
    if state and state["consecutive_failures"]:
        since = state.get("failing_since") or state["last_error_at"]
        lines.append(
            f"{'failing:':<14}{state['consecutive_failures']} time{'s' if state['consecutive_failures'] != 1 else ''}"
            f" in a row, since {_when(since, now)}"
        )
        lines.append(f"{'last error:':<14}{state['last_error']}")
    if state and state["note"]:
        lines.append(f"{'note:':<14}{state['note']}")
    return "\n".join(lines)


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{ago(moment, now)} ({moment:%Y-%m-%d %H:%M} UTC)"
