import io
import shutil
import subprocess
from datetime import date, timedelta
from types import SimpleNamespace

import pypdf
import pytest
from django.core.exceptions import ImproperlyConfigured
from reportlab.pdfbase import pdfmetrics

import registry.patient_card as card
from llo.models import BenefitCategory, Program
from llo.models.organizations import OrganizationKind as K
from llo.validators import snils_complete
from registry.models import BenefitRight, NsuRefusal, Person
from registry.patient_card import patient_card_pdf
from registry.patient_token import patient_token_issue
from tests.llo import factories as f

pytestmark = pytest.mark.django_db

ON = date(2026, 3, 2)
HEADER = ["Дата выписки рецепта", "Код МКБ-10", "Серия и номер рецепта", "Врач (Ф. И. О.)", "Дата отпуска"]


@pytest.fixture
def mo():
    return f.organization(K.MEDICAL_ORG, parent=f.organization(K.MINISTRY),
                          name="ГБУЗ «Тестовская городская поликлиника № 3»")


@pytest.fixture
def onlp():
    return Program.objects.create(code="ONLP", name="ОНЛП (набор социальных услуг)", kind="onlp",
                                  funding_source="1", payment_share="1", payment_percent=100)


def _category(code: str, name: str) -> BenefitCategory:
    return BenefitCategory.objects.create(federal_code=code, name=name)


@pytest.fixture
def person(onlp):
    p = Person.objects.create(snils=snils_complete("112233445"), last_name="Щербакова", first_name="Юлия",
                              patronymic="Эдуардовна", birth_date=date(1951, 9, 30), sex="F",
                              oms_policy="7755443322110099", address="г. Тестовск, ул. Садовая, д. 4, кв. 12")
    BenefitRight.objects.create(person=p, program=onlp, category=_category("081", "Инвалиды I группы"),
                                valid_from=date(2020, 1, 1), source="sfr", document_name="Справка МСЭ",
                                document_number="МСЭ-2019 № 0451237", document_date=date(2019, 12, 10),
                                disability_group="1")
    # rights not in force on the card's date are not shown
    BenefitRight.objects.create(person=p, program=onlp, category=_category("030", "Ветераны боевых действий"),
                                valid_from=date(2015, 1, 1), valid_to=date(2025, 12, 31), source="sfr")
    BenefitRight.objects.create(person=p, program=onlp, category=_category("050", "Жители блокадного Ленинграда"),
                                valid_from=ON + timedelta(days=1), source="sfr")
    return p


def _rx(n: int):
    return [SimpleNamespace(date=ON - timedelta(days=n - i), icd10="E11.9", quantity="60 таб.", series="9826",
                            number=f"0301{i:09d}", doctor="Врачова А. П.",
                            drug="Метформин, таблетки, покрытые пленочной оболочкой, 850 мг") for i in range(n)]


def _pages(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_card_shows_the_patient_and_the_rights_in_force(person, mo):
    pdf = patient_card_pdf(person=person, organization=mo, on=ON)
    [text] = _pages(pdf)
    for expected in ("Щербакова Юлия Эдуардовна", "112-233-445 95", "7755443322110099", "30.09.1951",
                     "женский", "г. Тестовск, ул. Садовая, д. 4, кв. 12", "Учетная форма № 030-Л/у",
                     "ГБУЗ «Тестовская городская поликлиника № 3»", "КАРТА №", "081", "Справка МСЭ",
                     "МСЭ-2019 № 0451237", "10.12.2019", "I группа", "права, действующие на 02.03.2026",
                     "QR-код пациента", *HEADER):
        assert expected in text, expected
    assert " ".join(mo.ogrn) in text  # the OGRN in its digit boxes
    assert "Ветераны боевых действий" not in text and "блокадного" not in text
    assert "Рецепты на льготные лекарственные препараты по этой карте не выписывались" in text
    assert "Лист 1 из 1" in text


def test_cyrillic_is_drawn_with_an_embedded_font_that_has_the_glyphs(person, mo):
    pdf = patient_card_pdf(person=person, organization=mo, on=ON)
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    fonts = {str(v.get_object()["/BaseFont"]) for v in page["/Resources"]["/Font"].values()}
    assert any("SourceSansPro" in name or "DejaVu" in name for name in fonts), fonts
    face = pdfmetrics.getFont(card.FONT).face
    for ch in "ЩербаковаЮлияЭдуардовнаЁё№«»":
        assert ord(ch) in face.charToGlyph, ch


def test_no_right_in_force_is_said_on_the_card(mo):
    p = Person.objects.create(last_name="Иванов", first_name="Пётр", birth_date=date(1960, 1, 2), sex="M")
    NsuRefusal.objects.create(person=p, year=ON.year, refused=True, source="sfr")
    [text] = _pages(patient_card_pdf(person=p, organization=mo, on=ON))
    assert "нет действующих прав" in text and "действующих льготных прав нет" in text
    assert "2. СНИЛС не указан" in text and "3. Полис ОМС не указан" in text
    assert "отказ от лекарственной части НСУ" in text


def test_prescription_rows_from_dicts_and_objects(person, mo):
    rows = [{"date": date(2026, 2, 1), "icd10": "I10", "drug": "Эналаприл, таблетки, 10 мг", "quantity": "20 таб.",
             "series": "9826", "number": "0301000000777", "doctor": "Петров П. П.", "pharmacy": "Аптека № 12",
             "dispensed_drug": "Энап 10 мг", "dispensed_on": date(2026, 2, 2)}, *_rx(1)]
    [text] = _pages(patient_card_pdf(person=person, organization=mo, on=ON, prescriptions=rows))
    for expected in ("01.02.2026", "I10", "Эналаприл, таблетки, 10 мг", "9826 № 0301000000777", "Петров П. П.",
                     "Аптека № 12; Энап 10 мг", "02.02.2026", "E11.9", "Метформин"):
        assert expected in text, expected
    assert "не выписывались" not in text


def test_a_long_table_goes_on_to_more_pages_with_its_header(person, mo):
    pages = _pages(patient_card_pdf(person=person, organization=mo, on=ON, prescriptions=_rx(70)))
    assert len(pages) >= 3
    for n, text in enumerate(pages, 1):
        assert all(h in text for h in HEADER), n
        assert f"Лист {n} из {len(pages)}" in text
    for text in pages[1:]:
        assert "Щербакова Юлия Эдуардовна, СНИЛС 112-233-445 95" in text and "(продолжение)" in text
    numbers = [f"0301{i:09d}" for i in range(70)]
    assert all(sum(num in text for text in pages) == 1 for num in numbers)  # every row once


def test_text_from_the_database_is_not_markup(mo, onlp):
    p = Person.objects.create(last_name="<b>Иванов</b> & Ко", first_name="Пётр", birth_date=date(1960, 1, 2),
                              sex="M", address="ул. <font size=40>Длинная</font>")
    [text] = _pages(patient_card_pdf(person=p, organization=mo, on=ON))
    assert "<b>Иванов</b> & Ко" in text and "<font size=40>Длинная</font>" in text


def test_the_qr_code_on_the_card_is_the_patient_token(person, mo, tmp_path):
    pdf = patient_card_pdf(person=person, organization=mo, on=ON)
    token = patient_token_issue(person=person)
    [text] = _pages(pdf)
    assert " ".join(token[i:i + 4] for i in range(0, len(token), 4)) in text  # printed for typing by hand
    if shutil.which("pdftoppm") and shutil.which("zbarimg"):  # decode the printed symbol where possible
        (tmp_path / "card.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile", tmp_path / "card.pdf", tmp_path / "card"],
                       check=True)
        out = subprocess.run(["zbarimg", "--quiet", "--raw", tmp_path / "card.png"], capture_output=True, check=True)
        assert out.stdout.decode().split() == [token]


def test_font_sources_in_order_and_a_clear_error_without_any(monkeypatch, tmp_path):
    sources = [source for source, _, _ in card.font_candidates()]
    assert sources[0] == "font-source-sans-pro" and sources[-1] == "fonts-dejavu-core"
    assert card.register_fonts().startswith("font-source-sans-pro")
    monkeypatch.setattr(card, "_font_source", None)
    monkeypatch.setattr(card, "font_candidates", lambda: [("none", tmp_path / "a.ttf", tmp_path / "b.ttf")])
    with pytest.raises(ImproperlyConfigured, match="font-source-sans-pro"):
        card.register_fonts()
