"""Settings for the test suite: real PostgreSQL and Redis (DATABASE_URL/REDIS_URL or embedded)."""

from pathlib import Path

from config.embedded import ensure_services

ensure_services(Path(__file__).resolve().parents[2] / "var")

from .base import *  # noqa: E402,F403

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-any-real-deployment-0123456789"
ALLOWED_HOSTS = ["*"]
LLO_ALLOW_DEMO = True
DATABASES = {"default": database_from_env()}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
CACHES["default"]["KEY_PREFIX"] = "llo-test"  # noqa: F405
CELERY_TASK_DEFAULT_QUEUE = "llo-test"
