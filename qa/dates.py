"""Dates as people type them, for the since/until filters: '2021-06-03', '2021', '2021-06', 'last month', '7 days ago'.

One function, `parse_when`, used by the retriever (and so by the API, the CLI and the
page). A period ('2021', 'last month', 'this week') means its first day for `since`
and its last day for `until`; anything else goes to dateparser, relative to `now`
(today by default; tests pass their own).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

_YEAR = re.compile(r"\d{4}")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_PERIOD = re.compile(r"(this|last|past|previous) (week|month|year)")
_AGO = re.compile(r"(\d+|an?|one) (day|week|month|year)s? ago")
HINT = "YYYY-MM-DD, a year (2021), a month (2021-06), or a relative date ('7 days ago', 'last month', 'yesterday')"


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _period(text: str, today: date) -> tuple[date, date] | None:
    """The first and last day of a named period, or None if text names none."""
    if _YEAR.fullmatch(text):
        return date(int(text), 1, 1), date(int(text), 12, 31)
    if m := _MONTH.fullmatch(text):
        return _month_range(int(m[1]), int(m[2]))  # ValueError for a month past 12
    if text in ("today", "yesterday"):
        day = today - timedelta(days=text == "yesterday")
        return day, day
    m = _PERIOD.fullmatch(text)
    if not m:
        return None
    back = m[1] != "this"
    if m[2] == "week":  # weeks start on Monday
        monday = today - timedelta(days=today.weekday()) - timedelta(weeks=back)
        return monday, monday + timedelta(days=6)
    if m[2] == "month":
        year, month = (today.year, today.month - 1) if back else (today.year, today.month)
        if month == 0:
            year, month = year - 1, 12
        return _month_range(year, month)
    year = today.year - back
    return date(year, 1, 1), date(year, 12, 31)


def parse_when(
    value: str | date | None, what: str = "date", *, end: bool = False, now: date | None = None
) -> date | None:
    """The day value means (None for no value): a period's first day, or its last day when end is True.

    ValueError, naming `what` and the accepted forms, when it is not a date.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = " ".join(str(value).strip().lower().split())
    today = now or date.today()
    try:
        return date.fromisoformat(text[:10]) if re.match(r"\d{4}-\d{2}-\d{2}", text) else _other(text, today, end)
    except ValueError:
        raise ValueError(f"{what} must be {HINT}; got {value!r}") from None


def _ago(text: str, today: date) -> date | None:
    """'7 days ago', 'a month ago', '2 years ago': that day (None if text is not of that form)."""
    m = _AGO.fullmatch(text)
    if not m:
        return None
    n = int(m[1]) if m[1].isdigit() else 1
    if m[2] in ("day", "week"):
        return today - timedelta(days=n * (7 if m[2] == "week" else 1))
    months = today.year * 12 + today.month - 1 - n * (12 if m[2] == "year" else 1)
    year, month = divmod(months, 12)
    return date(year, month + 1, min(today.day, calendar.monthrange(year, month + 1)[1]))


def _other(text: str, today: date, end: bool) -> date:
    period = _period(text, today)
    if period:
        return period[1] if end else period[0]
    ago = _ago(text, today)
    if ago:
        return ago
    import dateparser  # about a second to import: only for dates that are not plain ISO

    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": datetime(today.year, today.month, today.day),
            "PREFER_DATES_FROM": "past",
            "PREFER_DAY_OF_MONTH": "last" if end else "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if parsed is None:
        raise ValueError(text)
    return parsed.date()


def date_range(
    since: str | date | None, until: str | date | None, now: date | None = None
) -> tuple[date | None, date | None]:
    """(since, until) as days: since a period's first day, until its last."""
    return parse_when(since, "since", now=now), parse_when(until, "until", end=True, now=now)


_MONTH_NAMES = "January February March April May June July August September October November December".split()
_DAY_NAMES = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def date_words(iso: str | None) -> str:
    """An article's date as a reader names it ('Wednesday 21 October 2020'), in English whatever the locale;
    '' for no date or one that is not YYYY-MM-DD."""
    try:
        day = date.fromisoformat(iso or "")
    except ValueError:
        return ""
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]} {day.year}"
