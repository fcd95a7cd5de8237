"""The score is Django Packages' own: fetcher's equals theirs, case for case, on a grid generated from their formula."""

import math
from datetime import datetime, timedelta, timezone

from dateutil.relativedelta import relativedelta

from fetcher import facts

UTC = timezone.utc


def djangopackages_score(repo_watchers, last_commit_date, supports_python3, now):
    """The oracle: `_calculate_score` of package/scores.py in djangopackages/djangopackages (MIT; as of their
    commit ac57e7b9, read at 6d748cb4), their arithmetic operation for operation; `now` stands for their
    `timezone.now()`, which is UTC, as are the dates their database gives back."""
    if last_commit_date:
        delta = relativedelta(now, last_commit_date)
        delta_months = (delta.years * 12) + delta.months
        last_commit_date_penalty = math.modf(delta_months / 3)[1] * repo_watchers / 10
    else:
        last_commit_date_penalty = repo_watchers / 10
    python_3_penalty = 0 if supports_python3 else min(repo_watchers * 30 / 100, 1000)
    return max(-500, int(repo_watchers - last_commit_date_penalty - python_3_penalty))


# Mid-month, the last second of a 31-day month, a leap day: relativedelta's month arithmetic differs at each.
NOWS = (datetime(2026, 6, 15, 12, 0, tzinfo=UTC), datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2028, 2, 29, 6, 30, tzinfo=UTC))
MONTHS = range(-15, 49)  # from 15 months in the future to 4 years ago
STARS = (*range(41), 99, 100, 101, 333, 334, 999, 1000, 1001, 3333, 3334, 3335, 4999, 12345, 2**31)
PYTHON3 = (True, False, None)


def grid():
    """Every number of stars, Python 3 support and whole months (none at all, and ahead); then each month's
    boundary, exactly N months before each `now` and one second short of it, for a few numbers of stars."""
    now = NOWS[0]
    for last in (None, *(now - relativedelta(months=m) for m in MONTHS)):
        for stars in STARS:
            for python3 in PYTHON3:
                yield stars, last, python3, now
    for now in NOWS:
        for last in (now - relativedelta(months=m) + timedelta(seconds=s) for m in MONTHS for s in (0, 1)):
            for stars in (1, 7, 14, 1000, 3334):
                for python3 in (True, None):
                    yield stars, last, python3, now


def test_the_score_is_django_packages_score_on_every_case_of_the_grid():
    cases = list(grid())
    assert len(cases) == 65 * 55 * 3 + 3 * 128 * 5 * 2
    differing = [case for case in cases if facts.score(*case) != djangopackages_score(*case)]
    assert differing == []


def test_where_exact_fractions_gave_another_number():
    now = NOWS[0]
    six_months = now - relativedelta(months=6)
    # 14 − 2 × 1.4 − 4.2 is 7 exactly, 6.999999999999999 in floating point: theirs is 6.
    assert facts.score(14, six_months, False, now) == djangopackages_score(14, six_months, False, now) == 6
    three_years = now - relativedelta(years=3)
    # 2 − 12 × 0.2 − 0.6 is −1 exactly, −0.9999999999999999 in floating point: truncated, 0.
    assert facts.score(2, three_years, None, now) == djangopackages_score(2, three_years, None, now) == 0


def test_a_last_commit_in_the_future_adds_as_it_does_there():
    now = NOWS[0]
    # 7 months ahead: −7 months, −2 whole quarters (toward zero): 1000 + 2 × 100.
    assert facts.score(1000, now + relativedelta(months=7), True, now) == 1200
    assert djangopackages_score(1000, now + relativedelta(months=7), True, now) == 1200
    # Less than 3 months ahead adds nothing.
    assert facts.score(1000, now + relativedelta(months=2, days=27), True, now) == 1000
