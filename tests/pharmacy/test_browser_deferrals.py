"""The deadlines page of deferred service in headless Chromium on the demo region: a pharmacist sees
the point's deferrals with the overdue and nearly due rows highlighted, records a repeat visit with
the row's button (htmx) and reads the journal; the ministry sees the region's points and filters
by one. Screenshots: var/screenshots/pharmacy-deferrals-*.png."""

from datetime import timedelta

import pytest
from django.utils import timezone

from llo.errors import ApplicationError
from llo.models import Organization, User
from pharmacy.deferrals import deferrals_mark_overdue, prescription_defer
from pharmacy.models import Deferral, DeferralEvent
from pharmacy.workdays import add_working_days
from tests.browser import BROWSER_MARKS, browser, demo, login, shot  # noqa: F401 (fixtures)
from tests.pharmacy.demo_scenes import prescriptions_without_stock

pytestmark = BROWSER_MARKS


def _defer(username: str, point_code: str, count: int) -> list[Deferral]:
    """Put `count` new demo prescriptions of drugs the point lacks on deferred service there, through
    the service as the desk does."""
    user, point = User.objects.get(username=username), Organization.objects.get(code=point_code)
    made = []
    for rx in prescriptions_without_stock(point, count):
        try:
            made.append(prescription_defer(user=user, prescription=rx, place=point, purchase=len(made) == 2))
        except ApplicationError:  # in stock there, or taken by another point already
            continue
        if len(made) == count:
            break
    return made


def test_deadlines_page_for_the_pharmacist_and_the_ministry(login, live_server, demo):
    from playwright.sync_api import expect

    today = timezone.localdate()
    here = _defer("pharmacist", "AP-01-01", 3)
    there, elsewhere = [], None
    for code in ("AP-02-01", "AP-02-02", "AP-02-03"):  # the other pharmacy's system acts for its points
        there, elsewhere = _defer("apteka_ap02", code, 1), code
        if there:
            break
    if len(here) < 3 or not there:
        pytest.fail("the demo region has too few issued prescriptions to defer")
    Deferral.objects.filter(pk=here[0].pk).update(deadline=today - timedelta(days=3))  # the deadline passed
    deferrals_mark_overdue(today=today)
    Deferral.objects.filter(pk=here[1].pk).update(deadline=add_working_days(today, 1))  # nearly due

    page = login("pharmacist")
    page.locator(".sidebar").get_by_role("link", name="Отсроченное обслуживание", exact=True).click()
    page.wait_for_url("**/pharmacy/deferrals/")
    expect(page.locator("h1")).to_have_text("Отсроченное обслуживание")
    expect(page.locator("tr.deferral-late")).to_have_count(1)
    expect(page.locator("tr.deferral-soon")).to_have_count(1)
    rows = page.locator(".deferral-table tbody tr")
    expect(rows).to_have_count(Deferral.objects.filter(place__code="AP-01-01", status__in=["open", "overdue"]).count())
    first = rows.first
    expect(first).to_contain_text(here[0].prescription.number)
    first.get_by_role("button", name="Повторное обращение").click()
    expect(first.locator(".visit-answer")).to_contain_text("Повторное обращение записано")
    assert DeferralEvent.objects.filter(deferral=here[0], kind="visit").count() == 1
    shot(page, "pharmacy-deferrals-pharmacist.png")

    first.locator("a.mono").click()
    page.wait_for_url(f"**/pharmacy/deferrals/{here[0].pk}/")
    expect(page.locator(".deferral-journal")).to_contain_text("Повторное обращение")
    expect(page.locator(".deferral-journal")).to_contain_text("Срок нарушен")
    page.fill("#visit-text", "сообщили, что препарат заказан")
    page.get_by_role("button", name="Записать обращение").click()
    expect(page.locator(".alert-success")).to_contain_text("Повторное обращение записано")
    expect(page.locator(".deferral-journal")).to_contain_text("сообщили, что препарат заказан")
    shot(page, "pharmacy-deferrals-journal.png")
    assert not page.problems, page.problems

    page = login("minadmin")
    page.goto(f"{live_server.url}/pharmacy/deferrals/")
    expect(page.locator(".deferral-table")).to_contain_text("Аптека № 1 (центр)")
    expect(page.locator(".deferral-table")).to_contain_text("Фарма-Сервис")
    shot(page, "pharmacy-deferrals-ministry.png")
    point = Organization.objects.get(code=elsewhere)
    page.select_option("#id_place", str(point.pk))
    expect(page.locator(".deferral-table tbody tr")).to_have_count(
        Deferral.objects.filter(place=point, status__in=["open", "overdue"]).count())
    expect(page.locator(".deferral-table")).not_to_contain_text("Аптека № 1 (центр)")
    assert f"place={point.pk}" in page.url
    shot(page, "pharmacy-deferrals-ministry-point.png")
    assert not page.problems, page.problems
