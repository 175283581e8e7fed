"""The register's pages in headless Chromium on the demo region: a doctor finds a patient by name
(live) and by scanning a SNILS, opens the card with the rights and the QR code; the ministry
admin approves the pending inclusion request, merges the probable duplicate and uploads a Social
Fund DBF pair, watching a real worker load it."""


import pytest
from django.utils import timezone

from registry.models import InclusionRequest, Person, SfrImport
from registry.snils import format_snils
from tests.browser import BROWSER_MARKS, browser, demo, login, shot  # noqa: F401 (fixtures)

pytestmark = BROWSER_MARKS


def _nav(page, section: str) -> None:
    page.locator(".sidebar").get_by_role("link", name=section, exact=True).click()


def _focused(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_doctor_finds_a_patient_by_name_and_by_scanning_a_snils(login, live_server):
    from playwright.sync_api import expect

    page = login("doctor")
    _nav(page, "Регистр льготников")
    page.wait_for_url("**/register/")
    assert _focused(page) == "q"  # autofocus: the scanner types here
    page.locator("#q").press_sequentially("смирнова гал", delay=60)  # nothing pressed after typing
    results = page.locator("#search-results")
    expect(results).to_contain_text("Смирнова Галина Ивановна")
    expect(results).to_contain_text("Найдено: 1")
    page.wait_for_url("**q=*")  # bookmarkable
    assert _focused(page) == "q"  # the live results leave the cursor in the field
    shot(page, "register-search.png")

    results.get_by_role("link", name="Смирнова Галина Ивановна").click()
    page.wait_for_url("**/register/persons/**")
    expect(page.locator("h1")).to_have_text("Смирнова Галина Ивановна")
    expect(page.locator(".person-badges")).to_contain_text("конфликт программ")
    today_rights = page.locator(".rights-today tbody")
    expect(today_rights).to_contain_text("ONLP")
    expect(today_rights).to_contain_text("REG-50")
    expect(page.locator(".qr-box svg")).to_be_visible()
    expect(page.get_by_role("link", name="Карта 030-Л/у (PDF)")).to_be_visible()
    shot(page, "register-card.png")

    with page.expect_download() as download:
        page.get_by_role("link", name="Карта 030-Л/у (PDF)").click()
    path = download.value.path()
    assert open(path, "rb").read(4) == b"%PDF" and download.value.suggested_filename.startswith("karta-030-lu-")

    page.get_by_role("link", name="Подать заявку на включение").click()
    page.wait_for_url("**/register/requests/new/?person=*")
    expect(page.locator(".request-form")).to_contain_text("Смирнова Галина Ивановна")
    shot(page, "register-request-new.png")

    # a scanner types the SNILS into the focused field and sends Enter
    page.goto(f"{live_server.url}/register/")
    assert _focused(page) == "q"
    kozlov = Person.objects.get(last_name="Козлов", first_name="Николай", patronymic="Петрович")
    page.keyboard.type(format_snils(kozlov.snils), delay=5)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/register/persons/{kozlov.pk}/")
    expect(page.locator("h1")).to_have_text("Козлов Николай Петрович")
    expect(page.locator(".rights-today")).to_contain_text("не действует: отказ от НСУ")
    shot(page, "register-card-refused.png")

    # a mistyped number: the reason, the field keeps the text and the focus for the next scan
    page.goto(f"{live_server.url}/register/")
    expect(page.locator("#q")).to_be_focused()  # a scanner's first keys must not arrive before the field has focus
    page.keyboard.type("100-200-301 30", delay=5)
    page.keyboard.press("Enter")
    expect(page.locator(".search-error")).to_contain_text("неверная контрольная сумма")
    assert _focused(page) == "q" and page.input_value("#q") == "100-200-301 30"
    shot(page, "register-search-error.png")
    page.problems = [p for p in page.problems if "400 (Bad Request)" not in p]  # the error page's status
    assert not page.problems, page.problems


def test_minadmin_approves_the_pending_inclusion_request(login, live_server):
    from playwright.sync_api import expect

    page = login("minadmin")
    _nav(page, "Заявки на включение")
    page.wait_for_url("**/register/requests/")
    row = page.locator(".requests-table tbody tr", has_text="Белова Ольга Ивановна")
    expect(row).to_contain_text("На рассмотрении")
    shot(page, "register-requests.png")

    row.get_by_role("link").first.click()
    page.wait_for_url("**/register/requests/*/")
    expect(page.locator("main")).to_contain_text("Выписка из медицинской карты")
    shot(page, "register-request.png")
    page.fill("#approve_reason", "Документы в порядке")
    page.get_by_role("button", name="Одобрить заявку").click()
    expect(page.locator(".messages")).to_contain_text("одобрена")
    expect(page.locator("h1")).to_contain_text("Одобрена")
    expect(page.locator(".decision")).to_contain_text("Документы в порядке")
    shot(page, "register-request-approved.png")
    request = InclusionRequest.objects.get(last_name="Белова")
    assert request.status == "approved" and request.person.rights.get().program.code == "REG-DIS"

    page.get_by_role("link", name="Белова Ольга Ивановна").click()
    page.wait_for_url(f"**/register/persons/{request.person_id}/")
    expect(page.locator(".rights-today")).to_contain_text("REG-DIS")
    expect(page.locator(".rights-today")).to_contain_text("J45")
    shot(page, "register-card-admin.png")
    assert not page.problems, page.problems


def test_minadmin_reviews_conflicts_and_merges_the_duplicate(login, live_server):
    from playwright.sync_api import expect

    page = login("minadmin")
    _nav(page, "Конфликты программ")
    page.wait_for_url("**/register/conflicts/")
    expect(page.locator(".conflicts-table")).to_contain_text("Смирнова Галина Ивановна")
    shot(page, "register-conflicts.png")

    _nav(page, "Дубликаты записей")
    page.wait_for_url("**/register/duplicates/")
    group = page.locator(".duplicate-group", has_text="Кузнецова Мария Петровна")
    with_snils, without = Person.objects.filter(last_name="Кузнецова", first_name="Мария").order_by("pk")
    assert with_snils.snils and not without.snils
    shot(page, "register-duplicates.png")
    group.locator(f"input[name=survivor][value='{with_snils.pk}']").check()
    group.get_by_role("button", name="Объединить…").click()
    expect(page.locator("h1")).to_have_text("Объединить записи?")
    expect(page.locator(".merge-main")).to_contain_text(format_snils(with_snils.snils))
    shot(page, "register-merge-confirm.png")
    page.get_by_role("button", name="Объединить записи").click()
    page.wait_for_url(f"**/register/persons/{with_snils.pk}/")
    expect(page.locator(".messages")).to_contain_text("Записи объединены")
    without.refresh_from_db()
    assert without.merged_into_id == with_snils.pk

    page.goto(f"{live_server.url}/register/persons/{without.pk}/")
    expect(page.locator(".merged-notice")).to_contain_text("Запись объединена с")
    shot(page, "register-card-merged.png")
    page.goto(f"{live_server.url}/register/duplicates/")
    expect(page.locator("main")).to_contain_text("Вероятных дубликатов нет")
    assert not page.problems, page.problems


@pytest.mark.usefixtures("clean_cache")
def test_minadmin_uploads_a_dbf_pair_and_watches_the_run(login, live_server, celery_worker_thread, tmp_path,
                                                          settings):
    from playwright.sync_api import expect

    from registry.seeding import write_register_files
    from registry.synthetic import Region

    settings.UPLOAD_ROOT = tmp_path / "uploads"  # the web and the worker share this process
    today = timezone.localdate()
    persons_path, rights_path = write_register_files(
        Region(seed=5, today=today, okato=settings.LLO_REGION_OKATO), 50, tmp_path / "sfr")
    page = login("minadmin")
    _nav(page, "Загрузки регистра СФР")
    page.wait_for_url("**/register/sfr/")
    page.set_input_files("#id_persons_file", str(persons_path))
    page.set_input_files("#id_rights_file", str(rights_path))
    expect(page.locator("#upload .file-none")).to_have_count(2)
    for hint in page.locator("#upload .file-none").all():  # «файл не выбран» gives way to the file's name
        expect(hint).to_be_hidden()
    page.fill("#id_file_date", today.isoformat())
    shot(page, "register-sfr.png")
    page.get_by_role("button", name="Загрузить").click()
    page.wait_for_url("**/register/sfr/*/")
    expect(page.locator(".messages")).to_contain_text("поставлена в очередь")
    status = page.locator("#run-status")
    expect(status).to_contain_text("Загрузка завершена", timeout=90_000)  # polled every second
    expect(page.locator("#run-status[hx-trigger]")).to_have_count(0)  # finished: polling stops
    run = SfrImport.objects.order_by("-pk").first()
    assert run.status == "succeeded" and run.persons_read == 50, run.error
    expect(status).to_contain_text(f"{run.persons_added}")
    shot(page, "register-sfr-run.png")

    _nav(page, "Загрузки регистра СФР")
    expect(page.locator(".sfr-runs tbody tr").first).to_contain_text("Загружено")
    shot(page, "register-sfr-list.png")
    assert not page.problems, page.problems
