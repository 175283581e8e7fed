"""The MDLP reconciliation page in headless Chromium on the demo region: the ministry's administrator opens it
from the sidebar, sees the status tabs and a partially accepted document, opens it — rejected codes with MDLP's
error and what to do, «Скачать XML», «Отправить повторно» — and re-sends it (screenshots in var/screenshots/)."""

from integrations.models import ItemStatus, MdlpStatus, OperationKind
from llo.models import Organization
from tests.browser import BROWSER_MARKS, browser, demo, login, shot  # noqa: F401 (fixtures)
from tests.mdlp.test_reconciliation import TICKET, XML_NON_ASCII, make_doc

pytestmark = BROWSER_MARKS


def test_the_ministry_reconciles_a_partial_document(login, live_server, demo):
    from playwright.sync_api import expect

    point, warehouse = Organization.objects.get(code="AP-01-01"), Organization.objects.get(code="WH-01")
    make_doc(point, codes=[(ItemStatus.ACCEPTED, "", "")] * 3)
    make_doc(warehouse, scheme=415, kind=OperationKind.SHIPMENT, operation_id="ОТГ-17", status=MdlpStatus.QUEUED,
             age_hours=30)
    make_doc(None, status=MdlpStatus.INVALID, error="Пункт отпуска (не указан): не указан ID места деятельности "
             "МДЛП — заполните его в справочнике организаций и отправьте документ повторно")
    partial = make_doc(point, status=MdlpStatus.PARTIAL, xml=XML_NON_ASCII, ticket=TICKET, error="Отклонено кодов: 2",
                       codes=[(ItemStatus.ACCEPTED, "", ""),
                              (ItemStatus.REJECTED, "3", "3: Упаковка числится за другим местом деятельности"),
                              (ItemStatus.REJECTED, "2", "2: Код маркировки не найден в реестре МДЛП")])
    page = login("minadmin")

    page.locator(".sidebar").get_by_role("link", name="Сверка с МДЛП").click()
    page.wait_for_url("**/mdlp/")
    expect(page.locator("h1")).to_have_text("Сверка с МДЛП")
    expect(page.locator(".mdlp-tabs")).to_contain_text("Не подтверждены дольше 24 ч")
    expect(page.locator(".mdlp-table tbody tr")).to_have_count(4)
    shot(page, "mdlp-reconciliation-list.png")

    page.get_by_role("link", name=partial.request_id).click()
    page.wait_for_url(f"**/mdlp/{partial.pk}/")
    expect(page.locator(".mdlp-rejected tbody tr")).to_have_count(2)
    expect(page.get_by_role("link", name="Скачать XML")).to_be_visible()
    shot(page, "mdlp-reconciliation-detail.png")

    page.get_by_role("button", name="Отправить повторно").click()
    expect(page.locator(".messages")).to_contain_text("поставлен в очередь на повторную отправку")
    assert page.problems == []
