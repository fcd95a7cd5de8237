"""How tracked values moved: the `history` rows as a person or a program reads them. Pure functions."""

from datetime import datetime, timedelta, timezone

TRENDING_LIMIT = 20  # a screenful: a directory's "trending" box shows about as many
HISTORY_COLUMNS = ("date", "stars", "forks", "participants", "commit_count", "pypi_version", "archived")


def series(rows: list[dict]) -> list[dict]:
    """History rows -> the `history --json` objects, oldest first; archived as true/false/null."""
    return [
        {name: (bool(row[name]) if name == "archived" and row[name] is not None else row[name])
         for name in HISTORY_COLUMNS}
        for row in rows
    ]


def table(rows: list[dict]) -> str:
    """The series as an aligned text table; unknown values are "-"."""
    if not rows:
        return "no history yet: nothing has been synced"
    cells = [list(HISTORY_COLUMNS)] + [[_cell(row[name]) for name in HISTORY_COLUMNS] for row in rows]
    return _aligned(cells, numeric={1, 2, 3, 4})


def window_start(now: datetime, days: int) -> str:
    """The UTC date whose values the window's gain is counted from: `days` days before today."""
    return (now.astimezone(timezone.utc).date() - timedelta(days=days)).isoformat()


def trending_table(rows: list[dict], days: int) -> str:
    if not rows:
        return f"no package gained stars in the last {days} days"
    cells = [["slug", "gained", "stars", "since"]] + [
        [row["slug"], f"+{row['gained']}", str(row["stars"]), row["since"]] for row in rows
    ]
    return _aligned(cells, numeric={1, 2})


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _aligned(cells: list[list[str]], numeric: set[int]) -> str:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for row in cells:
        parts = [cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
