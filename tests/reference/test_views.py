"""Pages of the reference data: catalogue, drug card, programs, benefit categories, NSI.

Every web role reads them; only the ministry admin (the curator) changes anything; NSI imports
are visible to ministry and system admins and started only by the curator.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from llo.models import (
    BenefitCategory, ControlList, Diagnosis, NsiBenefitCategory, NsiDictionary, NsiImportRun, OutboxMessage, Package,
    Program, ProgramCategory, ProgramDiagnosis, ProgramDrug, RunStatus, StandardizedDrug,
)
from llo.reference.demo import seed_reference
from llo.reference.nsi import progress

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def seeded(db):
    """The demo region's reference data: NSI dictionaries at 1.0, catalogue, categories, programs."""
    seed_reference()


@pytest.fixture
def metformin(seeded) -> StandardizedDrug:
    return StandardizedDrug.objects.filter(inn__name="Метформин").order_by("pk").first()


@pytest.fixture
def program(seeded) -> Program:
    return Program.objects.get(code="REG-DIS")


@pytest.fixture
def other_program(seeded) -> Program:
    return Program.objects.get(code="HIV-TB")


def _text(response) -> str:
    return response.content.decode()


def _today() -> date:
    return timezone.localdate()


# --- reading: every page for a reader and for the curator ----------------------------------

def _read_urls(drug, program) -> list[str]:
    return [
        "/catalogue/", "/catalogue/?q=метформин", "/catalogue/?view=drugs&kind=drug",
        f"/catalogue/drugs/{drug.pk}/", "/programs/", f"/programs/{program.pk}/",
        f"/programs/{program.pk}/?drugs=all&categories=all&diagnoses=all", "/reference/categories/",
    ]


@pytest.mark.parametrize("role", ["doctor_user", "pharmacist", "analyst", "system_admin"])
def test_readers_see_every_page_without_curator_forms(request, client, role, metformin, program):
    client.force_login(request.getfixturevalue(role))
    for url in _read_urls(metformin, program):
        response = client.get(url)
        assert response.status_code == 200, url
        main = _text(response).split("</header>", 1)[1]  # the header holds only the logout form
        assert 'method="post"' not in main and "hx-post" not in main, url
    drug_card = _text(client.get(f"/catalogue/drugs/{metformin.pk}/"))
    for curator_text in ("Включить в перечень", "Значения министерства", "Исключить с даты", "Сохранить"):
        assert curator_text not in drug_card
    program_card = _text(client.get(f"/programs/{program.pk}/"))
    for curator_text in ("Добавить препарат", "Изменить свойства программы", "Исключить с даты"):
        assert curator_text not in program_card
    assert "Новая программа" not in _text(client.get("/programs/"))
    assert "<select" not in _text(client.get("/reference/categories/"))
    assert client.get("/programs/new/").status_code == 403
    assert client.get(f"/programs/{program.pk}/drug-search/?q=инсулин").status_code == 403


def test_curator_sees_every_page_with_forms(client, ministry_admin, metformin, program):
    client.force_login(ministry_admin)
    for url in _read_urls(metformin, program) + ["/programs/new/", "/nsi/"]:
        assert client.get(url).status_code == 200, url
    drug_card = _text(client.get(f"/catalogue/drugs/{metformin.pk}/"))
    assert "Включить в перечень программы" in drug_card and "Значения министерства" in drug_card
    assert "Исключить с даты" in drug_card  # the drug is on REG-DIS from 01.01.2026
    program_card = _text(client.get(f"/programs/{program.pk}/"))
    assert "Добавить препарат" in program_card and "Добавить категорию" in program_card
    assert "Добавить диагноз" in program_card and "Изменить свойства программы" in program_card
    assert "Новая программа" in _text(client.get("/programs/"))
    assert "<select" in _text(client.get("/reference/categories/"))


def test_anonymous_is_sent_to_login(client, metformin, program):
    for url in _read_urls(metformin, program) + ["/nsi/", "/programs/new/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    response = client.post(f"/catalogue/drugs/{metformin.pk}/flags/", {"control_list": "", "atc_code": ""})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_unknown_ids_answer_404(client, doctor_user, ministry_admin, seeded):
    client.force_login(doctor_user)
    assert client.get("/catalogue/drugs/987654/").status_code == 404
    assert client.get("/programs/987654/").status_code == 404
    client.force_login(ministry_admin)
    assert client.get("/nsi/987654/").status_code == 404
    assert client.get("/nsi/runs/987654/").status_code == 404
    assert client.post("/programs/rows/drug/987654/end/", {"exclude_from": "2027-01-01"}).status_code == 404
    assert client.post("/programs/rows/nonsense/1/end/", {"exclude_from": "2027-01-01"}).status_code == 404


def test_sidebar_lists_the_reference_sections_by_role(client, doctor_user, system_admin, ministry_admin, seeded):
    client.force_login(doctor_user)
    home = _text(client.get("/"))
    assert "Каталог" in home and "Программы ЛЛО" in home and "Льготные категории" in home
    assert "Справочники НСИ" not in home
    for user in (system_admin, ministry_admin):
        client.force_login(user)
        assert "Справочники НСИ" in _text(client.get("/"))


# --- catalogue search -------------------------------------------------------------------------

def test_live_search_partial_finds_a_trade_name_with_a_typo(client, doctor_user, seeded):
    client.force_login(doctor_user)
    response = client.get("/catalogue/", {"q": "сиафор"}, **HX)
    page = _text(response)
    assert response.status_code == 200
    assert "<html" not in page and "Сиофор" in page and "Метформин" in page
    assert "похожие названия" in page  # nothing contains «сиафор»: the page says these are similar names
    assert "похожие названия" not in _text(client.get("/catalogue/", {"q": "сиофор"}, **HX))
    full = _text(client.get("/catalogue/", {"q": "сиафор"}))
    assert "<html" in full and 'value="сиафор"' in full and "Сиофор" in full  # bookmarkable


def test_search_by_gtin_and_a_bad_check_digit(client, pharmacist, seeded):
    package = Package.objects.select_related("trade_name").filter(gtin__isnull=False).order_by("pk")[5]
    client.force_login(pharmacist)
    page = _text(client.get("/catalogue/", {"q": package.gtin}, **HX))
    assert package.gtin in page and package.trade_name.name in page
    assert "Найдено: <strong>1</strong>" in page
    bad = package.gtin[:-1] + str((int(package.gtin[-1]) + 1) % 10)
    response = client.get("/catalogue/", {"q": bad}, **HX)
    assert response.status_code == 200
    assert "alert-error" in _text(response) and "контрольн" in _text(response).lower()
    short = client.get("/catalogue/", {"q": "м"}, **HX)
    assert short.status_code == 200 and "не меньше 2 символов" in _text(short)


def test_drug_view_kind_program_and_date_filters(client, analyst, seeded, program):
    client.force_login(analyst)
    drugs = _text(client.get("/catalogue/", {"q": "метф", "view": "drugs"}, **HX))
    assert "A10BA02" in drugs and "наименований" in drugs
    devices = _text(client.get("/catalogue/", {"kind": "device", "view": "drugs"}, **HX))
    assert "Медицинское изделие" in devices and "Лекарственный препарат" not in devices
    on_program = _text(client.get("/catalogue/", {"q": "аторвастатин", "program": program.pk}, **HX))
    assert "Аторис" in on_program
    not_on = _text(client.get("/catalogue/", {"q": "фентанил", "program": program.pk}, **HX))
    assert "Дюрогезик" not in not_on  # fentanyl is not on REG-DIS (the fuzzy match still offers «фенил…» foods)
    assert "Дюрогезик" in _text(client.get("/catalogue/", {"q": "фентанил"}, **HX))
    # the program's list is read on a date: without one, today's list is meant
    all_dates = _text(client.get("/catalogue/", {"q": "аторвастатин", "program": program.pk, "date": ""}, **HX))
    assert "Аторис" in all_dates and "перечень программы на" in all_dates
    bad_program = client.get("/catalogue/", {"program": "987654"}, **HX)
    assert bad_program.status_code == 200 and "alert-error" in _text(bad_program)


def test_retired_packages_show_only_without_a_date_and_are_marked(client, doctor_user, seeded):
    package = Package.objects.select_related("trade_name").get(
        pk=Package.objects.filter(trade_name__name="Сиофор").order_by("pk").values("pk")[:1]
    )
    Package.objects.filter(pk=package.pk).update(valid_to=_today() - timedelta(days=10))
    client.force_login(doctor_user)
    today_rows = _text(client.get("/catalogue/", {"q": package.gtin}, **HX))
    assert "Ничего не найдено" in today_rows
    all_dates = _text(client.get("/catalogue/", {"q": package.gtin, "date": ""}, **HX))
    assert "row-retired" in all_dates and "выведено" in all_dates and "на все даты" in all_dates


def test_catalogue_pages_by_fifty(client, doctor_user, seeded):
    client.force_login(doctor_user)
    first = _text(client.get("/catalogue/", **HX))
    assert first.count("<tr class=") == 50 and "Страница 1 из" in first and "page=2" in first
    second = _text(client.get("/catalogue/", {"page": 2}, **HX))
    assert "Страница 2 из" in second and "← Назад" in second
    beyond = client.get("/catalogue/", {"page": 999}, **HX)
    assert beyond.status_code == 200 and "Вперёд" not in _text(beyond)


@pytest.mark.parametrize("q", ["метформин", "сиафор", "а", "нет-такого-препарата", "04607028393738"])
def test_search_partial_query_count_does_not_grow_with_results(client, doctor_user, seeded, q,
                                                                django_assert_max_num_queries):
    """Measured: session, user, the search (one statement per tier: «contains», then «similar» when
    nothing contains the text), the page's rows by id with their joins — whatever the number of rows."""
    client.force_login(doctor_user)
    with django_assert_max_num_queries(5):
        response = client.get("/catalogue/", {"q": q}, **HX)
    assert response.status_code == 200
    with django_assert_max_num_queries(4):  # browsing 50 rows without a query: the rows and the count
        client.get("/catalogue/", {"page": 2}, **HX)
    onlp = Program.objects.get(code="ONLP").pk
    with django_assert_max_num_queries(5):  # + the program of the filter
        client.get("/catalogue/", {"q": "инсулин", "view": "drugs", "program": onlp}, **HX)


# --- drug card: curator's flags ---------------------------------------------------------------

def test_curator_sets_drug_flags_and_resets_them(client, ministry_admin, metformin):
    client.force_login(ministry_admin)
    response = client.post(f"/catalogue/drugs/{metformin.pk}/flags/",
                           {"control_list": ControlList.PSYCHOTROPIC_III, "atc_code": "a10ba02"})
    assert response.status_code == 302
    metformin.refresh_from_db()
    assert metformin.control_list == ControlList.PSYCHOTROPIC_III and metformin.curated_fields == ["control_list"]
    card = _text(client.get(f"/catalogue/drugs/{metformin.pk}/"))
    assert "Изменения сохранены" in card and "установлено вручную" in card and "Вернуть значения НСИ" in card
    bad = client.post(f"/catalogue/drugs/{metformin.pk}/flags/", {"control_list": "", "atc_code": "XYZ"})
    assert bad.status_code == 422 and "не соответствует формату" in _text(bad)
    assert 'value="XYZ"' in _text(bad)  # the input stays for correction
    assert client.post(f"/catalogue/drugs/{metformin.pk}/reset/").status_code == 302
    metformin.refresh_from_db()
    assert metformin.curated_fields == []


def test_curator_sets_package_flags_inline(client, ministry_admin, metformin):
    package = Package.objects.filter(trade_name__drug=metformin, gtin__isnull=False).order_by("pk").first()
    client.force_login(ministry_admin)
    response = client.post(f"/catalogue/packages/{package.pk}/flags/",
                           {"is_jnvlp": "on", "price_cap": "1234,50", "is_marked": "on"}, **HX)
    fragment = _text(response)
    assert response.status_code == 200 and fragment.startswith(f'<tr id="package-{package.pk}"')
    assert "Изменения сохранены" in fragment and "установлено вручную" in fragment
    package.refresh_from_db()
    assert package.price_cap == Decimal("1234.50") and set(package.curated_fields) == {"is_jnvlp", "price_cap"}

    refused = client.post(f"/catalogue/packages/{package.pk}/flags/", {"price_cap": "100", "is_marked": "on"}, **HX)
    assert refused.status_code == 200 and "только для препаратов ЖНВЛП" in _text(refused)
    assert 'value="100"' in _text(refused)
    package.refresh_from_db()
    assert package.is_jnvlp

    reset = client.post(f"/catalogue/packages/{package.pk}/reset/", **HX)
    assert "Значения возвращены НСИ" in _text(reset)
    package.refresh_from_db()
    assert package.curated_fields == []

    plain = client.post(f"/catalogue/packages/{package.pk}/flags/", {"is_marked": "on"})  # without htmx: PRG
    assert plain.status_code == 302 and plain["Location"].endswith(f"#package-{package.pk}")
    package.refresh_from_db()
    assert not package.is_jnvlp and package.price_cap is None


# --- program lists from the drug card and the program card ------------------------------------

def test_curator_includes_a_drug_from_its_card(client, ministry_admin, metformin, other_program):
    client.force_login(ministry_admin)
    start = _today() + timedelta(days=7)
    response = client.post(f"/catalogue/drugs/{metformin.pk}/include/", {
        "program": other_program.pk, "valid_from": start.isoformat(), "valid_to": "", "basis": "Приказ № 12",
    })
    assert response.status_code == 302
    row = ProgramDrug.objects.get(program=other_program, drug=metformin)
    assert (row.valid_from, row.valid_to, row.basis) == (start, None, "Приказ № 12")
    card = _text(client.get(f"/catalogue/drugs/{metformin.pk}/"))
    assert "HIV-TB" in card and "ещё не действует" in card and "Удалить" in card

    again = client.post(f"/catalogue/drugs/{metformin.pk}/include/", {
        "program": other_program.pk, "valid_from": _today().isoformat(), "basis": "",
    })
    assert again.status_code == 409 and "уже в перечне программы HIV-TB" in _text(again)
    missing = client.post(f"/catalogue/drugs/{metformin.pk}/include/", {"valid_from": _today().isoformat()})
    assert missing.status_code == 422 and "Выберите программу" in _text(missing)


def test_curator_ends_and_deletes_rows_with_htmx(client, ministry_admin, metformin, program, other_program):
    client.force_login(ministry_admin)
    current = ProgramDrug.objects.get(program=program, drug=metformin)
    exclude_from = _today() + timedelta(days=30)
    response = client.post(f"/programs/rows/drug/{current.pk}/end/",
                           {"exclude_from": exclude_from.isoformat(), "origin": "drug"}, **HX)
    fragment = _text(response)
    assert response.status_code == 200 and fragment.strip().startswith(f'<tr id="row-drug-{current.pk}"')
    assert "REG-DIS" in fragment and f"Исключено с {exclude_from:%d.%m.%Y}" in fragment
    current.refresh_from_db()
    assert current.valid_to == exclude_from - timedelta(days=1)

    too_early = client.post(f"/programs/rows/drug/{current.pk}/end/",
                            {"exclude_from": "2025-01-01", "origin": "drug"}, **HX)
    assert too_early.status_code == 200 and "field-error" in _text(too_early)
    assert "не может быть раньше" in _text(too_early)

    future = ProgramDrug.objects.create(program=other_program, drug=metformin, valid_from=_today() + timedelta(days=5))
    deleted = client.post(f"/programs/rows/drug/{future.pk}/delete/", {"origin": "program"}, **HX)
    assert deleted.status_code == 200 and "Строка удалена" in _text(deleted)
    assert not ProgramDrug.objects.filter(pk=future.pk).exists()

    in_force = client.post(f"/programs/rows/drug/{current.pk}/delete/", {"origin": "drug"}, **HX)
    assert "нельзя удалить" in _text(in_force)
    assert ProgramDrug.objects.filter(pk=current.pk).exists()

    # without htmx: back to the page the form was on
    category_row = ProgramCategory.objects.filter(program=program).first()
    plain = client.post(f"/programs/rows/category/{category_row.pk}/end/",
                        {"exclude_from": (_today() + timedelta(days=1)).isoformat(),
                         "next": f"/programs/{program.pk}/?categories=all"})
    assert plain.status_code == 302 and plain["Location"] == f"/programs/{program.pk}/?categories=all"
    category_row.refresh_from_db()
    assert category_row.valid_to == _today()
    hostile = client.post(f"/programs/rows/category/{category_row.pk}/end/",
                          {"exclude_from": _today().isoformat(), "next": "https://evil.example/"})
    assert hostile["Location"] == f"/programs/{program.pk}/"


def test_program_card_shows_today_rows_and_all_on_request(client, analyst, program, metformin):
    ended = ProgramDrug.objects.get(program=program, drug=metformin)
    ProgramDrug.objects.filter(pk=ended.pk).update(valid_to=_today() - timedelta(days=1))
    client.force_login(analyst)
    card = _text(client.get(f"/programs/{program.pk}/"))
    assert f'id="row-drug-{ended.pk}"' not in card and "Показать все" in card
    everything = _text(client.get(f"/programs/{program.pk}/", {"drugs": "all"}))
    assert f'id="row-drug-{ended.pk}"' in everything and "исключено" in everything
    assert "Только действующие сегодня" in everything


def test_curator_adds_rows_on_the_program_card(client, ministry_admin, other_program, metformin):
    client.force_login(ministry_admin)
    url = f"/programs/{other_program.pk}/rows/add/"
    start = _today().isoformat()

    search = client.get(f"/programs/{other_program.pk}/drug-search/", {"q": "метформин"}, **HX)
    assert search.status_code == 200 and 'form="add-drug-form"' in _text(search)
    assert f'name="drug" value="{metformin.pk}"' in _text(search)
    bad_search = client.get(f"/programs/{other_program.pk}/drug-search/", {"q": "0460000000000"}, **HX)
    assert bad_search.status_code == 200 and "alert-error" in _text(bad_search)

    assert client.post(url, {"kind": "drug", "drug": metformin.pk, "valid_from": start,
                             "basis": "Протокол 5"}).status_code == 302
    assert ProgramDrug.objects.filter(program=other_program, drug=metformin, basis="Протокол 5").exists()
    on_list = _text(client.get(f"/programs/{other_program.pk}/drug-search/", {"q": "метформин"}, **HX))
    assert "уже в перечне" in on_list

    category = BenefitCategory.objects.get(federal_code="084")
    assert client.post(url, {"kind": "category", "category": category.pk, "valid_from": start}).status_code == 302
    assert ProgramCategory.objects.filter(program=other_program, category=category).exists()

    assert client.post(url, {"kind": "diagnosis", "diagnosis": "e11", "valid_from": start}).status_code == 302
    assert ProgramDiagnosis.objects.filter(program=other_program, diagnosis__code="E11").exists()

    unknown = client.post(url, {"kind": "diagnosis", "diagnosis": "Q99.9", "valid_from": start})
    assert unknown.status_code == 422 and "Кода МКБ-10 «Q99.9» нет в справочнике" in _text(unknown)
    assert 'value="Q99.9"' in _text(unknown)
    no_drug = client.post(url, {"kind": "drug", "valid_from": start})
    assert no_drug.status_code == 422 and "Выберите препарат" in _text(no_drug)
    reversed_dates = client.post(url, {"kind": "category", "category": category.pk, "valid_from": start,
                                       "valid_to": "2020-01-01"})
    assert reversed_dates.status_code == 422 and "раньше даты начала" in _text(reversed_dates)
    card = _text(client.get(f"/programs/{other_program.pk}/"))
    assert "Метформин" in card and "E11" in card and "084" in card


def test_curator_creates_and_edits_a_program(client, ministry_admin, seeded):
    client.force_login(ministry_admin)
    data = {"code": "reg-30", "name": "Региональная льгота 30 %", "kind": "regional_category",
            "funding_source": "2", "payment_share": "3", "payment_percent": "30", "basis": "Закон области",
            "valid_from": "2027-01-01", "valid_to": ""}
    response = client.post("/programs/new/", data)
    program = Program.objects.get(code="REG-30")
    assert response.status_code == 302 and response["Location"] == f"/programs/{program.pk}/"
    assert program.payment_percent == Decimal("30") and not program.requires_diagnosis
    card = _text(client.get(f"/programs/{program.pk}/"))
    assert "Программа REG-30 создана" in card and "30 %" in card

    bad = client.post("/programs/new/", data | {"code": "REG-31", "payment_percent": ""})
    assert bad.status_code == 422 and "укажите процент оплаты" in _text(bad)
    assert not Program.objects.filter(code="REG-31").exists()

    edit = client.post(f"/programs/{program.pk}/edit/", data | {"code": "REG-30", "payment_share": "2",
                                                                 "requires_diagnosis": "on"})
    assert edit.status_code == 302
    program.refresh_from_db()
    assert program.payment_percent == Decimal("50") and program.requires_diagnosis
    clash = client.post(f"/programs/{program.pk}/edit/", data | {"code": "ONLP"})
    assert clash.status_code == 422 and "alert-error" in _text(clash) and " open" in _text(clash)
    program.refresh_from_db()
    assert program.code == "REG-30"
    listing = _text(client.get("/programs/"))
    assert "REG-30" in listing and "row-retired" in listing  # starts in 2027: not in force today


# --- benefit categories -----------------------------------------------------------------------

def test_curator_maps_a_category_to_the_nsi_list(client, ministry_admin, doctor_user, seeded):
    category = BenefitCategory.objects.exclude(nsi_category=None).order_by("federal_code").first()
    other = NsiBenefitCategory.objects.exclude(pk=category.nsi_category_id).order_by("nsi_code").first()
    client.force_login(doctor_user)
    page = _text(client.get("/reference/categories/"))
    assert category.nsi_category.nsi_code in page and category.federal_code in page
    assert client.post(f"/reference/categories/{category.pk}/map/", {"nsi_category": other.pk}).status_code == 403

    client.force_login(ministry_admin)
    response = client.post(f"/reference/categories/{category.pk}/map/", {"nsi_category": other.pk}, **HX)
    assert response.status_code == 200 and "Изменения сохранены" in _text(response)
    category.refresh_from_db()
    assert category.nsi_category_id == other.pk
    assert client.post(f"/reference/categories/{category.pk}/map/", {"nsi_category": ""}).status_code == 302
    category.refresh_from_db()
    assert category.nsi_category is None
    bad = client.post(f"/reference/categories/{category.pk}/map/", {"nsi_category": "987654"}, **HX)
    assert bad.status_code == 200 and "field-error" in _text(bad)


# --- NSI --------------------------------------------------------------------------------------

def test_nsi_page_shows_versions_and_offers_an_update(client, ministry_admin, seeded):
    dictionary = NsiDictionary.objects.order_by("load_order").first()
    NsiDictionary.objects.filter(pk=dictionary.pk).update(portal_version="1.1", portal_checked_at=timezone.now())
    NsiDictionary.objects.exclude(pk=dictionary.pk).filter(load_order=20).update(
        portal_error="Портал НСИ не ответил за 30 с", portal_checked_at=timezone.now())
    client.force_login(ministry_admin)
    page = _text(client.get("/nsi/"))
    assert dictionary.oid in page and "Доступна новая версия" in page and "Загрузить версию 1.1" in page
    assert "Портал НСИ не ответил" in page and "Проверить версии на портале" in page
    assert page.count("Загрузить версию") == 1  # only where the portal offers something newer
    history = _text(client.get(f"/nsi/{dictionary.pk}/"))
    assert "Журнал загрузок" in history and "демонстрационные данные" in history and "Загружено" in history


def test_curator_requests_an_import_and_a_second_one_conflicts(client, ministry_admin, seeded):
    dictionary = NsiDictionary.objects.order_by("load_order").first()
    NsiDictionary.objects.filter(pk=dictionary.pk).update(portal_version="1.1")
    client.force_login(ministry_admin)
    response = client.post(f"/nsi/{dictionary.pk}/import/", {"version": "1.1"})
    run = NsiImportRun.objects.filter(dictionary=dictionary).order_by("-pk").first()
    assert response.status_code == 302 and response["Location"] == f"/nsi/runs/{run.pk}/"
    assert (run.status, run.version, run.requested_by) == (RunStatus.QUEUED, "1.1", ministry_admin)
    message = OutboxMessage.objects.get(topic="nsi.import", key=f"nsi-import-{run.pk}")
    assert message.payload["run_id"] == run.pk

    run_page = _text(client.get(f"/nsi/runs/{run.pk}/"))
    assert "В очереди" in run_page and 'hx-trigger="every 1s"' in run_page and "поставлена в очередь" in run_page
    listing = _text(client.get("/nsi/"))
    assert "Идёт загрузка" in listing and "Загрузить версию 1.1" not in listing

    again = client.post(f"/nsi/{dictionary.pk}/import/", {"version": "1.1"})
    assert again.status_code == 409 and "уже выполняется" in _text(again)
    assert NsiImportRun.objects.filter(dictionary=dictionary, status=RunStatus.QUEUED).count() == 1
    bad_version = client.post(f"/nsi/{NsiDictionary.objects.order_by('load_order')[1].pk}/import/", {"version": "v2"})
    assert bad_version.status_code == 422 and "Непонятный номер версии" in _text(bad_version)


def test_curator_toggles_the_mode_and_asks_the_portal(client, ministry_admin, seeded):
    dictionary = NsiDictionary.objects.order_by("load_order").first()
    client.force_login(ministry_admin)
    assert client.post(f"/nsi/{dictionary.pk}/mode/", {"mode": "auto"}).status_code == 302
    dictionary.refresh_from_db()
    assert dictionary.mode == "auto"
    assert "загружаются автоматически" in _text(client.get("/nsi/"))
    assert client.post(f"/nsi/{dictionary.pk}/mode/", {"mode": "sometimes"}).status_code == 422
    assert client.post("/nsi/check/").status_code == 302
    assert OutboxMessage.objects.filter(topic="nsi.check").exists()


def test_system_admin_reads_nsi_but_cannot_change_it(client, system_admin, seeded):
    dictionary = NsiDictionary.objects.order_by("load_order").first()
    NsiDictionary.objects.filter(pk=dictionary.pk).update(portal_version="1.1")
    client.force_login(system_admin)
    page = _text(client.get("/nsi/"))
    assert "Доступна новая версия" in page and "Загрузить версию" not in page
    assert "Проверить версии на портале" not in page and "включить автоматическое" not in page
    assert client.post(f"/nsi/{dictionary.pk}/import/", {"version": "1.1"}).status_code == 403
    assert client.post(f"/nsi/{dictionary.pk}/mode/", {"mode": "auto"}).status_code == 403
    assert client.post("/nsi/check/").status_code == 403
    assert not NsiImportRun.objects.filter(status=RunStatus.QUEUED).exists()


@pytest.mark.parametrize("role", ["doctor_user", "analyst", "pharmacist"])
def test_nsi_pages_are_closed_to_other_roles(request, client, role, seeded):
    client.force_login(request.getfixturevalue(role))
    run = NsiImportRun.objects.first()
    for url in ("/nsi/", f"/nsi/{run.dictionary_id}/", f"/nsi/runs/{run.pk}/"):
        assert client.get(url).status_code == 403, url


def test_run_partial_polls_while_active_and_stops_when_finished(client, system_admin, seeded):
    dictionary = NsiDictionary.objects.order_by("load_order").first()
    run = NsiImportRun.objects.create(dictionary=dictionary, version="1.1", status=RunStatus.RUNNING,
                                      started_at=timezone.now(), rows_total=400)
    progress.report(run.pk, "loading", done=100, total=400)
    client.force_login(system_admin)
    running = _text(client.get(f"/nsi/runs/{run.pk}/", **HX))
    assert "<html" not in running and 'hx-trigger="every 1s"' in running
    assert "Выполняется" in running and "проверка и загрузка записей" in running.lower()
    assert 'value="25"' in running and "100 из 400" in running

    NsiImportRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, finished_at=timezone.now(), added=3, changed=2, retired=1,
        tables=[{"table": "llo_package", "added": 3, "changed": 2, "retired": 1},
                {"table": "llo_tradename", "added": 1, "changed": 0, "retired": 0}],
    )
    done = _text(client.get(f"/nsi/runs/{run.pk}/", **HX))
    assert "hx-trigger" not in done and "Загружено" in done
    assert "Упаковки" in done and "Торговые наименования" in done and "llo_package" not in done


def test_failed_run_shows_error_rows_and_a_hint(client, ministry_admin, seeded):
    dictionary = NsiDictionary.objects.order_by("load_order").first()
    run = NsiImportRun.objects.create(
        dictionary=dictionary, version="1.1", status=RunStatus.FAILED, finished_at=timezone.now(),
        error="Справочник «Единицы измерения»: запись 7: поле NAME: пустое значение",
        error_rows=[{"row": 7, "field": "NAME", "message": "пустое значение"},
                    {"row": None, "field": None, "message": "нет столбца SHORT_NAME"}],
    )
    client.force_login(ministry_admin)
    page = _text(client.get(f"/nsi/runs/{run.pk}/"))
    assert "hx-trigger" not in page and "Ошибка" in page and "пустое значение" in page
    assert "нет столбца SHORT_NAME" in page and "<td class=\"mono\">NAME</td>" in page
    assert "ничего не загружено" in page and "версия 1.0" in page


# --- every POST is the curator's ----------------------------------------------------------------

@pytest.mark.parametrize("role", ["doctor_user", "analyst", "pharmacist", "system_admin"])
def test_non_curators_get_403_on_every_post(request, client, role, metformin, program):
    package = Package.objects.filter(trade_name__drug=metformin).first()
    row = ProgramDrug.objects.get(program=program, drug=metformin)
    category = BenefitCategory.objects.first()
    dictionary = NsiDictionary.objects.first()
    diagnosis = Diagnosis.objects.get(code="E11")
    before = (Program.objects.count(), ProgramDrug.objects.count(), NsiImportRun.objects.count())
    client.force_login(request.getfixturevalue(role))
    posts = {
        f"/catalogue/drugs/{metformin.pk}/flags/": {"control_list": "", "atc_code": "A10BA02"},
        f"/catalogue/drugs/{metformin.pk}/reset/": {},
        f"/catalogue/drugs/{metformin.pk}/include/": {"program": program.pk, "valid_from": "2027-01-01"},
        f"/catalogue/packages/{package.pk}/flags/": {"is_jnvlp": "on"},
        f"/catalogue/packages/{package.pk}/reset/": {},
        "/programs/new/": {"code": "X-1"},
        f"/programs/{program.pk}/edit/": {"code": "X-1"},
        f"/programs/{program.pk}/rows/add/": {"kind": "diagnosis", "diagnosis": diagnosis.code},
        f"/programs/rows/drug/{row.pk}/end/": {"exclude_from": "2027-01-01"},
        f"/programs/rows/drug/{row.pk}/delete/": {},
        f"/reference/categories/{category.pk}/map/": {"nsi_category": ""},
        f"/nsi/{dictionary.pk}/import/": {"version": "1.1"},
        f"/nsi/{dictionary.pk}/mode/": {"mode": "auto"},
        "/nsi/check/": {},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
        assert client.post(url, data, **HX).status_code == 403, url
    assert (Program.objects.count(), ProgramDrug.objects.count(), NsiImportRun.objects.count()) == before
    row.refresh_from_db()
    assert row.valid_to is None
