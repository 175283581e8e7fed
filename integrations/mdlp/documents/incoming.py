"""What MDLP sends back, as plain dataclasses: the parsers' output.

Datetimes are aware (an MDLP time without an offset is read as UTC), dates are `datetime.date`,
money is `Decimal`. Priced items of 601/602 reuse the builders' SgtinLine/SsccLine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from .outgoing import SgtinLine, SsccLine


class OperationResult(StrEnum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    PARTIAL = "Partial"


@dataclass(frozen=True, kw_only=True)
class ObjectError:
    """One error of a 200 result or a 617 notification; `object_id` is the SGTIN/SSCC (or another
    record) it is about, when MDLP names one."""

    code: str
    description: str
    object_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Result:
    """200 result: the processing receipt of a sent document."""

    operation: str  # the operation's name
    operation_id: str  # the id MDLP gave the sent document (request)
    operation_result: OperationResult
    accept_time: datetime
    comment: str | None = None
    warnings: tuple[str, ...] = ()
    errors: tuple[ObjectError, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.operation_result is OperationResult.ACCEPTED

    @property
    def rejected(self) -> bool:
        return self.operation_result is OperationResult.REJECTED

    @property
    def partial(self) -> bool:
        return self.operation_result is OperationResult.PARTIAL

    def errors_by_object(self) -> dict[str, list[ObjectError]]:
        """The errors that name an object, by that object's id."""
        found: dict[str, list[ObjectError]] = {}
        for error in self.errors:
            if error.object_id:
                found.setdefault(error.object_id, []).append(error)
        return found


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A Roszdravnadzor decision about an SGTIN (211 info_decision)."""

    id: str
    doc_num: str
    doc_date: date


@dataclass(frozen=True, kw_only=True)
class SgtinInfo:
    """211: the state of one SGTIN (the 211 scheme carries no owner or place of activity)."""

    sgtin: str
    status: str
    gtin: str
    series_number: str
    expiration_date: date
    sscc: str | None = None  # the transport pack it is in
    decision: Decision | None = None


@dataclass(frozen=True, kw_only=True)
class PackNode:
    """211 sscc_down: one object inside the asked pack: a nested SSCC or an SGTIN, and its parent pack."""

    sscc: str | None = None
    sgtin: SgtinInfo | None = None
    parent_sscc: str | None = None


@dataclass(frozen=True, kw_only=True)
class PackLevel:
    """211 sscc_up: a pack the asked SSCC is in, at nesting `level`."""

    sscc: str
    level: int


@dataclass(frozen=True, kw_only=True)
class KizInfo:
    """211 kiz_info: the answer to a 210 query."""

    found: bool
    sgtin: str | None = None  # the code asked about: an SGTIN ...
    sscc: str | None = None  # ... or an SSCC
    warnings: tuple[str, ...] = ()
    sgtin_info: SgtinInfo | None = None
    sscc_down: tuple[PackNode, ...] = ()
    sscc_up: tuple[PackLevel, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MoveOrderNotification:
    """601: a supplier has shipped to us (their 415); answer with 701 accept."""

    subject_id: str  # the sender
    receiver_id: str  # us
    operation_date: datetime
    doc_num: str
    doc_date: date
    turnover_type: int
    source: int
    contract_type: int
    sgtins: tuple[SgtinLine, ...]
    ssccs: tuple[SsccLine, ...]
    contract_num: str | None = None
    contract_gos_num: str | None = None
    contract_gos_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiveOrderNotification:
    """602: a receiver registered a receipt of our goods (their 416); answer with 701 accept."""

    subject_id: str  # the receiver
    shipper_id: str  # us
    operation_date: datetime
    doc_num: str
    doc_date: date
    receive_type: int
    source: int
    contract_type: int
    sgtins: tuple[SgtinLine, ...]
    ssccs: tuple[SsccLine, ...]
    contract_num: str | None = None
    contract_gos_num: str | None = None
    contract_gos_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class AcceptNotification:
    """607: the counterparty confirmed (701) our 415 or 416."""

    subject_id: str
    counterparty_id: str
    operation_date: datetime
    sgtins: tuple[str, ...]
    ssccs: tuple[str, ...]
    confirm_paused: bool | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiveOrderErrorsNotification:
    """617: the errors MDLP found in a receiver's 416 of our goods."""

    subject_id: str  # the receiver
    shipper_id: str  # us
    operation_date: datetime
    errors: tuple[ObjectError, ...]
