"""pieces: when what a resource answered last time still stands, and sliding weekly counts forward."""

from datetime import datetime, timedelta, timezone

import pytest

from fetcher.cache import Cached, for_repo
from fetcher.hosts.github.freshness import contributors_settled, shift_weeks, unchanged_since_push
from fetcher.net.request import Validators

FETCHED = datetime(2024, 1, 10, 12, 0, tzinfo=timezone.utc)  # a Wednesday, midday UTC
WEEKS = list(range(1, 53))  # 1..52, oldest week first: every position is recognisable
PUSHED = "2023-12-19T21:59:33Z"


def piece(**value) -> Cached:
    return Cached({"repo": "django/deps", "pushed_at": PUSHED, **value}, FETCHED, 'W/"abc"', "Thu, 04 Jan 2024 15:56:35 GMT")


# Cached


def test_cached_validators():
    assert piece().validators == Validators('W/"abc"', "Thu, 04 Jan 2024 15:56:35 GMT")
    assert piece().validators.headers() == {
        "If-None-Match": 'W/"abc"',
        "If-Modified-Since": "Thu, 04 Jan 2024 15:56:35 GMT",
    }


def test_cached_without_validators():
    cached = Cached({"repo": "django/deps"}, FETCHED)
    assert cached.validators == Validators(None, None)
    assert cached.validators.headers() == {}


# for_repo


def test_for_repo_keeps_a_piece_of_the_same_repository():
    cached = piece(weeks=WEEKS)
    assert for_repo(cached, "django/deps") is cached


@pytest.mark.parametrize("key", ["django/deps-old", "pydanny/dj-paginator", ""])
def test_for_repo_drops_a_piece_of_another_repository(key):
    assert for_repo(piece(weeks=WEEKS), key) is None


def test_for_repo_drops_a_piece_without_a_repo():
    assert for_repo(Cached({"weeks": WEEKS}, FETCHED), "django/deps") is None


def test_for_repo_of_nothing_cached():
    assert for_repo(None, "django/deps") is None


# unchanged_since_push


def test_unchanged_when_pushed_at_is_the_same():
    assert unchanged_since_push(piece(), PUSHED) is True


@pytest.mark.parametrize("now_pushed", ["2024-01-11T08:00:00Z", "2023-12-19T21:59:34Z"])
def test_changed_when_pushed_at_differs(now_pushed):
    assert unchanged_since_push(piece(), now_pushed) is False


def test_unknown_pushed_at_proves_nothing():
    assert unchanged_since_push(piece(), None) is False
    assert unchanged_since_push(Cached({"repo": "django/deps", "pushed_at": None}, FETCHED), None) is False


def test_a_piece_taken_without_pushed_at_is_not_unchanged():
    assert unchanged_since_push(Cached({"repo": "django/deps", "pushed_at": None}, FETCHED), PUSHED) is False
    assert unchanged_since_push(Cached({"repo": "django/deps"}, FETCHED), PUSHED) is False


def test_nothing_cached_is_not_unchanged():
    assert unchanged_since_push(None, PUSHED) is False


# shift_weeks


@pytest.mark.parametrize("days", range(7))
def test_weeks_unchanged_within_six_utc_days(days):
    now = datetime(2024, 1, 10 + days, 23, 59, 59, tzinfo=timezone.utc)
    assert shift_weeks(WEEKS, FETCHED, now) == WEEKS


def test_shift_weeks_returns_a_copy_when_unchanged():
    shifted = shift_weeks(WEEKS, FETCHED, FETCHED)
    assert shifted == WEEKS and shifted is not WEEKS


def test_seven_days_drop_the_oldest_week_and_add_an_empty_one():
    shifted = shift_weeks(WEEKS, FETCHED, FETCHED + timedelta(days=7))
    assert shifted == list(range(2, 53)) + [0]
    assert len(shifted) == 52


def test_seven_utc_dates_later_shift_even_before_seven_whole_days():
    # Fetched late on the 10th, now just after midnight on the 17th: seven UTC days apart.
    fetched = datetime(2024, 1, 10, 23, 59, tzinfo=timezone.utc)
    now = datetime(2024, 1, 17, 0, 1, tzinfo=timezone.utc)
    assert shift_weeks(WEEKS, fetched, now) == list(range(2, 53)) + [0]


def test_fifteen_days_drop_two_weeks():
    assert shift_weeks(WEEKS, FETCHED, FETCHED + timedelta(days=15)) == list(range(3, 53)) + [0, 0]


def test_thirteen_days_drop_one_week():
    assert shift_weeks(WEEKS, FETCHED, FETCHED + timedelta(days=13)) == list(range(2, 53)) + [0]


def test_four_hundred_days_leave_all_zeros():
    assert shift_weeks(WEEKS, FETCHED, FETCHED + timedelta(days=400)) == [0] * 52


def test_fifty_one_weeks_keep_only_the_newest_week():
    assert shift_weeks(WEEKS, FETCHED, FETCHED + timedelta(weeks=51)) == [52] + [0] * 51


def test_exactly_fifty_two_weeks_leave_all_zeros():
    assert shift_weeks(WEEKS, FETCHED, FETCHED + timedelta(weeks=52)) == [0] * 52


def test_shift_weeks_leaves_the_input_alone():
    weeks = list(WEEKS)
    shift_weeks(weeks, FETCHED, FETCHED + timedelta(days=15))
    assert weeks == WEEKS


def test_empty_weeks_of_an_empty_repository_stay_empty():
    assert shift_weeks([], FETCHED, FETCHED + timedelta(days=30)) == []


def test_local_dates_seven_apart_but_utc_dates_six_apart_do_not_shift():
    new_york = timezone(timedelta(hours=-5))
    fetched = datetime(2024, 1, 1, 20, 0, tzinfo=new_york)  # 2024-01-02 01:00 UTC
    now = datetime(2024, 1, 8, 18, 0, tzinfo=new_york)  # 2024-01-08 23:00 UTC
    assert shift_weeks(WEEKS, fetched, now) == WEEKS


def test_local_dates_six_apart_but_utc_dates_seven_apart_shift():
    berlin = timezone(timedelta(hours=2))
    fetched = datetime(2024, 1, 2, 0, 30, tzinfo=berlin)  # 2024-01-01 22:30 UTC
    now = datetime(2024, 1, 8, 2, 30, tzinfo=berlin)  # 2024-01-08 00:30 UTC
    assert shift_weeks(WEEKS, fetched, now) == list(range(2, 53)) + [0]


def test_mixed_offsets_count_utc_dates():
    tokyo = timezone(timedelta(hours=9))
    fetched = datetime(2024, 1, 10, 23, 0, tzinfo=timezone.utc)  # 10th UTC
    now = datetime(2024, 1, 18, 7, 0, tzinfo=tokyo)  # 17th 22:00 UTC, the 18th in Tokyo
    assert shift_weeks(WEEKS, fetched, now) == list(range(2, 53)) + [0]
    earlier = datetime(2024, 1, 17, 8, 0, tzinfo=tokyo)  # 16th 23:00 UTC: six UTC days
    assert shift_weeks(WEEKS, fetched, earlier) == WEEKS


@pytest.mark.parametrize("back", [timedelta(hours=1), timedelta(days=7), timedelta(days=400)])
def test_a_fetched_at_in_the_future_does_not_shift(back):
    assert shift_weeks(WEEKS, FETCHED, FETCHED - back) == WEEKS


# contributors_settled


def test_contributors_taken_within_a_day_of_the_push_are_asked_again():

    pushed = "2024-01-10T00:00:00Z"  # twelve hours before FETCHED
    cached = Cached({"repo": "django/deps", "pushed_at": pushed}, FETCHED)
    assert contributors_settled(cached, pushed) is False
    later = Cached(cached.value, FETCHED + timedelta(hours=12))
    assert contributors_settled(later, pushed) is True
    assert contributors_settled(later, "2024-01-11T00:00:00Z") is False  # a push since
    assert contributors_settled(None, pushed) is False


def test_contributors_with_an_unreadable_pushed_at_stand_while_it_stays_the_same():

    cached = Cached({"repo": "django/deps", "pushed_at": "yesterday"}, FETCHED)
    assert contributors_settled(cached, "yesterday") is True


def test_a_validator_that_cannot_be_sent_back_is_left_out():
    assert Validators('W/"caf\xe9"', "Thu, 04 Jan 2024\r\n15:56:35 GMT").headers() == {}
    assert Validators('W/"ok"', "\x00").headers() == {"If-None-Match": 'W/"ok"'}
