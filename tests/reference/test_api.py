"""Publication of the catalogue and reference books: search, filters, access, ETags, and an
incremental sync that rebuilds an exact copy over real HTTP."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from llo.models import Inn, NsiDictionary, Package, Program, Role, StandardizedDrug
from llo.reference import api as reference_api
from llo.reference import demo_data
from llo.reference.nsi import dictionaries as d
from llo.reference.nsi.services import nsi_import_apply, nsi_import_request, nsi_import_start
from llo.reference.services import package_flags_set, program_row_add, program_row_delete, program_row_end
from llo.reference.sync_client import ENDPOINTS, CatalogueMirror
from tests.llo import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def mis(mo):
    user, _token, key = f.mis_client(mo)
    return key


def get(client, url, key=None, **headers):
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client.get(url, **headers)


def test_every_role_and_a_mis_key_read_the_catalogue_anonymous_does_not(reference, client, mis, mo, point, ministry):
    assert get(client, "/api/v1/catalogue/packages/").status_code == 401
    assert get(client, "/api/v1/catalogue/packages/", "wrong-key").status_code == 401
    assert get(client, "/api/v1/catalogue/packages/?q=сиафор", mis).json()["count"] == 6
    for role, org in [(Role.DOCTOR, mo), (Role.PHARMACIST, point), (Role.MINISTRY_ANALYST, ministry)]:
        client.force_login(f.user(role, org))
        assert client.get("/api/v1/catalogue/drugs/?q=метформин").json()["count"] == 3, role


def test_package_rows_carry_what_a_pharmacy_needs(reference, client, mis):
    body = get(client, "/api/v1/catalogue/packages/?q=04607008001259", mis).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["gtin"] == "04607008001259" and row["inn"] == "Метформин" and row["trade_name"] == "Метформин"
    assert (row["dosage"], row["pack_quantity"], row["pack_unit"], row["is_marked"], row["is_jnvlp"]) == (
        "500 мг", "30.000", "таб", True, True)
    assert row["price_cap"] == "95.00" and row["valid_to"] is None and row["sync_version"] > 0


def test_filters_program_kind_date_and_gtin(reference, client, mis):
    vzn = get(client, "/api/v1/catalogue/drugs/?program=vzn&page_size=100", mis).json()
    assert vzn["count"] == 12 and all(r["kind"] == "drug" for r in vzn["results"])
    devices = get(client, "/api/v1/catalogue/packages/?kind=device", mis).json()
    assert devices["count"] == 10
    assert get(client, "/api/v1/catalogue/packages/?date=2025-11-01", mis).json()["count"] == 0
    assert get(client, "/api/v1/catalogue/packages/?date=2026-01-15&page_size=1", mis).json()["count"] == 352
    one = get(client, "/api/v1/catalogue/packages/?gtin=4607008001259", mis).json()
    assert one["count"] == 1
    programs = get(client, "/api/v1/catalogue/programs/?date=2026-06-01", mis).json()["results"]
    onlp = next(p for p in programs if p["code"] == "ONLP")
    assert len(onlp["drugs"]) == 129 and len(onlp["categories"]) == 15 and onlp["funding_source"] == "1"


@pytest.mark.parametrize("query, field", [
    ("kind=pill", "kind"), ("program=NOPE", "program"), ("date=23.11.2026", "date"), ("page_size=501", "page_size"),
    ("page=0", "page"), ("changed_since=-1", "changed_since"), ("changed_since=1&q=x", "q"),
    ("changed_since=0&limit=0", "limit"), ("changed_since=abc", "changed_since"),
])
def test_bad_parameters_are_refused_with_the_field_named(reference, client, mis, query, field):
    response = get(client, f"/api/v1/catalogue/packages/?{query}", mis)
    assert response.status_code == 422, response.content
    assert field in response.json()["details"]


def test_bad_gtin_and_short_query_have_their_own_codes(reference, client, mis):
    assert get(client, "/api/v1/catalogue/packages/?q=04607008001258", mis).json()["code"] == "catalogue.bad_gtin"
    assert get(client, "/api/v1/catalogue/drugs/?q=а", mis).json()["code"] == "catalogue.query_too_short"
    assert get(client, "/api/v1/reference/nothing/", mis).status_code == 404


def test_etag_answers_304_until_the_table_changes(reference, client, mis, ministry_admin):
    url = "/api/v1/catalogue/packages/?q=сиофор"
    first = get(client, url, mis)
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('W/"')
    assert get(client, url, mis, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert get(client, url + "&page_size=2", mis, HTTP_IF_NONE_MATCH=etag).status_code == 200  # another query
    package = Package.objects.filter(trade_name__name="Сиофор").first()
    package_flags_set(user=ministry_admin, package=package, is_jnvlp=True, price_cap=Decimal("1.50"), is_marked=True)
    changed = get(client, url, mis, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_list_endpoints_take_a_fixed_number_of_queries(reference, client, mis, django_assert_max_num_queries):
    for url in ["/api/v1/catalogue/packages/?q=ин&page_size=100", "/api/v1/catalogue/packages/?page_size=200",
                "/api/v1/catalogue/drugs/?q=тест", "/api/v1/catalogue/programs/",
                "/api/v1/catalogue/packages/?changed_since=0&limit=300"]:
        with django_assert_max_num_queries(10):  # token, last use, version, ids/count, rows (+ prefetches)
            assert get(client, url, mis).status_code == 200


def test_sync_pages_in_version_order_and_includes_retired_rows(reference, client, mis):
    body = get(client, "/api/v1/catalogue/packages/?changed_since=0&limit=100", mis).json()
    versions = [r["sync_version"] for r in body["results"]]
    assert versions == sorted(versions) and body["has_more"] and body["next_since"] == versions[-1]
    package = Package.objects.order_by("pk").first()
    Package.objects.filter(pk=package.pk).update(valid_to=date(2026, 3, 1))
    latest = get(client, f"/api/v1/catalogue/packages/?changed_since={body['version']}", mis).json()
    assert [r["id"] for r in latest["results"]] == [package.pk]
    assert latest["results"][0]["valid_to"] == "2026-03-01"


def _server_copy() -> dict[str, dict[int, dict]]:
    """What the server publishes, read straight from the database through the same serializers."""
    from llo.reference import selectors

    tables = {
        "packages": (selectors.packages_qs(), reference_api.PackageSerializer),
        "drugs": (selectors.drugs_qs(), reference_api.DrugSerializer),
        "programs": (selectors.programs_with_all_rows(), reference_api.ProgramSerializer),
    }
    for name, (model, _fields) in reference_api.BOOKS.items():
        tables[name] = (model.objects.all(), reference_api.BOOK_SERIALIZERS[name])
    return {name: {row["id"]: row for row in serializer(qs, many=True).data} for name, (qs, serializer) in tables.items()}


def _as_json(copy):
    import json

    return {name: {pk: json.loads(json.dumps(row, default=str)) for pk, row in rows.items()} for name, rows in copy.items()}


@pytest.mark.django_db(transaction=True)
def test_a_sync_client_rebuilds_an_exact_copy_over_http(live_server, tmp_path, mo, ministry_admin, today):
    from llo.reference.demo import seed_reference

    seed_reference()
    _user, _token, key = f.mis_client(mo)
    base = f"{live_server.url}/api/v1/"
    mirror = CatalogueMirror(base, token=key, page_size=97)
    first = mirror.sync_all()
    assert first["packages"] == 352 and first["diagnoses"] == 110
    assert mirror.rows == _as_json(_server_copy())

    # Changes of every kind: curation, list rows added, ended and deleted, a new NSI version with
    # additions, changes and a withdrawal, and a parent renamed (its children re-published).
    onlp = Program.objects.get(code="ONLP")
    dornase = StandardizedDrug.objects.filter(inn__name="Дорназа альфа").first()
    future = program_row_add(user=ministry_admin, program=onlp, kind="drug", item=dornase, valid_from=date(2027, 1, 1))
    ended = onlp.drug_rows.order_by("pk").first()
    program_row_end(user=ministry_admin, row=ended, last_day=today)
    program_row_delete(user=ministry_admin, row=future)
    package_flags_set(user=ministry_admin, package=Package.objects.filter(trade_name__name="Конкор").first(),
                      is_jnvlp=False, price_cap=None, is_marked=False)
    for oid in (d.SMNN, d.ESKLP):
        header, rows = demo_data.dictionary_rows(oid, "1.1")
        run = nsi_import_request(dictionary=NsiDictionary.objects.get(oid=oid), version="1.1")
        nsi_import_start(run=run)
        nsi_import_apply(run=run, version="1.1", publish_date=date(2026, 11, 10), header=header, rows=rows, source="t")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE llo_inn SET name = 'Метформин (МНН)' WHERE name = 'Метформин'")

    requests_before = mirror.requests_made
    second = mirror.sync_all()
    # Metformin's 18 packs (new prices, renamed INN), Оземпик, the withdrawn Энап, the curated pack
    assert second["packages"] == 21 and second["drugs"] == 3 + 1 and second["programs"] == 1
    assert mirror.rows == _as_json(_server_copy())
    assert any(r["inn"] == "Метформин (МНН)" for r in mirror.rows["packages"].values())
    assert mirror.requests_made - requests_before == len(ENDPOINTS)  # one page each: only the changes travel

    path = tmp_path / "mirror.json"
    mirror.save(path)
    again = CatalogueMirror.load(path, base_url=base, token=key)
    assert again.sync_all() == {name: 0 for name in ENDPOINTS}
    assert again.rows == mirror.rows
    assert Inn.objects.filter(name="Метформин (МНН)").exists()
