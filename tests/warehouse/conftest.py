import pytest

from llo.models import Package, Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f
from tests.warehouse import factories as wf


@pytest.fixture
def warehouse(region):
    return f.organization(K.REGIONAL_WAREHOUSE, region=region, mdlp_place_id="00000990000001")


@pytest.fixture
def supplier(region):
    return f.organization(K.SUPPLIER, region=region)


@pytest.fixture
def clerk(warehouse):
    return f.user(Role.WAREHOUSE_CLERK, warehouse)


@pytest.fixture
def marked(reference):
    """Two marked packs of the demo catalogue (with GTINs)."""
    return list(Package.objects.filter(is_marked=True, gtin__isnull=False).order_by("pk")[:2])


@pytest.fixture
def unmarked(reference):
    return Package.objects.filter(is_marked=False).order_by("pk").first()


@pytest.fixture
def contract(supplier, ministry, marked, unmarked):
    return wf.contract(supplier, ministry, [*marked, unmarked])
