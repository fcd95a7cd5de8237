"""`fetcher show SLUG --pretty [--facts]`: one record for a person, with its fetch state and, asked, its facts."""

from datetime import datetime, timezone

from fetcher.record import parse_datetime
from fetcher.show.text import ago, sparkline


NO_FACTS = object()  # `render` was not asked for the facts


def render(row: dict, state: dict | None, now: datetime, facts=NO_FACTS) -> str:
    """The package row and its fetch_state row (None when never attempted), as the store reads them (lists as
    lists, date-times as date-times), as a few labelled lines; `facts`, the `facts` object as `show --facts`
    prints it (None before any was written), adds a line for each."""
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
    if facts is not NO_FACTS:
        lines += fact_lines(facts, now)
    return "\n".join(lines)


def fact_lines(facts: dict | None, now: datetime) -> list[str]:
    """The facts beside the record as a person reads them; what is not known says so."""
    if facts is None:
        return [f"{'facts:':<14}none yet: the next sync finds them"]

    def known(value, shown=str) -> str:
        return "unknown" if value is None else shown(value)

    def yes_no(value: bool) -> str:
        return "yes" if value else "no"

    license = facts["license"]
    archived = known(facts["archived"], yes_no)
    if facts["archived"] and facts["archived_at"]:
        archived += f", since {_when(facts['archived_at'], now)}"
    python3 = known(facts["supports_python3"], yes_no)
    if facts["requires_python"]:
        python3 += f" (requires_python {facts['requires_python']})"
    release = known(facts["latest_release_at"], lambda stamp: _when(stamp, now))
    if facts["latest_release_yanked"] is not None:
        release += ", yanked" if facts["latest_release_yanked"] else ", not yanked"
    return [
        f"{'license:':<14}{known(license, lambda names: names if isinstance(names, str) else ', '.join(names))}",
        f"{'archived:':<14}{archived}",
        f"{'Python 3:':<14}{python3}",
        f"{'Django:':<14}{known(facts['django_versions'] or None, ', '.join)}",
        f"{'PyPI status:':<14}{known(facts['pypi_status'])}",
        f"{'release:':<14}{release}",
        f"{'commits:':<14}{known(facts['commit_count'], lambda count: f'{count:,}')}",
        f"{'score:':<14}{known(facts['score'], lambda score: f'{score:,}')}",
    ]


def _when(moment: datetime | str | None, now: datetime) -> str:
    """A date-time as the store reads it, or as the `facts` object prints it (ISO 8601 text)."""
    if not moment:
        return "never"
    moment = (parse_datetime(moment) if isinstance(moment, str) else moment).astimezone(timezone.utc)
    return f"{ago(moment, now)} ({moment:%Y-%m-%d %H:%M} UTC)"
