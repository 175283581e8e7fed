"""`make run`: the launcher brings the whole system up and Ctrl-C brings it down cleanly."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from config.embedded import free_port
from config.launcher import Emulator, Supervisor, load_emulators, wait_http
from tests.dburl import database_url

ROOT = Path(__file__).resolve().parents[1]


def make_echo_emulator(port: int) -> Emulator:
    """An emulator factory as a later issue would register one in LLO_EMULATORS."""
    return Emulator(
        name="echo",
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        env={"ECHO_BASE_URL": f"http://127.0.0.1:{port}/"},
        ready_url=f"http://127.0.0.1:{port}/",
    )


def test_emulators_are_started_and_stopped_by_the_supervisor():
    (emulator,) = load_emulators({"echo": "tests.test_launcher.make_echo_emulator"})
    supervisor = Supervisor()
    supervisor.start("emulator echo", emulator.argv, dict(os.environ))
    try:
        assert wait_http(emulator.ready_url, 20)
        assert emulator.env["ECHO_BASE_URL"] == emulator.ready_url
        assert supervisor.failed_child() is None
    finally:
        supervisor.stop()
    assert all(p.poll() is not None for _, p in supervisor.children)
    assert not wait_http(emulator.ready_url, 1)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def scratch_database_url():
    """A database of its own on the same server, so the launcher's migrate and seed touch
    nothing else (neither the developer's data nor another job's database on CI)."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = f"llo_launcher_{os.getpid()}"
    params = {"host": db["HOST"] or None, "port": db["PORT"] or None, "user": db["USER"],
              "password": db["PASSWORD"] or None, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield database_url(name)
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    (ROOT / "var" / "emulators" / f"mdlp-{name}.pickle").unlink(missing_ok=True)  # the emulator's registry of it


def test_make_run_starts_everything_and_stops_on_ctrl_c(scratch_database_url):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "config.launcher", "--port", str(port)],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": scratch_database_url},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not any("ЦСУ ЛЛО запущена" in line for line in output):
            assert process.poll() is None, "".join(output)
            time.sleep(0.5)
        text = "".join(output)
        assert f"ЦСУ ЛЛО запущена: {base}" in text, text
        assert "doctor" in text and "Demo-2026-llo" in text and "API-ключ mis_gp1" in text

        status, body = _get(base + "login/")
        assert status == 200 and "Вход в систему" in body
        # the worker reports in through Redis: the system becomes ready
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _get(base + "health/ready")[0] != 200:
            time.sleep(0.5)
        status, body = _get(base + "health/ready")
        assert status == 200, body
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        reader.join(5)
    assert code == 0, "".join(output)
    assert "[llo] Stopped." in "".join(output)
    assert not wait_http(base + "health/live", 1)
