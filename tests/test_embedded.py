"""The embedded default: servers from wheels, on a socket or a free port, stopped at exit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, os, sys
from pathlib import Path
from config.embedded import ensure_services
ensure_services(Path(sys.argv[1]))
import psycopg, redis
from urllib.parse import urlparse
url = os.environ["DATABASE_URL"]
host, _, name = urlparse(url).path[1:].rpartition("/")
with psycopg.connect(host=host, dbname=name, user="postgres") as conn:
    version = conn.execute("SHOW server_version").fetchone()[0]
    listen = conn.execute("SHOW listen_addresses").fetchone()[0]
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    lower = conn.execute("SELECT lower('МЕТФОРМИН'), similarity('метформин', 'метфармин') > 0.3").fetchone()
redis.Redis.from_url(os.environ["REDIS_URL"]).set("probe", "1")
print(json.dumps({"database_url": url, "redis_url": os.environ["REDIS_URL"], "version": version, "listen": listen,
                  "lower": lower[0], "trigram": lower[1]}))
"""


def _servers_under(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(path) in cmdline and ("postgres" in cmdline or "redis-server" in cmdline):
            found.append(proc)
    return found


def test_embedded_servers_start_apart_from_system_ones_and_stop_at_exit(tmp_path):
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(var)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["version"].startswith("18.")
    assert (info["lower"], info["trigram"]) == ("метформин", True)  # contrib and a Cyrillic-aware locale
    assert info["listen"] == ""  # unix socket only: whatever holds 5432 is left alone
    assert info["database_url"].startswith(f"postgres://postgres@/{var}/postgres-18/")
    port = int(info["redis_url"].rsplit(":", 1)[1].split("/")[0])
    assert port != 6379
    # the process that started them has exited: both servers are gone
    assert _servers_under(var) == []
    try:
        redis.Redis(port=port, socket_connect_timeout=1).ping()
        still_up = True
    except redis.exceptions.ConnectionError:
        still_up = False
    assert not still_up
