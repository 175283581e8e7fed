from urllib.parse import quote

from django.conf import settings


def database_url(name: str | None = None) -> str:
    """A DATABASE_URL for a child process: the test server, this database or `name`."""
    db = settings.DATABASES["default"]
    name = name or db["NAME"]
    if db["HOST"].startswith("/"):
        return f"postgres://{db['USER']}@/{db['HOST']}/{name}"
    password = quote(db["PASSWORD"] or "")
    return f"postgres://{quote(db['USER'])}:{password}@{db['HOST']}:{db['PORT'] or 5432}/{name}"
