"""«Входящие накладные МДЛП» in headless Chromium on the demo region: the warehouse clerk sees the supplier's
601s, sets one aside with its reason («Не принимать…») and still has the other to accept (screenshots in
var/screenshots/)."""

from datetime import date

from integrations.models import IncomingState, MdlpIncoming
from llo.models import Organization
from tests.browser import BROWSER_MARKS, browser, demo, login, shot  # noqa: F401 (fixtures)

pytestmark = BROWSER_MARKS


def _incoming(warehouse: Organization, supplier: Organization, number: str, packs: int) -> MdlpIncoming:
    codes = [{"sgtin": f"04601234567894DEMO{number[-3:]}{n:06d}"[:27], "cost": "100.00", "vat_value": "9.09"}
             for n in range(packs)]
    return MdlpIncoming.objects.create(
        mdlp_document_id=f"demo-601-{number}", doc_type=601, sender_mdlp_id=supplier.mdlp_place_id or "",
        receiver_mdlp_id=warehouse.mdlp_place_id or "", place=warehouse, sender=supplier, doc_num=number,
        doc_date=date.today(), sgtins=codes, items=packs)


def test_the_clerk_sets_a_601_aside_with_its_reason(login, demo):
    from playwright.sync_api import expect

    warehouse = Organization.objects.get(code="WH-01")
    supplier = Organization.objects.get(code="SUP-01")
    kept = _incoming(warehouse, supplier, "УПД-301", 12)
    aside = _incoming(warehouse, supplier, "УПД-302", 3)
    page = login("warehouse")

    page.goto(page.url + "mdlp/incoming/")
    expect(page.locator("h1")).to_have_text("Входящие накладные МДЛП")
    row = page.locator(f'tr[data-incoming="{aside.pk}"]')
    row.locator("summary").click()
    shot(page, "mdlp-incoming-list.png")

    row.get_by_role("button", name="Не принимать").click()  # the reason is required: the browser asks for it
    assert MdlpIncoming.objects.get(pk=aside.pk).state == IncomingState.NEW
    row.get_by_label("Причина").fill("принята по бумажной накладной")
    row.get_by_role("button", name="Не принимать").click()
    page.wait_for_url("**/mdlp/incoming/")
    expect(page.locator(".alert, .messages").first).to_contain_text("отмечена как не принимаемая")
    expect(page.locator(f'tr[data-incoming="{aside.pk}"]')).to_contain_text("Не принимается: принята по бумажной")
    expect(page.locator(f'tr[data-incoming="{kept.pk}"]').get_by_role("button", name="Не принимать")).to_be_hidden()
    expect(page.locator(f'tr[data-incoming="{kept.pk}"] summary')).to_be_visible()
    shot(page, "mdlp-incoming-set-aside.png")
    assert MdlpIncoming.objects.get(pk=aside.pk).state == IncomingState.IGNORED
    assert MdlpIncoming.objects.get(pk=kept.pk).state == IncomingState.NEW
    assert not page.problems, page.problems
