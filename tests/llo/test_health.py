import time

import pytest
from django.core.cache import cache
from django.db import connection

from config.embedded import free_port
from llo.tasks import HEARTBEAT_KEY

pytestmark = pytest.mark.django_db


def test_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_when_everything_answers(client, clean_cache):
    cache.set(HEARTBEAT_KEY, time.time())
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert all(check["ok"] for check in body["checks"].values())


def test_not_ready_without_a_worker(client, clean_cache):
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["ok"] is False


def test_not_ready_when_worker_is_silent_too_long(client, clean_cache, settings):
    cache.set(HEARTBEAT_KEY, time.time() - settings.WORKER_HEARTBEAT_MAX_AGE - 5)
    assert client.get("/health/ready").status_code == 503


@pytest.mark.django_db(transaction=True)
def test_not_ready_when_database_is_down(client, clean_cache):
    cache.set(HEARTBEAT_KEY, time.time())
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))  # nothing listens there
    try:
        response = client.get("/health/ready")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is False
    assert "OperationalError" in body["checks"]["database"]["detail"]
    assert body["checks"]["redis"]["ok"] is True
    assert client.get("/health/live").status_code == 200  # liveness does not depend on the database


def test_not_ready_when_redis_is_down(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_makes_the_system_ready(client, clean_cache, celery_worker_thread):
    from llo.tasks import worker_heartbeat

    worker_heartbeat.delay()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and client.get("/health/ready").status_code != 200:
        time.sleep(0.2)
    assert client.get("/health/ready").status_code == 200


def test_status_page_for_system_admin(client, system_admin, doctor_user, clean_cache):
    client.force_login(system_admin)
    page = client.get("/system/").content.decode()
    assert "Состояние системы" in page and "Фоновые обработчики Celery" in page
    client.force_login(doctor_user)
    assert client.get("/system/").status_code == 403
