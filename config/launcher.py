"""`make run`: the whole system on one machine, stopped cleanly by Ctrl-C.

Starts (or attaches to) the databases, migrates, seeds the demo region, then runs the web
server, a Celery worker, Celery beat and the local emulators of external systems, prints
the address and the demo logins, and waits. Ctrl-C (or SIGTERM) stops the children in
reverse order and then the embedded servers this process started.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


@dataclass
class Emulator:
    """A local stand-in for an external system: its command and the settings that point the
    system at it (e.g. {"MDLP_BASE_URL": "http://127.0.0.1:PORT/api/v1/"})."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None


def load_emulators(specs: dict[str, str]) -> list[Emulator]:
    """Each setting entry names a factory `(port: int) -> Emulator`."""
    emulators = []
    for name, dotted in specs.items():
        module_name, _, attr = dotted.rpartition(".")
        factory = getattr(importlib.import_module(module_name), attr)
        emulators.append(factory(free_port()))
    return emulators


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


class Supervisor:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stopping = False

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        process = subprocess.Popen(argv, cwd=BASE_DIR, env=env, start_new_session=True)
        self.children.append((name, process))

    def stop(self) -> None:
        self.stopping = True
        for name, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for name, process in reversed(self.children):
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                print(f"[llo] {name} did not stop in time; killing it", flush=True)
                process.kill()
                process.wait()

    def failed_child(self) -> str | None:
        for name, process in self.children:
            if process.poll() is not None:
                return f"{name} exited with code {process.returncode}"
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole ЛЛО system locally")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--no-seed", action="store_true", help="skip seeding the demo region")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from config.embedded import ensure_services, stop_services

    stop_requested = False

    def request_stop(signum, _frame):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    ensure_services(VAR_DIR)
    import django

    django.setup()
    from django.conf import settings

    env = os.environ.copy()
    python = sys.executable
    supervisor = Supervisor()
    try:
        manage = [python, str(BASE_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=BASE_DIR, env=env, check=True)
        if not args.no_seed:
            subprocess.run([*manage, "seed_demo"], cwd=BASE_DIR, env={**env, "LOG_LEVEL": "WARNING"}, check=True,
                           stdout=subprocess.DEVNULL)

        for emulator in load_emulators(settings.LLO_EMULATORS):
            supervisor.start(f"emulator {emulator.name}", emulator.argv, env)
            if emulator.ready_url and not wait_http(emulator.ready_url, 30):
                raise RuntimeError(f"emulator {emulator.name} did not answer at {emulator.ready_url}")
            env.update(emulator.env)
        if not args.no_seed and "MDLP_BASE_URL" in env:
            subprocess.run([*manage, "mdlp_demo_seed"], cwd=BASE_DIR, env=env, check=True)

        port = args.port if port_is_free(args.port) else free_port()
        celery = [python, "-m", "celery", "-A", "config"]
        supervisor.start("worker", [*celery, "worker", "-l", "WARNING", "-c", "2", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE], env)
        supervisor.start("beat", [*celery, "beat", "-l", "WARNING", "-s", str(VAR_DIR / "celerybeat-schedule")], env)
        supervisor.start("web", [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env)
        url = f"http://127.0.0.1:{port}/"
        if not wait_http(url + "health/live", 60):
            raise RuntimeError("the web server did not start")
        print_banner(url, port != args.port)

        while not stop_requested:
            problem = supervisor.failed_child()
            if problem:
                print(f"[llo] {problem}; stopping everything", flush=True)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("\n[llo] Stopping…", flush=True)
        supervisor.stop()
        from django.db import connections

        connections.close_all()
        stop_services()
        print("[llo] Stopped.", flush=True)


def print_banner(url: str, moved: bool) -> None:
    lines = ["", "=" * 72, f"  ЦСУ ЛЛО запущена: {url}"]
    if moved:
        lines.append("  (порт по умолчанию занят — выбран свободный)")
    lines += [f"  API: {url}api/docs/    Состояние: {url}health/ready", ""]
    credentials = VAR_DIR / "demo-credentials.json"
    if credentials.exists():
        data = json.loads(credentials.read_text())
        lines.append("  Демо-входы (пароль / роль / организация):")
        for u in data["users"]:
            lines.append(f"    {u['username']:<12} {u['password']:<15} {u['role']:<17} {u['organization']}")
        for t in data["api_tokens"]:
            lines.append(f"    API-ключ {t['username']}: {t['token']}")
    desk = VAR_DIR / "demo-codes" / "desk"
    if (desk / "README.txt").exists():
        lines += ["", f"  Пробный отпуск на кассе: штрихкоды рецептов и упаковок — {desk}/ (README.txt)"]
    lines += ["", "  Остановить: Ctrl-C", "=" * 72, ""]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
