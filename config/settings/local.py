"""Settings for a developer's machine and the demo: safe defaults, embedded servers."""

import secrets
from pathlib import Path

from config.embedded import ensure_services

_VAR = Path(__file__).resolve().parents[2] / "var"
ensure_services(_VAR)

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
LLO_ALLOW_DEMO = True


def _local_secret_key() -> str:
    """A random key kept in var/ (never committed), so sessions survive restarts."""
    path = _VAR / "secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("SECRET_KEY", default="") or _local_secret_key()
DATABASES = {"default": database_from_env()}  # noqa: F405
