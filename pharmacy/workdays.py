"""Working days of the Russian production calendar: weekends, official holidays and the days off
transferred by the government (the `holidays` package), corrected by the ministry's overrides
(`NonWorkingDayOverride`: a day made working or not)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import holidays

from .models import NonWorkingDayOverride

# n working days fit in at most this many calendar days (the longest run of days off is the New Year's
# ten); the overrides of that window are read once.
_SPAN_PER_DAY = 2
_SPAN_EXTRA = 30


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after `start` (`start` itself not counted); `start` when n is 0.
    One query: the overrides of the window."""
    if n < 0:
        raise ValueError("n must not be negative")
    if n == 0:
        return start
    end = start + timedelta(days=n * _SPAN_PER_DAY + _SPAN_EXTRA)
    overrides = dict(NonWorkingDayOverride.objects.filter(date__gt=start, date__lte=end)
                     .values_list("date", "is_working"))
    calendar = holidays.Russia(years=range(start.year, end.year + 1))
    day = start
    while n:
        day += timedelta(days=1)
        if day > end:  # a window with improbably many overrides: widen it
            return add_working_days(day - timedelta(days=1), n)
        if overrides.get(day, calendar.is_working_day(day)):
            n -= 1
    return day



def working_days_left(today: date, deadlines: Iterable[date]) -> dict[date, int]:
    """For each deadline, the working days from `today` to it (today not counted, the deadline
    counted, as `add_working_days` counts): 0 when it is today, negative — the working days since —
    when it has passed. One query for all of them: the overrides of the window."""
    deadlines = set(deadlines)
    if not deadlines:
        return {}
    start, end = min(min(deadlines), today), max(max(deadlines), today)
    overrides = dict(NonWorkingDayOverride.objects.filter(date__gt=start, date__lte=end)
                     .values_list("date", "is_working"))
    calendar = holidays.Russia(years=range(start.year, end.year + 1))
    counted, n, day = {start: 0}, 0, start  # working days in (start, day]
    while day < end:
        day += timedelta(days=1)
        if overrides.get(day, calendar.is_working_day(day)):
            n += 1
        counted[day] = n
    return {deadline: counted[deadline] - counted[today] for deadline in deadlines}
