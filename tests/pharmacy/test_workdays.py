"""Working days: weekends, the 2026 holidays and transferred days off (the `holidays` package), and
the ministry's overrides both ways — in one query."""

from datetime import date

import pytest

from pharmacy.models import NonWorkingDayOverride
from pharmacy.workdays import add_working_days

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("start, n, expected", [
    (date(2026, 12, 1), 10, date(2026, 12, 15)),  # two weekends
    (date(2025, 12, 30), 1, date(2026, 1, 12)),  # 31.12, 1–8 January, 9 January transferred, the weekend
    (date(2026, 2, 20), 1, date(2026, 2, 24)),  # 23 February
    (date(2026, 3, 6), 1, date(2026, 3, 10)),  # 8 March on a Sunday: Monday 9 March off
    (date(2026, 4, 30), 1, date(2026, 5, 4)),  # 1 May
    (date(2026, 5, 8), 1, date(2026, 5, 12)),  # 9 May on a Saturday: Monday 11 May off
    (date(2026, 6, 11), 1, date(2026, 6, 15)),  # 12 June
    (date(2026, 11, 3), 1, date(2026, 11, 5)),  # 4 November
    (date(2026, 11, 3), 0, date(2026, 11, 3)),
])
def test_holidays_and_weekends_are_skipped(start, n, expected, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert add_working_days(start, n) == expected


def test_a_transferred_working_saturday_counts():
    assert add_working_days(date(2025, 10, 31), 1) == date(2025, 11, 1)  # Saturday 1 November 2025 worked


def test_the_ministrys_overrides_both_ways(django_assert_num_queries):
    NonWorkingDayOverride.objects.create(date=date(2026, 1, 9), is_working=True, reason="решение министерства")
    NonWorkingDayOverride.objects.create(date=date(2026, 2, 24), is_working=False, reason="региональный праздник")
    with django_assert_num_queries(1):
        assert add_working_days(date(2025, 12, 30), 1) == date(2026, 1, 9)
    assert add_working_days(date(2026, 2, 20), 1) == date(2026, 2, 25)


def test_negative_is_refused():
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 1), -1)


def test_the_periodic_tasks_run():
    from pharmacy.tasks import deferrals_mark_overdue, notifications_send

    assert deferrals_mark_overdue.apply().get() == 0
    assert notifications_send.apply().get() == 0
