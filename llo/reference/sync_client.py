"""A participant's copy of the published reference data, kept by incremental sync.

The reference client for MIS and pharmacy vendors (docs/api.md, "Catalogue sync"); it needs only
`requests`, no Django. Usage::

    mirror = CatalogueMirror("https://llo.example.ru/api/v1/", token="…")
    mirror.sync_all()            # first call: everything; later calls: only what changed
    mirror.rows["packages"]      # {id: row} — retired rows too, with their valid_to
    mirror.save("catalogue.json"); mirror = CatalogueMirror.load("catalogue.json", token="…")
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

ENDPOINTS = {
    "packages": "catalogue/packages/",
    "drugs": "catalogue/drugs/",
    "programs": "catalogue/programs/",
    "units": "reference/units/",
    "routes": "reference/routes/",
    "validity-periods": "reference/validity-periods/",
    "nsi-benefit-categories": "reference/nsi-benefit-categories/",
    "benefit-categories": "reference/benefit-categories/",
    "diagnoses": "reference/diagnoses/",
}


class CatalogueMirror:
    def __init__(self, base_url: str, *, token: str, page_size: int = 1000, timeout: float = 30.0,
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/") + "/"
        self.page_size = page_size
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.rows: dict[str, dict[int, dict]] = {name: {} for name in ENDPOINTS}
        self.since: dict[str, int] = {name: 0 for name in ENDPOINTS}
        self.requests_made = 0

    def sync(self, name: str) -> int:
        """Fetch what changed in one table since the last sync; returns how many rows arrived."""
        received = 0
        while True:
            response = self.session.get(
                self.base_url + ENDPOINTS[name],
                params={"changed_since": self.since[name], "limit": self.page_size},
                timeout=self.timeout,
            )
            self.requests_made += 1
            response.raise_for_status()
            body = response.json()
            for row in body["results"]:
                self.rows[name][row["id"]] = row
            received += len(body["results"])
            self.since[name] = body["next_since"]
            if not body["has_more"]:
                return received

    def sync_all(self) -> dict[str, int]:
        return {name: self.sync(name) for name in ENDPOINTS}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"since": self.since, "rows": self.rows}, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | Path, *, base_url: str, token: str) -> CatalogueMirror:
        data = json.loads(Path(path).read_text())
        mirror = cls(base_url, token=token)
        mirror.since = data["since"]
        mirror.rows = {name: {int(k): v for k, v in rows.items()} for name, rows in data["rows"].items()}
        return mirror
