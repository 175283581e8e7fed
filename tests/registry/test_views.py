"""Pages of the beneficiary register: search, the person's card and form 030-Л/у, inclusion
requests, conflicts, duplicates and Social Fund imports — for a user of the same MO, of another
MO, of another role, and for nobody logged in."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from llo.models import BenefitCategory, Diagnosis, OutboxMessage, Program
from registry import services
from registry.models import (
    BenefitRight, ImportSource, ImportStatus, InclusionRequest, NsuRefusal, Person, PersonLookup, RegisterEntry,
    SfrImport, SfrReject,
)
from registry.patient_token import patient_token_issue
from registry.sfr_services import report
from registry.snils import format_snils, snils_complete
from tests.registry.factories import person

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _text(response) -> str:
    return response.content.decode()


def _today() -> date:
    return timezone.localdate()


def category(code: str) -> BenefitCategory:
    return BenefitCategory.objects.get(federal_code=code)


def give(admin, p: Person, program: str, code: str, *, since=date(2026, 1, 1), diagnosis=None) -> BenefitRight:
    return services.right_add(user=admin, person=p, program=Program.objects.get(code=program), category=category(code),
                              valid_from=since, document_name="Справка",
                              diagnosis=Diagnosis.objects.get(code=diagnosis) if diagnosis else None)


@pytest.fixture
def mine(reference, mo):
    """A patient of the doctor's MO."""
    return person(last_name="Иванова", first_name="Мария", patronymic="Петровна", birth_date=date(1950, 3, 8),
                  attached_mo=mo)


@pytest.fixture
def theirs(reference, other_mo):
    """A patient of another MO with the same name (and another birth date)."""
    return person(last_name="Иванова", first_name="Мария", patronymic="Сергеевна", birth_date=date(1980, 1, 1),
                  attached_mo=other_mo)


@pytest.fixture
def submitted(reference, colleague):
    """A request of the doctor's MO (submitted by its drug officer) for a new patient."""
    return services.inclusion_request_submit(
        user=colleague, last_name="Белова", first_name="Ольга", patronymic="Ивановна", birth_date=date(1971, 4, 19),
        sex="F", snils="112-233-445 95", program=Program.objects.get(code="REG-CAT"), category=category("701"),
        document_name="Свидетельство", valid_from=_today())


# --- who may open what ---------------------------------------------------------------------------

def _pages(p: Person, request: InclusionRequest, run: SfrImport) -> dict[str, dict[str, int]]:
    """Each page → the status per role (fixture name); a role not named gets 403."""
    readers = {"doctor_user": 200, "colleague": 200, "outsider": 200, "pharmacist": 200, "ministry_admin": 200}
    mo = {"doctor_user": 200, "colleague": 200, "outsider": 200}
    # another MO's patient or request is as if it did not exist; the pharmacist opens a card only
    # after an exact look-up, and finds persons by identifiers only
    theirs = {"doctor_user": 200, "colleague": 200, "ministry_admin": 200, "outsider": 404}
    admins = {"ministry_admin": 200}
    return {
        "/register/": readers,
        "/register/?q=Иванова": readers | {"pharmacist": 400},
        f"/register/persons/{p.pk}/": theirs | {"pharmacist": 404},
        f"/register/persons/{p.pk}/card.pdf": theirs | {"pharmacist": 404},
        "/register/requests/": mo | admins,
        f"/register/requests/{request.pk}/": theirs,
        "/register/requests/new/": mo,
        "/register/conflicts/": admins,
        "/register/duplicates/": admins,
        "/register/sfr/": admins | {"system_admin": 200},
        f"/register/sfr/{run.pk}/": admins | {"system_admin": 200},
    }


ROLES = ["doctor_user", "colleague", "outsider", "pharmacist", "ministry_admin", "analyst", "system_admin"]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_by_role(request, client, role, mine, submitted):
    run = SfrImport.objects.create(source=ImportSource.DBF, status=ImportStatus.SUCCEEDED)
    client.force_login(request.getfixturevalue(role))
    for url, statuses in _pages(mine, submitted, run).items():
        assert client.get(url).status_code == statuses.get(role, 403), url
    assert not PersonLookup.objects.exists()  # opening pages looks nobody up


def test_anonymous_is_sent_to_login(client, mine, submitted):
    run = SfrImport.objects.create(source=ImportSource.DBF, status=ImportStatus.SUCCEEDED)
    for url in _pages(mine, submitted, run):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    for url in (f"/register/persons/{mine.pk}/rights/add/", "/register/duplicates/merge/", "/register/sfr/upload/",
                f"/register/requests/{submitted.pk}/approve/"):
        response = client.post(url, {})
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_another_mos_person_and_request_answer_404(client, outsider, doctor_user, mine, submitted):
    client.force_login(outsider)
    assert client.get(f"/register/persons/{mine.pk}/").status_code == 404
    assert client.get(f"/register/persons/{mine.pk}/card.pdf").status_code == 404
    assert client.get(f"/register/requests/{submitted.pk}/").status_code == 404
    assert client.get(f"/register/requests/new/?person={mine.pk}").status_code == 404
    assert "Белова" not in _text(client.get("/register/requests/"))
    assert client.get("/register/persons/987654/").status_code == 404
    client.force_login(doctor_user)
    assert "Белова" in _text(client.get("/register/requests/"))
    assert client.get("/register/persons/987654/").status_code == 404


def test_sidebar_lists_the_register_sections_by_role(client, doctor_user, pharmacist, ministry_admin, system_admin,
                                                     analyst, reference):
    client.force_login(doctor_user)
    home = _text(client.get("/"))
    assert "Регистр льготников" in home and "Заявки на включение" in home and "Дубликаты записей" not in home
    client.force_login(pharmacist)
    home = _text(client.get("/"))
    assert "Регистр льготников" in home and "Заявки на включение" not in home
    client.force_login(ministry_admin)
    home = _text(client.get("/"))
    for title in ("Регистр льготников", "Заявки на включение", "Конфликты программ", "Дубликаты записей",
                  "Загрузки регистра СФР"):
        assert title in home
    client.force_login(system_admin)
    home = _text(client.get("/"))
    assert "Загрузки регистра СФР" in home and "Регистр льготников" not in home
    client.force_login(analyst)
    assert "Регистр льготников" not in _text(client.get("/"))


# --- search --------------------------------------------------------------------------------------

def test_exact_identifiers_open_the_card_and_are_logged(client, outsider, pharmacist, ministry_admin, mine):
    client.force_login(outsider)  # another MO's doctor: the exact SNILS is what lets them open the card
    for q, method in ((format_snils(mine.snils), "snils"), (mine.snils, "snils"),
                      (f"{mine.oms_policy[:4]} {mine.oms_policy[4:]}", "policy")):
        response = client.get("/register/", {"q": q})
        assert response.status_code == 302 and response["Location"] == f"/register/persons/{mine.pk}/", q
        assert PersonLookup.objects.filter(person=mine, user=outsider, method=method).exists()
    assert client.get(f"/register/persons/{mine.pk}/").status_code == 200

    client.force_login(pharmacist)
    token = patient_token_issue(person=mine)
    response = client.get("/register/", {"q": f"]Q1{token}"})  # as a scanner sends it, AIM prefix first
    assert response.status_code == 302 and response["Location"] == f"/register/persons/{mine.pk}/"
    lookup = PersonLookup.objects.get(user=pharmacist)
    assert (lookup.person, lookup.method, lookup.organization_id) == (mine, "qr", pharmacist.organization_id)
    assert client.get(f"/register/persons/{mine.pk}/").status_code == 200

    client.force_login(ministry_admin)  # the ministry's reads are not logged (docs: registry selectors)
    assert client.get("/register/", {"q": mine.snils}).status_code == 302
    assert not PersonLookup.objects.filter(user=ministry_admin).exists()


def test_an_unknown_number_says_so(client, doctor_user, mine):
    client.force_login(doctor_user)
    snils = snils_complete("123456789")
    response = client.get("/register/", {"q": snils})
    assert response.status_code == 200 and f"нет гражданина с СНИЛС {format_snils(snils)}" in _text(response)
    assert "нет гражданина с полисом ОМС 1111222233334444" in _text(client.get("/register/", {"q": "1111222233334444"}))
    assert not PersonLookup.objects.exists()


def test_name_search_finds_only_visible_persons(client, doctor_user, ministry_admin, mine, theirs):
    client.force_login(doctor_user)
    page = _text(client.get("/register/", {"q": "иванова мар"}))
    assert f"/register/persons/{mine.pk}/" in page and f"/register/persons/{theirs.pk}/" not in page
    assert "Найдено: <strong>1</strong>" in page and 'id="q"' in page and "autofocus" in page

    live = client.get("/register/", {"q": "Иванова Мария П"}, **HX)  # live typing: a fragment
    assert live.status_code == 200 and "<html" not in _text(live) and "Петровна" in _text(live)
    assert "Сергеевна" not in _text(live)
    typo = _text(client.get("/register/", {"q": "Иванва"}, **HX))
    assert "похожие" in typo and "Петровна" in typo
    dated = _text(client.get("/register/", {"q": "Иванова", "birth_date": "1950-03-08"}, **HX))
    assert "Петровна" in dated
    assert "Никого не нашлось" in _text(client.get("/register/", {"q": "Иванова", "birth_date": "1950-03-09"}, **HX))
    still_typing = _text(client.get("/register/", {"q": "Ив"}, **HX))
    assert "alert-error" not in still_typing and "не меньше 3 букв" in still_typing
    number = _text(client.get("/register/", {"q": mine.snils[:7]}, **HX))  # a number is looked up on Enter only
    assert "нажмите Enter" in number
    assert not PersonLookup.objects.exists()

    client.force_login(ministry_admin)
    page = _text(client.get("/register/", {"q": "иванова мария"}))
    assert f"/register/persons/{mine.pk}/" in page and f"/register/persons/{theirs.pk}/" in page


def _expired_token(p: Person) -> str:
    return patient_token_issue(person=p, now=_today() - timedelta(days=800))


def _forged_token(p: Person) -> str:
    token = patient_token_issue(person=p)
    return token[:-1] + str((int(token[-1]) + 1) % 10)


BAD_QUERIES = [  # what is typed, the message, whether it is a name (the pharmacist is told to use numbers)
    (lambda p: "123-456-789 00", "неверная контрольная сумма", False),
    (lambda p: "12345", "Введено цифр: 5", False),
    (lambda p: "]Q1" + "7" * 20 + "abc", "Это не QR-код пациента", False),
    (lambda p: "2" + "0" * 31, "Это не QR-код пациента", False),  # an unknown format version
    (_expired_token, "Срок действия QR-кода истёк", False),
    (_forged_token, "не прошёл проверку подписи", False),
    (lambda p: "", "Введите СНИЛС", False),
    (lambda p: "   ", "Введите СНИЛС", False),
    (lambda p: "%%%", "только буквы", False),
    (lambda p: "Иванова 1950", "смешаны буквы и цифры", False),
    (lambda p: "Иванова Мария Петровна Сергеевна Ивановна", "Слишком длинный запрос", True),
]


@pytest.mark.parametrize("make, message, is_name", BAD_QUERIES)
def test_malformed_input_is_refused_with_what_to_type(client, pharmacist, doctor_user, mine, make, message, is_name):
    q = make(mine)
    for user in (doctor_user, pharmacist):
        client.force_login(user)
        response = client.get("/register/", {"q": q})
        expected = "Поиск по ФИО доступен" if is_name and user is pharmacist else message
        assert response.status_code == 400 and expected in _text(response), (q, _text(response)[-2000:])
        assert 'value="' + q.strip() in _text(response)  # the field keeps what was typed
    assert not PersonLookup.objects.exists()


def test_a_future_birth_date_and_the_pharmacists_name_search_are_refused(client, doctor_user, pharmacist, mine):
    client.force_login(doctor_user)
    tomorrow = (_today() + timedelta(days=1)).isoformat()
    response = client.get("/register/", {"q": "Иванова", "birth_date": tomorrow})
    assert response.status_code == 400 and "Дата рождения в будущем" in _text(response)
    live = client.get("/register/", {"q": "Иванова", "birth_date": tomorrow}, **HX)
    assert live.status_code == 200 and "Дата рождения в будущем" in _text(live)  # htmx swaps a 2xx only
    assert client.get("/register/", {"q": "Иванова", "birth_date": "31.02.2020"}).status_code == 400
    client.force_login(pharmacist)
    response = client.get("/register/", {"q": "Иванова Мария"})
    assert response.status_code == 400 and "Поиск по ФИО доступен врачам" in _text(response)
    page = _text(client.get("/register/"))
    assert "hx-get" not in page and "дата рождения" not in page  # no live name search at the pharmacy
    assert not PersonLookup.objects.exists()


def test_search_page_query_count_is_fixed(client, doctor_user, mo, reference, django_assert_num_queries):
    for n in range(12):
        person(last_name="Петрова", first_name=f"Анна{'а' * n}", attached_mo=mo)
    client.force_login(doctor_user)
    client.get("/register/")  # warm the session
    # session, user, the user's organization, the name search
    with django_assert_num_queries(4):
        response = client.get("/register/", {"q": "петрова анна"})
    assert _text(response).count("/register/persons/") == 12
    with django_assert_num_queries(4):
        client.get("/register/", {"q": "петрова анна"}, **HX)


# --- the card and form 030-Л/у --------------------------------------------------------------------

def test_card_shows_rights_today_history_refusal_conflict_and_qr(client, doctor_user, ministry_admin, mine):
    give(ministry_admin, mine, "ONLP", "082")
    give(ministry_admin, mine, "REG-50", "703")
    old = give(ministry_admin, mine, "REG-DIS", "704", since=date(2025, 1, 1), diagnosis="E11")
    services.right_close(user=ministry_admin, right=old, last_day=date(2025, 12, 31))
    services.refusal_set(user=ministry_admin, person=mine, year=_today().year, refused=True)
    services.register_include(user=ministry_admin, person=mine, register="regional", included_on=date(2026, 1, 1),
                              basis="Решение комиссии")
    client.force_login(doctor_user)
    page = _text(client.get(f"/register/persons/{mine.pk}/"))
    assert "Иванова Мария Петровна" in page and format_snils(mine.snils) in page
    assert "конфликт программ" in page
    assert "не действует: отказ от НСУ" in page  # ОНЛП while the person refused the drug part of НСУ
    assert "Региональная льгота со скидкой 50" in page and "закончилось" in page and "E11" in page
    assert "Решение комиссии" in page and "отказ" in page
    assert "<svg" in page and "QR-код пациента" in page
    assert f"/register/persons/{mine.pk}/card.pdf" in page
    assert f"/register/requests/new/?person={mine.pk}" in page  # the MO may ask to include the patient
    for admin_only in ("Добавить право", "Закрыть", "Записать выбор на год", "Включить в регистр"):
        assert admin_only not in page
    client.force_login(ministry_admin)
    page = _text(client.get(f"/register/persons/{mine.pk}/"))
    for admin_form in ("Добавить право", "Закрыть", "Записать выбор на год", "Включить в регистр"):
        assert admin_form in page
    assert "Подать заявку на включение" not in page


@pytest.mark.parametrize("rights", [1, 6])
def test_card_query_count_does_not_grow_with_rights(client, doctor_user, ministry_admin, mine, rights,
                                                    django_assert_num_queries):
    codes = [("ONLP", "081"), ("REG-50", "703"), ("REG-CAT", "701"), ("ONLP", "030"), ("ONLP", "050"),
             ("ONLP", "060")]
    for program, code in codes[:rights]:
        give(ministry_admin, mine, program, code)
    NsuRefusal.objects.create(person=mine, year=2025, refused=True, source="manual")
    client.force_login(doctor_user)
    client.get("/register/")
    # session, user, organization, person_for, the card (the person; its rights, registers, refusals),
    # rights today, merged records
    with django_assert_num_queries(10):
        response = client.get(f"/register/persons/{mine.pk}/")
    assert response.status_code == 200


def test_the_card_pdf(client, doctor_user, outsider, pharmacist, ministry_admin, mine):
    give(ministry_admin, mine, "ONLP", "081")
    client.force_login(doctor_user)
    response = client.get(f"/register/persons/{mine.pk}/card.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"] == f'attachment; filename="karta-030-lu-{mine.pk}.pdf"'
    client.force_login(outsider)
    assert client.get(f"/register/persons/{mine.pk}/card.pdf").status_code == 404
    client.force_login(pharmacist)
    assert client.get(f"/register/persons/{mine.pk}/card.pdf").status_code == 404
    client.get("/register/", {"q": mine.snils})  # found by exact SNILS: now they may print it
    assert client.get(f"/register/persons/{mine.pk}/card.pdf").content.startswith(b"%PDF")


# --- the register's admins change the card --------------------------------------------------------

def _right_form(**extra) -> dict:
    data = {"right-program": Program.objects.get(code="REG-DIS").pk, "right-category": category("704").pk,
            "right-diagnosis": "e11.9", "right-valid_from": "2026-02-01", "right-document_name": "Выписка",
            "right-document_number": "ВК-1"}
    return data | extra


def test_admin_adds_and_closes_a_right(client, ministry_admin, mine):
    client.force_login(ministry_admin)
    response = client.post(f"/register/persons/{mine.pk}/rights/add/", _right_form())
    assert response.status_code == 302 and response["Location"] == f"/register/persons/{mine.pk}/#right"
    right = BenefitRight.objects.get(person=mine)
    assert (right.program.code, right.diagnosis.code, right.source, right.document_number) == (
        "REG-DIS", "E11.9", "manual", "ВК-1")
    assert "добавлено" in _text(client.get(f"/register/persons/{mine.pk}/"))

    refused = [({"right-diagnosis": "I10"}, "не входит в перечень программы REG-DIS"),
               ({"right-diagnosis": "X99.9"}, "нет в справочнике"),
               ({"right-diagnosis": ""}, "укажите диагноз"),
               ({"right-valid_to": "2026-01-01"}, "раньше даты начала"),
               ({"right-program": ""}, "Выберите программу"),
               ({"right-category": category("701").pk, "right-diagnosis": ""}, "не входит в программу")]
    for change, message in refused:
        response = client.post(f"/register/persons/{mine.pk}/rights/add/", _right_form(**change))
        assert response.status_code in (409, 422) and message in _text(response), (change, _text(response)[-3000:])
    duplicate = client.post(f"/register/persons/{mine.pk}/rights/add/", _right_form())
    assert duplicate.status_code == 409 and "уже есть это право" in _text(duplicate)
    assert BenefitRight.objects.filter(person=mine).count() == 1

    close = client.post(f"/register/rights/{right.pk}/close/", {"last_day": "2026-06-30"})
    assert close.status_code == 302 and close["Location"].endswith("#history")
    right.refresh_from_db()
    assert right.valid_to == date(2026, 6, 30)
    again = client.post(f"/register/rights/{right.pk}/close/", {"last_day": "2026-07-31"})
    assert again.status_code == 409 and "уже действует только по 30.06.2026" in _text(again)
    bad = client.post(f"/register/rights/{right.pk}/close/", {"last_day": "вчера"})
    assert bad.status_code == 422 and "ДД.ММ.ГГГГ" in _text(bad)
    right.refresh_from_db()
    assert right.valid_to == date(2026, 6, 30)


def test_admin_sets_a_refusal_and_includes_in_a_register(client, ministry_admin, mine):
    client.force_login(ministry_admin)
    year = _today().year + 1
    response = client.post(f"/register/persons/{mine.pk}/refusal/", {"refusal-year": year, "refusal-refused": "1",
                                                                      "refusal-applied_on": _today().isoformat()})
    assert response.status_code == 302
    assert NsuRefusal.objects.get(person=mine, year=year).refused
    client.post(f"/register/persons/{mine.pk}/refusal/", {"refusal-year": year, "refusal-refused": "0"})
    assert not NsuRefusal.objects.get(person=mine, year=year).refused
    bad = client.post(f"/register/persons/{mine.pk}/refusal/", {"refusal-year": 1999, "refusal-refused": "1"})
    assert bad.status_code == 422 and "выбор делается на текущий или следующий год" in _text(bad)
    assert NsuRefusal.objects.filter(person=mine).count() == 1

    response = client.post(f"/register/persons/{mine.pk}/registers/", {
        "register-register": "additional", "register-included_on": "2026-03-01", "register-basis": "Приказ № 5"})
    assert response.status_code == 302
    assert RegisterEntry.objects.get(person=mine).basis == "Приказ № 5"
    again = client.post(f"/register/persons/{mine.pk}/registers/", {
        "register-register": "additional", "register-included_on": "2026-04-01"})
    assert again.status_code == 409 and "уже в этом регистре" in _text(again)
    federal = client.post(f"/register/persons/{mine.pk}/registers/", {
        "register-register": "federal", "register-included_on": "2026-04-01"})
    assert federal.status_code == 422 and "региональный или" in _text(federal)
    assert RegisterEntry.objects.filter(person=mine).count() == 1


@pytest.mark.parametrize("role", ["doctor_user", "colleague", "pharmacist", "analyst", "system_admin"])
def test_only_the_registers_admins_change_it(request, client, role, ministry_admin, mine, submitted):
    right = give(ministry_admin, mine, "ONLP", "081")
    twin = person(snils=None, last_name=mine.last_name, first_name=mine.first_name, patronymic=mine.patronymic,
                  birth_date=mine.birth_date)
    client.force_login(request.getfixturevalue(role))
    posts = {
        f"/register/persons/{mine.pk}/rights/add/": _right_form(),
        f"/register/rights/{right.pk}/close/": {"last_day": "2026-06-30"},
        f"/register/persons/{mine.pk}/refusal/": {"refusal-year": 2027, "refusal-refused": "1"},
        f"/register/persons/{mine.pk}/registers/": {"register-register": "regional",
                                                    "register-included_on": "2026-03-01"},
        f"/register/requests/{submitted.pk}/approve/": {},
        f"/register/requests/{submitted.pk}/reject/": {"reason": "нет"},
        "/register/duplicates/merge/": {"persons": [mine.pk, twin.pk], "survivor": mine.pk, "confirm": "1"},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert BenefitRight.objects.count() == 1 and not NsuRefusal.objects.exists()
    assert not RegisterEntry.objects.exists() and Person.objects.filter(merged_into__isnull=False).count() == 0
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


# --- inclusion requests ---------------------------------------------------------------------------

def _request_form(**extra) -> dict:
    data = {"last_name": "Новикова", "first_name": "Алиса", "birth_date": "2024-05-01", "sex": "F",
            "snils": "112-233-445 95", "register": "regional", "program": Program.objects.get(code="REG-CAT").pk,
            "category": category("701").pk, "valid_from": "2026-11-01", "document_name": "Свидетельство о рождении",
            "comment": "Ребёнок до 3 лет"}
    return data | extra


def test_mo_submits_a_request_for_a_new_patient(client, colleague, mo, reference):
    client.force_login(colleague)
    assert "Подать заявку" in _text(client.get("/register/requests/new/"))
    refused = [({"snils": "112-233-445 00"}, "неверная контрольная сумма"),
               ({"last_name": "", "sex": ""}, "Укажите фамилия, пол гражданина"),
               ({"birth_date": (_today() + timedelta(days=3)).isoformat()}, "Дата рождения в будущем"),
               ({"document_name": ""}, "Документ-основание"),
               ({"category": category("081").pk}, "не входит в программу REG-CAT"),
               ({"register": "federal"}, "Выберите корректный вариант")]
    for change, message in refused:
        response = client.post("/register/requests/new/", _request_form(**change))
        assert response.status_code == 422 and message in _text(response), (change, message)
    assert not InclusionRequest.objects.exists()

    response = client.post("/register/requests/new/", _request_form())
    created = InclusionRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/register/requests/{created.pk}/"
    assert (created.organization, created.created_by, created.snils, created.comment) == (
        mo, colleague, "11223344595", "Ребёнок до 3 лет")
    page = _text(client.get(response["Location"]))
    assert "На рассмотрении" in page and "Новикова Алиса" in page and "Одобрить заявку" not in page


@pytest.mark.parametrize("role", ["pharmacist", "ministry_admin", "analyst", "system_admin"])
def test_only_mo_staff_submit_requests(request, client, role, mine):
    client.force_login(request.getfixturevalue(role))
    assert client.post("/register/requests/new/", _request_form()).status_code == 403
    assert client.post("/register/requests/new/", _request_form(person=mine.pk)).status_code == 403
    assert not InclusionRequest.objects.exists()


def test_mo_submits_a_request_for_a_known_patient(client, doctor_user, mine):
    client.force_login(doctor_user)
    form = _text(client.get(f"/register/requests/new/?person={mine.pk}"))
    assert "Иванова Мария Петровна" in form and 'name="last_name"' not in form
    response = client.post("/register/requests/new/", _request_form(person=mine.pk, last_name="", first_name="",
                                                                     sex="", birth_date=""))
    created = InclusionRequest.objects.get()
    assert response.status_code == 302 and created.person == mine and created.last_name == ""


def test_ministry_approves_and_rejects(client, ministry_admin, colleague, mo, submitted):
    second = services.inclusion_request_submit(
        user=colleague, last_name="Орлов", first_name="Иван", birth_date=date(2025, 2, 1), sex="M",
        program=Program.objects.get(code="REG-CAT"), category=category("701"), document_name="Свидетельство",
        valid_from=_today())
    client.force_login(ministry_admin)
    listing = _text(client.get("/register/requests/?status=submitted"))
    assert "Белова" in listing and "Орлов" in listing
    page = _text(client.get(f"/register/requests/{submitted.pk}/"))
    assert "Одобрить заявку" in page and "Отклонить заявку" in page

    response = client.post(f"/register/requests/{submitted.pk}/approve/", {"reason": "Документы в порядке"})
    assert response.status_code == 302
    submitted.refresh_from_db()
    created = Person.objects.get(snils="11223344595")
    assert submitted.status == "approved" and submitted.person == created and created.attached_mo == mo
    assert BenefitRight.objects.get(person=created).program.code == "REG-CAT"
    again = client.post(f"/register/requests/{submitted.pk}/approve/")
    assert again.status_code == 409 and "уже рассмотрена" in _text(again)
    assert BenefitRight.objects.filter(person=created).count() == 1

    empty = client.post(f"/register/requests/{second.pk}/reject/", {"reason": "  "})
    assert empty.status_code == 422 and "Укажите причину отказа" in _text(empty)
    second.refresh_from_db()
    assert second.status == "submitted"
    assert client.post(f"/register/requests/{second.pk}/reject/", {"reason": "Нет свидетельства"}).status_code == 302
    second.refresh_from_db()
    assert (second.status, second.decision_reason) == ("rejected", "Нет свидетельства")
    assert "Отклонена" in _text(client.get("/register/requests/?status=rejected"))
    assert "Белова" not in _text(client.get("/register/requests/?status=rejected"))

    client.force_login(colleague)  # the MO sees the decision and its reason
    page = _text(client.get(f"/register/requests/{second.pk}/"))
    assert "Отклонена" in page and "Нет свидетельства" in page


# --- conflicts and duplicates ------------------------------------------------------------------------

def test_conflicts_list_persons_with_overlapping_programs(client, ministry_admin, mine, theirs):
    give(ministry_admin, mine, "ONLP", "081")
    give(ministry_admin, mine, "REG-50", "703")
    give(ministry_admin, theirs, "ONLP", "081")
    client.force_login(ministry_admin)
    page = _text(client.get("/register/conflicts/"))
    assert f"/register/persons/{mine.pk}/" in page and f"/register/persons/{theirs.pk}/" not in page
    assert "REG-50" in page and "Вперёд" not in page


def test_admin_merges_duplicates_after_confirming(client, ministry_admin, doctor_user, mine, mo):
    twin = person(snils=None, last_name="ИВАНОВА", first_name="Мария", patronymic="Петровна",
                  birth_date=mine.birth_date, attached_mo=mo)
    give(ministry_admin, twin, "REG-50", "703")
    client.force_login(ministry_admin)
    page = _text(client.get("/register/duplicates/"))
    assert f"№ {mine.pk}" in page and f"№ {twin.pk}" in page

    data = {"persons": [mine.pk, twin.pk], "survivor": mine.pk}
    confirm = client.post("/register/duplicates/merge/", data)
    assert confirm.status_code == 200 and "Объединить записи?" in _text(confirm) and "REG-50" in _text(confirm)
    assert not Person.objects.filter(merged_into__isnull=False).exists()
    missing = client.post("/register/duplicates/merge/", {"persons": [mine.pk, twin.pk]})
    assert missing.status_code == 422 and "Выберите основную запись" in _text(missing)

    response = client.post("/register/duplicates/merge/", data | {"confirm": "1"})
    assert response.status_code == 302 and response["Location"] == f"/register/persons/{mine.pk}/"
    twin.refresh_from_db()
    assert twin.merged_into == mine and BenefitRight.objects.get().person == mine
    card = _text(client.get(f"/register/persons/{twin.pk}/"))
    assert "объединена с" in card and f"/register/persons/{mine.pk}/" in card and "<svg" not in card
    assert f"№ {twin.pk}" in _text(client.get(f"/register/persons/{mine.pk}/"))  # the survivor lists it
    stale = client.post("/register/duplicates/merge/", data | {"confirm": "1"})
    assert stale.status_code == 422 and "уже объединена" in _text(stale)
    assert "Вероятных дубликатов нет" in _text(client.get("/register/duplicates/"))
    client.force_login(doctor_user)  # outside the ministry an old link leads to the survivor
    response = client.get(f"/register/persons/{twin.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/register/persons/{mine.pk}/"


def test_a_merge_of_different_snils_is_refused(client, ministry_admin, mine):
    other = person(last_name=mine.last_name, first_name=mine.first_name, patronymic=mine.patronymic,
                   birth_date=mine.birth_date)
    client.force_login(ministry_admin)
    response = client.post("/register/duplicates/merge/", {"persons": [mine.pk, other.pk], "survivor": mine.pk,
                                                           "confirm": "1"})
    assert response.status_code == 409 and "разные СНИЛС" in _text(response)
    assert not Person.objects.filter(merged_into__isnull=False).exists()


# --- Social Fund imports ---------------------------------------------------------------------------

@pytest.fixture
def uploads(settings, tmp_path):
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    return settings.UPLOAD_ROOT


@pytest.fixture
def dbf_pair(tmp_path, reference):
    from django.conf import settings

    from registry.seeding import write_register_files
    from registry.synthetic import Region

    return write_register_files(Region(seed=5, today=_today(), okato=settings.LLO_REGION_OKATO), 20, tmp_path / "sfr")


def _files(persons_path, rights_path, file_date: str | None = None) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {"persons_file": SimpleUploadedFile(persons_path.name, persons_path.read_bytes()),
            "rights_file": SimpleUploadedFile(rights_path.name, rights_path.read_bytes()),
            "file_date": file_date or _today().isoformat()}


def test_upload_queues_an_import_and_a_second_one_conflicts(client, system_admin, uploads, dbf_pair):
    client.force_login(system_admin)
    response = client.post("/register/sfr/upload/", _files(*dbf_pair))
    run = SfrImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/register/sfr/{run.pk}/"
    assert (run.status, run.source, run.requested_by, run.file_date) == ("queued", "dbf", system_admin, _today())
    assert (uploads / "sfr" / str(run.pk) / "C_REGO.DBF").exists()
    assert OutboxMessage.objects.filter(topic="sfr.import", key=f"sfr-import-{run.pk}").exists()
    page = _text(client.get(response["Location"]))
    assert 'hx-trigger="every 1s"' in page and "В очереди" in page and "поставлена в очередь" in page

    again = client.post("/register/sfr/upload/", _files(*dbf_pair))
    assert again.status_code == 409 and "уже выполняется" in _text(again)
    assert SfrImport.objects.count() == 1


def test_uploads_that_are_not_dbf_files_change_nothing(client, ministry_admin, uploads, dbf_pair, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    persons_path, rights_path = dbf_pair
    client.force_login(ministry_admin)
    text = SimpleUploadedFile("C_REGO.DBF", "ФАМ;ИМЯ\nИванова;Мария\n".encode("cp1251") * 10)
    archive = SimpleUploadedFile("register.zip", b"PK\x03\x04" + b"\0" * 200)
    cases = [
        (_files(*dbf_pair) | {"persons_file": text}, "Файл «C_REGO.DBF» — не файл DBF"),
        (_files(*dbf_pair) | {"rights_file": archive}, "Файл «register.zip» — не файл DBF"),
        (_files(*dbf_pair) | {"rights_file": SimpleUploadedFile("C_REGL.DBF", b"\x03")}, "не файл DBF"),
        ({k: v for k, v in _files(*dbf_pair).items() if k != "persons_file"}, "Не выбран файл C_REGO"),
        ({k: v for k, v in _files(*dbf_pair).items() if k != "rights_file"}, "Не выбран файл C_REGL"),
        (_files(*dbf_pair, file_date=(_today() + timedelta(days=1)).isoformat()), "Дата выгрузки в будущем"),
        (_files(*dbf_pair, file_date="1 декабря"), "ДД.ММ.ГГГГ"),
    ]
    for data, message in cases:
        response = client.post("/register/sfr/upload/", data)
        assert response.status_code == 422 and message in _text(response), message
    assert not SfrImport.objects.exists() and not OutboxMessage.objects.filter(topic="sfr.import").exists()
    assert not (uploads / "sfr").exists() or not any((uploads / "sfr").iterdir())


@pytest.mark.parametrize("role", ["doctor_user", "colleague", "pharmacist", "analyst"])
def test_only_admins_start_imports(request, client, role, uploads, dbf_pair):
    client.force_login(request.getfixturevalue(role))
    assert client.post("/register/sfr/upload/", _files(*dbf_pair)).status_code == 403
    assert client.post("/register/sfr/soap/").status_code == 403
    assert not SfrImport.objects.exists()


def test_service_request_and_its_conflict(client, ministry_admin, reference):
    client.force_login(ministry_admin)
    response = client.post("/register/sfr/soap/")
    run = SfrImport.objects.get()
    assert response.status_code == 302 and run.source == "soap" and run.from_version == 0
    again = client.post("/register/sfr/soap/")
    assert again.status_code == 409 and "уже выполняется" in _text(again)
    assert SfrImport.objects.count() == 1
    assert "Сервис изменений СФР" in _text(client.get("/register/sfr/"))


def test_run_page_polls_while_running_and_lists_rejects_when_done(client, ministry_admin, reference):
    run = SfrImport.objects.create(source=ImportSource.DBF, status=ImportStatus.RUNNING, started_at=timezone.now(),
                                   persons_file="C_REGO.DBF", rights_file="C_REGL.DBF")
    report(run.pk, "persons", done=1500)
    client.force_login(ministry_admin)
    running = _text(client.get(f"/register/sfr/{run.pk}/", **HX))
    assert "<html" not in running and 'hx-trigger="every 1s"' in running
    assert "Чтение и проверка записей о гражданах" in running and "обработано записей: 1500" in running

    SfrReject.objects.bulk_create([SfrReject(sfr_import=run, kind="person", row_no=n, snils="123-456-789 00",
                                             reason="неверное контрольное число СНИЛС") for n in range(1, 61)])
    SfrImport.objects.filter(pk=run.pk).update(
        status=ImportStatus.SUCCEEDED, finished_at=run.started_at + timedelta(seconds=75), persons_added=12,
        rights_closed=3, rejected=60)
    done = _text(client.get(f"/register/sfr/{run.pk}/", **HX))
    assert "hx-trigger" not in done and "Загрузка завершена" in done and "1 мин 15 с" in done
    assert "неверное контрольное число СНИЛС" in done and "C_REGO · граждане" in done
    assert done.count("<tr><td") == 50 and "Страница 1 из 2" in done
    second = _text(client.get(f"/register/sfr/{run.pk}/?page=2"))
    assert second.count("неверное контрольное число СНИЛС") == 10
    listing = _text(client.get("/register/sfr/"))
    assert f"/register/sfr/{run.pk}/#rejects" in listing and "+12" in listing and "1 мин 15 с" in listing

    failed = SfrImport.objects.create(source=ImportSource.SOAP, status=ImportStatus.FAILED, finished_at=timezone.now(),
                                      error="Сервис СФР недоступен")
    page = _text(client.get(f"/register/sfr/{failed.pk}/"))
    assert "Сервис СФР недоступен" in page and "регистр не изменён" in page and "hx-trigger" not in page
    assert client.get("/register/sfr/987654/").status_code == 404
