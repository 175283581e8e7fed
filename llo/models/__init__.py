from .catalogue import ControlList, Inn, Package, ProductKind, StandardizedDrug, TradeName
from .nsi import ImportMode, NsiDictionary, NsiImportRun, RunStatus
from .organizations import Organization, OrganizationKind, PharmacyAttachment, Region
from .outbox import OutboxMessage, OutboxStatus
from .programs import (
    FundingSource, PaymentShare, Program, ProgramCategory, ProgramDiagnosis, ProgramDrug, ProgramKind,
)
from .reference import BenefitCategory, Diagnosis, NsiBenefitCategory, Route, Unit, ValidityPeriod
from .staff import ApiToken, Doctor, Role, User

__all__ = [
    "ApiToken", "BenefitCategory", "ControlList", "Diagnosis", "Doctor", "FundingSource", "ImportMode", "Inn",
    "NsiBenefitCategory", "NsiDictionary", "NsiImportRun", "Organization", "OrganizationKind", "OutboxMessage",
    "OutboxStatus", "Package", "PaymentShare", "PharmacyAttachment", "ProductKind", "Program", "ProgramCategory",
    "ProgramDiagnosis", "ProgramDrug", "ProgramKind", "Region", "Role", "RunStatus", "Route", "StandardizedDrug",
    "TradeName", "Unit", "User", "ValidityPeriod",
]
