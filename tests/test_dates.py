"""since/until as people type them: ISO days, years, months, named periods and 'N units ago', relative to now."""

from __future__ import annotations

from datetime import date

import pytest

from qa.dates import date_range, parse_when

NOW = date(2024, 3, 31)


@pytest.mark.parametrize(
    ("value", "since", "until"),
    [
        ("2021-06-03", date(2021, 6, 3), date(2021, 6, 3)),
        ("2021", date(2021, 1, 1), date(2021, 12, 31)),
        ("2021-02", date(2021, 2, 1), date(2021, 2, 28)),
        ("today", NOW, NOW),
        ("yesterday", date(2024, 3, 30), date(2024, 3, 30)),
        ("7 days ago", date(2024, 3, 24), date(2024, 3, 24)),
        ("2 weeks ago", date(2024, 3, 17), date(2024, 3, 17)),
        ("a month ago", date(2024, 2, 29), date(2024, 2, 29)),  # the day clamped to the month's last
        ("1 year ago", date(2023, 3, 31), date(2023, 3, 31)),
        ("last month", date(2024, 2, 1), date(2024, 2, 29)),
        ("this month", date(2024, 3, 1), date(2024, 3, 31)),
        ("last week", date(2024, 3, 18), date(2024, 3, 24)),  # Monday to Sunday
        ("last year", date(2023, 1, 1), date(2023, 12, 31)),
        ("  Last   Month ", date(2024, 2, 1), date(2024, 2, 29)),
        ("March 2021", date(2021, 3, 1), date(2021, 3, 31)),  # dateparser, a month: its first or last day
        ("June 3, 2021", date(2021, 6, 3), date(2021, 6, 3)),
    ],
)
def test_since_is_the_first_day_and_until_the_last(value, since, until):
    assert parse_when(value, now=NOW) == since
    assert parse_when(value, end=True, now=NOW) == until
    assert date_range(value, value, now=NOW) == (since, until)


def test_january_last_month_is_december():
    assert date_range("last month", "last month", now=date(2024, 1, 10)) == (date(2023, 12, 1), date(2023, 12, 31))


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_value_is_no_filter(value):
    assert parse_when(value) is None


@pytest.mark.parametrize("value", ["not a date at all", "2021-13", "2021-02-30"])
def test_junk_is_a_clear_error(value):
    with pytest.raises(ValueError, match=r"since must be YYYY-MM-DD, a year \(2021\).*'7 days ago'"):
        parse_when(value, "since", now=NOW)


def test_relative_to_today_by_default():
    assert parse_when("today") == date.today()
    assert parse_when(date(2020, 1, 2)) == date(2020, 1, 2)
