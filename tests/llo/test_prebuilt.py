"""llo.prebuilt.cursor: hot statements bound on the server and kept prepared, with the audit context
and Django's error translation intact."""

import pytest
from django.db import IntegrityError, connection, transaction
from pghistory.models import Events

from llo import prebuilt
from llo.audit import audit_context
from llo.models import Organization, Role

pytestmark = pytest.mark.django_db

_RENAME = "UPDATE llo_organization SET address = %s WHERE id = %s"


def _prepared(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{fragment}%"])
        return cursor.fetchone()[0]


def test_a_statement_is_prepared_on_its_second_run_and_keeps_answering(mo):
    sql = "SELECT name FROM llo_organization WHERE id = %s /* prebuilt-test */"
    with transaction.atomic():
        for run in range(1, 4):
            with prebuilt.cursor() as cursor:
                cursor.execute(sql, [mo.pk])
                assert cursor.fetchone() == (mo.name,)
            assert _prepared("prebuilt-test") == (0 if run == 1 else 1)  # DATABASE_PREPARE_THRESHOLD = 1


def test_django_cursors_still_bind_on_the_client_and_never_prepare(mo):
    with transaction.atomic():
        for _ in range(4):
            with connection.cursor() as cursor:
                cursor.execute("SELECT name FROM llo_organization WHERE id = %s /* client-test */", [mo.pk])
        assert _prepared("client-test") == 0


@pytest.mark.parametrize("runs", [1, 3])  # before and after the statement is prepared
def test_writes_carry_the_audit_context_of_their_block(mo, ministry_admin, runs):
    with transaction.atomic(), audit_context(user=ministry_admin, source="prebuilt-test"):
        for n in range(runs):
            with prebuilt.cursor() as cursor:
                cursor.execute(_RENAME, [f"ул. Подготовленная, {n}", mo.pk])
    events = list(Events.objects.tracks(mo).filter(pgh_label="update").order_by("pgh_created_at"))
    assert [e.pgh_diff["address"][1] for e in events] == [f"ул. Подготовленная, {n}" for n in range(runs)]
    for event in events:
        assert event.pgh_context == {"user": ministry_admin.pk, "organization": ministry_admin.organization_id,
                                     "role": Role.MINISTRY_ADMIN, "source": "prebuilt-test"}


def test_a_write_outside_a_transaction_is_audited_too(mo, ministry_admin):
    with audit_context(user=ministry_admin):  # autocommit: context and write in one implicit transaction
        with prebuilt.cursor() as cursor:
            cursor.execute(_RENAME, ["ул. Без транзакции, 1", mo.pk])
    event = Events.objects.tracks(mo).filter(pgh_label="update").get()
    assert event.pgh_context["user"] == ministry_admin.pk


def test_a_write_without_an_audit_context_runs_as_before(mo):
    with prebuilt.cursor() as cursor:
        cursor.execute(_RENAME, ["ул. Без контекста, 1", mo.pk])
    assert Organization.objects.get(pk=mo.pk).address == "ул. Без контекста, 1"
    assert Events.objects.tracks(mo).filter(pgh_label="update").get().pgh_context is None


def test_a_failed_write_raises_djangos_error_and_changes_nothing(mo, ministry_admin):
    other = Organization.objects.exclude(pk=mo.pk).first()
    assert other is not None
    with pytest.raises(IntegrityError):
        with transaction.atomic(), audit_context(user=ministry_admin):
            with prebuilt.cursor() as cursor:
                cursor.execute(_RENAME, ["ул. Откатится, 1", mo.pk])
                cursor.execute("UPDATE llo_organization SET code = %s WHERE id = %s", [other.code, mo.pk])
    assert Organization.objects.get(pk=mo.pk).address == mo.address
    assert not Events.objects.tracks(mo).filter(pgh_label="update").exists()


@pytest.mark.parametrize("value, threshold", [(None, 1), ("5", 5), ("", None)])
def test_the_prepare_threshold_comes_from_the_environment(monkeypatch, value, threshold):
    from config.settings.base import database_from_env

    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    if value is None:
        monkeypatch.delenv("DATABASE_PREPARE_THRESHOLD", raising=False)
    else:
        monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", value)
    assert database_from_env()["OPTIONS"]["prepare_threshold"] == threshold


def test_with_preparing_off_hot_statements_still_run_unprepared(mo, monkeypatch):
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)  # DATABASE_PREPARE_THRESHOLD=""
    with transaction.atomic():
        for _ in range(3):
            with prebuilt.cursor() as cursor:
                cursor.execute("SELECT name FROM llo_organization WHERE id = %s /* unprepared-test */", [mo.pk])
                assert cursor.fetchone() == (mo.name,)
        assert _prepared("unprepared-test") == 0


def test_instances_get_their_fields_converted_as_the_orm_would(db):
    from llo import outbox
    from llo.models import OutboxMessage

    message = outbox.publish("prebuilt.test", {"a": [1, "два"]}, key="prebuilt-json")
    shape = prebuilt.layout((OutboxMessage, "m"))
    (row,) = prebuilt.fetch(f"SELECT {shape.columns} FROM llo_outboxmessage m WHERE m.id = %s", [message.pk], shape)
    assert row[0].payload == {"a": [1, "два"]} and row[0].result is None
    assert row[0] == OutboxMessage.objects.get(pk=message.pk)


def test_the_query_log_shows_the_statement_with_its_parameters(mo):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured, prebuilt.cursor() as cursor:
        cursor.execute("SELECT name FROM llo_organization WHERE id = %s", [mo.pk])
    assert [q["sql"] for q in captured.captured_queries] == [f"SELECT name FROM llo_organization WHERE id = {mo.pk}"]
