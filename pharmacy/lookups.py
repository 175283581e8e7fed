"""The dispensing API's hot reads as prebuilt statements (llo.prebuilt): what a request names — the
prescription with its doctor and the dispensing point — in one round trip, and the scanned packs with
their pack, trade name, recall flag and contract price in another. Compiling the equivalent
querysets cost more than PostgreSQL took to run them (docs/pharmacy.md «Measured»)."""

from __future__ import annotations

from functools import cache

from django.http import Http404

from llo import prebuilt
from llo.errors import ValidationFailed
from llo.models import Doctor, Organization, Package, TradeName
from llo.models.organizations import OrganizationKind as K
from llo.roles import has_role
from prescriptions.models import Prescription
from procurement.models import ContractItem
from warehouse.models import MarkedPack, RecalledSeries

from .selectors import DISPENSING_ROLES

BIGINT_MAX = 2**63 - 1
_DESK = prebuilt.layout((Prescription, "rx"), (Doctor, "d"), (Organization, "pl"))
_PACKS = prebuilt.layout((MarkedPack, "mp"), (Package, "k"), (TradeName, "t"))


def _table(model) -> str:
    return model._meta.db_table


@cache
def _desk_sql(by_number: bool) -> str:
    org = _table(Organization)
    where = "rx.series = %(series)s AND rx.number = %(number)s" if by_number else "rx.id = %(pk)s"
    # the point: named (a point of the user's organization, or the user's own) or, unnamed, the user's own
    return (
        f"SELECT {_DESK.columns} FROM {_table(Prescription)} rx "
        f"JOIN {_table(Doctor)} d ON d.id = rx.doctor_id "
        f"JOIN {org} mo ON mo.id = rx.organization_id "
        f"JOIN {org} uo ON uo.id = %(user_org)s AND uo.region_id = mo.region_id "
        f"LEFT JOIN {org} pl ON pl.id = coalesce(%(place)s::bigint, %(user_org)s) AND pl.kind = '{K.DISPENSING_POINT}' "
        "AND pl.is_active AND (pl.id = %(user_org)s OR pl.parent_id = %(user_org)s) "
        f"WHERE {where}"
    )


def desk_lookup(user, *, pk: int | None = None, series: str = "", number: str = "",
                place: int | None = None) -> tuple[Prescription, Organization]:
    """The prescription of the region a request names (by id, or series and number) and the point it
    dispenses at — `selectors.prescription_for_desk` and `selectors.place_for` in one statement, with
    their answers: 404 for an unknown prescription, a point not the user's, or a user who does not
    dispense; `dispensation.place_required` when a pharmacy organization's account names no point."""
    if not has_role(user, DISPENSING_ROLES) or not user.organization_id or max(pk or 0, place or 0) > BIGINT_MAX:
        raise Http404
    params = {"pk": pk, "series": series.strip().upper(), "number": number.strip(), "place": place,
              "user_org": user.organization_id}
    rows = prebuilt.fetch(_desk_sql(pk is None), params, _DESK)
    if not rows:
        raise Http404
    rx, doctor, point = rows[0]
    rx.doctor = doctor
    if point is None:
        if place is not None:
            raise Http404
        raise ValidationFailed("Укажите пункт отпуска (place): учётная запись аптечной организации работает "
                               "за все её пункты", code="dispensation.place_required")
    return rx, point


@cache
def _packs_sql() -> str:
    return (
        f"SELECT {_PACKS.columns}, "
        f"EXISTS (SELECT 1 FROM {_table(RecalledSeries)} s WHERE s.package_id = mp.package_id "
        "AND s.series = mp.series AND s.is_active), "
        f"(SELECT ci.price FROM {_table(ContractItem)} ci WHERE ci.contract_id = mp.contract_id "
        "AND ci.package_id = mp.package_id LIMIT 1) "
        f"FROM {_table(MarkedPack)} mp JOIN {_table(Package)} k ON k.id = mp.package_id "
        f"JOIN {_table(TradeName)} t ON t.id = k.trade_name_id WHERE mp.sgtin = ANY(%s)"
    )


def packs_by_sgtin(sgtins: list[str]) -> dict[str, MarkedPack]:
    """The packs with their pack and trade name, a `recalled` flag and the `price` of their state
    contract: one statement."""
    packs = {}
    for pack, package, trade_name, recalled, price in prebuilt.fetch(_packs_sql(), [list(sgtins)], _PACKS):
        package.trade_name, pack.package = trade_name, package
        pack.recalled, pack.price = recalled, price
        packs[pack.sgtin] = pack
    return packs
