import pytest

from registry.models import ImportSource, ImportStatus, SfrImport


@pytest.fixture
def sfr_run(db):
    """Make a running import row, as the task does before it applies a file."""

    def make(source: str = ImportSource.DBF) -> SfrImport:
        return SfrImport.objects.create(source=source, status=ImportStatus.RUNNING)

    return make
