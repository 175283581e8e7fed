import pytest
import requests

from integrations.nsi.client import NsiClient
from integrations.nsi.emulator import NsiEmulator

NSI_USER_KEY = "test-nsi-key-5f1c"


@pytest.fixture(scope="session")
def nsi_emulator():
    """The NSI portal emulator, serving from a background thread on a free port."""
    with NsiEmulator(user_key=NSI_USER_KEY) as emulator:
        yield emulator


@pytest.fixture
def nsi_url(nsi_emulator):
    """The emulator's base URL, with the built-in data and good behaviour for each test."""
    requests.post(nsi_emulator.base_url + "_emulator/reset", timeout=10).raise_for_status()
    yield nsi_emulator.base_url
    requests.post(nsi_emulator.base_url + "_emulator/reset", timeout=10).raise_for_status()


@pytest.fixture
def nsi_control(nsi_url):
    """Post a command to the emulator's control API: nsi_control("config", {"down": True})."""

    def post(command: str, payload: dict | None = None) -> dict:
        response = requests.post(f"{nsi_url}_emulator/{command}", json=payload or {}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    return post


@pytest.fixture
def nsi_client(nsi_url):
    """A client with short timeouts and almost no backoff, so failure tests stay fast."""
    with NsiClient(nsi_url, NSI_USER_KEY, timeout=5, retries=1, backoff=0.01) as client:
        yield client


# --- the Social Fund's FrlChangesService ------------------------------------------------------

SFR_PERSONS = 40  # persons in version 1 of the emulated register (the demo serves 300)
SFR_REGION = "99"


@pytest.fixture(scope="session")
def sfr_emulator():
    """The SFR service emulator, serving from a background thread on a free port."""
    from integrations.sfr.emulator import SfrEmulator

    with SfrEmulator(persons=SFR_PERSONS, region=SFR_REGION) as emulator:
        yield emulator


@pytest.fixture
def sfr_url(sfr_emulator):
    """The WSDL address, with the built-in versions and good behaviour for each test."""
    requests.post(sfr_emulator.base_url + "_emulator/reset", timeout=10).raise_for_status()
    yield sfr_emulator.wsdl_url
    requests.post(sfr_emulator.base_url + "_emulator/reset", timeout=10).raise_for_status()


@pytest.fixture
def sfr_control(sfr_emulator, sfr_url):
    """Post a command to the emulator's control API: sfr_control("config", {"down": True})."""

    def post(command: str, payload: dict | None = None) -> dict:
        response = requests.post(f"{sfr_emulator.base_url}_emulator/{command}", json=payload or {}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    return post


@pytest.fixture
def sfr_client(sfr_url):
    """A client with short timeouts and almost no backoff, so failure tests stay fast."""
    from integrations.sfr.client import SfrClient

    with SfrClient(sfr_url, region=SFR_REGION, timeout=5, retries=1, backoff=0.01) as client:
        yield client
