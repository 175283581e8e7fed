from .organizations import Organization, OrganizationKind, PharmacyAttachment, Region
from .outbox import OutboxMessage, OutboxStatus
from .staff import ApiToken, Doctor, Role, User

__all__ = [
    "ApiToken",
    "Doctor",
    "Organization",
    "OrganizationKind",
    "OutboxMessage",
    "OutboxStatus",
    "PharmacyAttachment",
    "Region",
    "Role",
    "User",
]
