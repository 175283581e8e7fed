"""The desk's scenario: the prescribing fixtures (tests/prescriptions/conftest.py) — an MO, its
doctor, a patient with an ОНЛП right, a drug with a marked pack — plus a state contract and a
snapshot of everything a dispensing could change."""

import pytest

from llo.models import OutboxMessage, Role
from llo.models.organizations import OrganizationKind as K
from pharmacy.models import Dispensation, DispensedItem
from prescriptions.models import Prescription, StatusChange
from tests.llo import factories as f
from tests.prescriptions.conftest import (  # noqa: F401 — fixtures shared with the prescribing tests
    attached_point,
    diagnosis,
    doctor,
    draft,
    drug,
    issue,
    issued,
    onlp,
    package,
    patient,
    today,
)
from tests.warehouse import factories as wf
from warehouse.models import MarkedPack, PackEvent, StockBalance, StockMovement, StockReservation


@pytest.fixture
def supplier(region):
    return f.organization(K.SUPPLIER, region=region)


@pytest.fixture
def contract(supplier, ministry, package):  # noqa: F811 — the imported fixture
    """A state contract for the drug's marked pack at 123.45 ₽."""
    return wf.contract(supplier, ministry, [package])


@pytest.fixture
def other_point(pharmacy_chain):
    """Another point of the same pharmacy organization."""
    return f.organization(K.DISPENSING_POINT, parent=pharmacy_chain)


@pytest.fixture
def foreign_point(region):
    """A point of another pharmacy organization."""
    return f.organization(K.DISPENSING_POINT, parent=f.organization(K.PHARMACY_ORG, region=region))


@pytest.fixture
def chain_pharmacist(pharmacy_chain):
    """The pharmacy organization's own account (its system): acts for every point of it."""
    return f.user(Role.PHARMACIST, pharmacy_chain)


def snapshot() -> dict:
    """Everything a dispensing writes, to show that a refused one changed nothing."""
    return {
        "balances": sorted(StockBalance.objects.values_list("place_id", "package_id", "series", "quantity")),
        "packs": sorted(MarkedPack.objects.values_list("sgtin", "state", "place_id")),
        "prescriptions": sorted(Prescription.objects.values_list("pk", "status")),
        "reservations": sorted(StockReservation.objects.values_list("pk", "state")),
        "movements": StockMovement.objects.count(), "pack_events": PackEvent.objects.count(),
        "status_changes": StatusChange.objects.count(), "outbox": OutboxMessage.objects.count(),
        "dispensations": Dispensation.objects.count(), "items": DispensedItem.objects.count(),
    }
