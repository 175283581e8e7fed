"""Who writes and who reads prescriptions, derived from `llo.roles`.

Doctors (in the browser) and MIS clients (over the API) write for their MO; the MO's drug officer
reads the MO's prescriptions; the ministry's admins read the region's; pharmacists open one by its
number or barcode at the desk (pharmacy issue) and never browse lists.
"""

from llo.models import Role
from llo.roles import REGISTER_ADMIN_ROLES, WEB_ROLES

WRITE_ROLES = frozenset({Role.DOCTOR, Role.MIS_CLIENT})
MO_READ_ROLES = frozenset({Role.DOCTOR, Role.MIS_CLIENT, Role.MO_DRUG_OFFICER})
REGION_READ_ROLES = REGISTER_ADMIN_ROLES
READ_ROLES = MO_READ_ROLES | REGION_READ_ROLES
PAGE_ROLES = READ_ROLES & WEB_ROLES
WRITE_PAGE_ROLES = WRITE_ROLES & WEB_ROLES
