"""What the system sends: one plain dataclass per scheme, the builders' input.

No Django models here: the outbox handlers map an operation (a shipment, a dispensing, a write-off)
to one of these. Dates are `datetime.date`; `operation_date` is an aware `datetime` (its offset is
written as is); money is `Decimal` in roubles. SGTINs and SSCCs are strings; an SSCC counts as one
item towards MAX_ITEMS whatever it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .values import (
    ContractType,
    DestructionReason,
    DestructionType,
    ReceiveType,
    Source,
    TurnoverType,
    WithdrawalType,
)

VERSION = "1.38"  # the format version written on the root (domain.md §8)


# --- items -------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class SgtinLine:
    """A priced SGTIN of a 415/416 (and of a parsed 601/602): cost per pack including VAT, VAT amount."""

    sgtin: str
    cost: Decimal
    vat_value: Decimal


@dataclass(frozen=True, kw_only=True)
class SsccDetail:
    """The price of one GTIN and series inside a transport pack (up to 100 per SSCC)."""

    gtin: str
    series_number: str
    cost: Decimal
    vat_value: Decimal


@dataclass(frozen=True, kw_only=True)
class SsccLine:
    """A priced transport pack of a 415/416: `cost`/`vat_value` are those of one pack inside it."""

    sscc: str
    cost: Decimal
    vat_value: Decimal
    details: Sequence[SsccDetail] = ()


@dataclass(frozen=True)
class SgtinPart:
    """An SGTIN with the part of the pack sold or withdrawn (`"n/m"`), or the whole pack (`part=None`)."""

    sgtin: str
    part: str | None = None


@dataclass(frozen=True, kw_only=True)
class DestructionOrg:
    """The organization that destroys (541 destruction_org): FIAS address GUID, INN and KPP (no KPP for
    an individual entrepreneur's 12-digit INN)."""

    fias_addr: str
    inn: str
    kpp: str | None = None


# --- documents ---------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class MoveOrder:
    """415 move_order: shipment to another legal entity (turnover_type 1) or a return to the supplier (2)."""

    subject_id: str
    receiver_id: str
    operation_date: datetime
    doc_num: str
    doc_date: date
    turnover_type: TurnoverType | int
    source: Source | int
    contract_type: ContractType | int
    sgtins: Sequence[SgtinLine] = ()
    ssccs: Sequence[SsccLine] = ()
    contract_num: str | None = None  # registry number of the contract in EIS
    contract_gos_num: str | None = None
    contract_gos_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiveOrder:
    """416 receive_order: receipt under reverse acceptance (receive_type 1 arrival, 2 return from a buyer)."""

    subject_id: str
    shipper_id: str
    operation_date: datetime
    doc_num: str
    doc_date: date
    receive_type: ReceiveType | int
    source: Source | int
    contract_type: ContractType | int
    sgtins: Sequence[SgtinLine] = ()
    ssccs: Sequence[SsccLine] = ()
    contract_num: str | None = None
    contract_gos_num: str | None = None
    contract_gos_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class Accept:
    """701 accept: the receiver confirms a 415 (direct acceptance), or the sender confirms a 416."""

    subject_id: str
    counterparty_id: str
    operation_date: datetime
    sgtins: Sequence[str] = ()
    ssccs: Sequence[str] = ()
    confirm_paused: bool | None = None


@dataclass(frozen=True, kw_only=True)
class MovePlace:
    """431 move_place: between two places of activity of one legal entity."""

    subject_id: str
    receiver_id: str
    operation_date: datetime
    doc_num: str
    doc_date: date
    sgtins: Sequence[str] = ()
    ssccs: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """521 recipe: dispensing under a subsidized prescription. `doc_date`, `doc_series`, `doc_num` are the
    prescription's date, series and number; the scheme takes SGTINs only (no SSCC)."""

    subject_id: str
    operation_date: datetime
    doc_date: date
    doc_num: str
    sgtins: Sequence[SgtinPart | str] = ()
    doc_series: str | None = None


@dataclass(frozen=True, kw_only=True)
class HealthCare:
    """531 health_care: issue for medical care inside a medical organization (SGTINs only)."""

    subject_id: str
    operation_date: datetime
    doc_date: date
    doc_num: str
    sgtins: Sequence[SgtinPart | str] = ()


@dataclass(frozen=True, kw_only=True)
class Withdrawal:
    """552 withdrawal: out of circulation for another reason (`withdrawal_type`); a part of a pack is
    written as the SGTIN's withdrawal_part."""

    subject_id: str
    operation_date: datetime
    withdrawal_type: WithdrawalType | int
    sgtins: Sequence[SgtinPart | str] = ()
    ssccs: Sequence[str] = ()
    doc_num: str | None = None
    doc_date: date | None = None
    export_country_code: str | None = None


@dataclass(frozen=True, kw_only=True)
class MoveDestruction:
    """541 move_destruction: handing over for destruction under a contract and an act. The basis
    (`destruction_type`), the reason and the Roszdravnadzor decision apply to every item; items with
    different reasons go in separate documents."""

    subject_id: str
    operation_date: datetime
    destruction_org: DestructionOrg
    doc_num: str
    doc_date: date
    act_number: str
    act_date: date
    destruction_type: DestructionType | int
    sgtins: Sequence[str] = ()
    ssccs: Sequence[str] = ()
    reason_for_destruction: DestructionReason | int | None = None
    decision: str | None = None


@dataclass(frozen=True, kw_only=True)
class UnitPack:
    """911 unit_pack: aggregate SGTINs and SSCCs into a new transport pack `sscc`."""

    subject_id: str
    sscc: str
    operation_date: datetime
    sgtins: Sequence[str] = ()
    ssccs: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class UnitUnpack:
    """912 unit_unpack: disband transport packs (up to 1,500 a document), one level or recursively."""

    subject_id: str
    operation_date: datetime
    ssccs: Sequence[str] = ()
    is_recursive: bool = False


@dataclass(frozen=True, kw_only=True)
class UnitExtract:
    """913 unit_extract: take SGTINs/SSCCs out of their transport pack."""

    subject_id: str
    operation_date: datetime
    sgtins: Sequence[str] = ()
    ssccs: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class UnitAppend:
    """914 unit_append: put more SGTINs/SSCCs into an existing transport pack `sscc`."""

    subject_id: str
    operation_date: datetime
    sscc: str
    sgtins: Sequence[str] = ()
    ssccs: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class QueryKizInfo:
    """210 query_kiz_info: exactly one of an SGTIN, an SSCC's content (`sscc_down`) or the packs an SSCC
    is in (`sscc_up`)."""

    subject_id: str
    sgtin: str | None = None
    sscc_down: str | None = None
    sscc_up: str | None = None


@dataclass(frozen=True)
class Envelope:
    """The root's attributes: the format version and optional exchange-session ids."""

    version: str = VERSION
    session_ui: str | None = None
    original_id: str | None = None
    client_identifier: str | None = None


OUTGOING = (MoveOrder, ReceiveOrder, Accept, MovePlace, Recipe, HealthCare, Withdrawal, MoveDestruction,
            UnitPack, UnitUnpack, UnitExtract, UnitAppend, QueryKizInfo)


@dataclass(frozen=True, kw_only=True)
class RefusalReceiver:
    """252 refusal_receiver: the receiver refuses packs shipped to it (a supplier's 415/601) — damaged, not
    arrived, not ordered; in MDLP they go back to the shipper. `subject_id` is the refusing receiver,
    `shipper_id` the supplier, `reason` up to 1,000 characters for the whole document."""

    subject_id: str
    shipper_id: str
    operation_date: datetime
    reason: str
    sgtins: Sequence[str] = ()
    ssccs: Sequence[str] = ()
    confirm_paused: bool | None = None


OUTGOING = (*OUTGOING, RefusalReceiver)
