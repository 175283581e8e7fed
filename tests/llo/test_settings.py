import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _import_settings(module: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}}
    clean.update(env)
    code = f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='{module}'; django.setup(); print('started')"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_a_real_secret():
    result = _import_settings("config.settings.production", ALLOWED_HOSTS="llo.example")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    result = _import_settings("config.settings.production", ALLOWED_HOSTS="llo.example", SECRET_KEY="short")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_production_needs_allowed_hosts():
    result = _import_settings("config.settings.production", SECRET_KEY="x" * 60)
    assert result.returncode != 0 and "ALLOWED_HOSTS" in result.stderr


def test_production_starts_with_everything_set():
    result = _import_settings("config.settings.production", SECRET_KEY="x" * 60, ALLOWED_HOSTS="llo.example")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_production_with_mdlp_needs_its_account_and_a_real_signer():
    common = {"SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "h", "MDLP_BASE_URL": "https://api.mdlp.crpt.ru/api/v1/"}
    result = _import_settings("config.settings.production", **common)
    assert result.returncode != 0 and "MDLP_CLIENT_ID and MDLP_CLIENT_SECRET must be set" in result.stderr
    common |= {"MDLP_CLIENT_ID": "region-system", "MDLP_CLIENT_SECRET": "s3cret-from-the-vault"}
    result = _import_settings("config.settings.production", **common)
    assert result.returncode != 0 and "MDLP_SIGNER is the demo signer" in result.stderr
    result = _import_settings("config.settings.production", **common, MDLP_SIGNER="integrations.mdlp.signer.Gost")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("url", ["sqlite:///db.sqlite3", "mysql://u@h/db"])
def test_never_a_database_other_than_postgresql(url):
    result = _import_settings("config.settings.production", SECRET_KEY="x" * 60, ALLOWED_HOSTS="h", DATABASE_URL=url)
    assert result.returncode != 0 and "must point to PostgreSQL" in result.stderr
