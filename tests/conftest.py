import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache

from llo.models import Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f


@pytest.fixture
def region(db):
    return f.RegionFactory()


@pytest.fixture
def ministry(region):
    return f.organization(K.MINISTRY, region=region)


@pytest.fixture
def mo(ministry):
    return f.organization(K.MEDICAL_ORG, parent=ministry)


@pytest.fixture
def other_mo(ministry):
    return f.organization(K.MEDICAL_ORG, parent=ministry)


@pytest.fixture
def pharmacy_chain(region):
    return f.organization(K.PHARMACY_ORG, region=region)


@pytest.fixture
def point(pharmacy_chain):
    return f.organization(K.DISPENSING_POINT, parent=pharmacy_chain, mdlp_place_id=None)


@pytest.fixture
def doctor_user(mo):
    return f.user(Role.DOCTOR, mo)


@pytest.fixture
def colleague(mo):
    """Same organization, another role."""
    return f.user(Role.MO_DRUG_OFFICER, mo)


@pytest.fixture
def outsider(other_mo):
    """Same role, another organization."""
    return f.user(Role.DOCTOR, other_mo)


@pytest.fixture
def pharmacist(point):
    return f.user(Role.PHARMACIST, point)


@pytest.fixture
def ministry_admin(ministry):
    return f.user(Role.MINISTRY_ADMIN, ministry)


@pytest.fixture
def analyst(ministry):
    return f.user(Role.MINISTRY_ANALYST, ministry)


@pytest.fixture
def system_admin(ministry):
    return f.user(Role.SYSTEM_ADMIN, ministry)


@pytest.fixture
def celery_worker_thread(transactional_db):
    """A real Celery worker (threads, in this process) consuming the real Redis broker."""
    from config.celery import app

    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


@pytest.fixture
def clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def reference(db):
    """The demo region's reference data: NSI dictionaries at 1.0, categories, programs."""
    from llo.reference.demo import seed_reference

    seed_reference()
