"""Reads the doctor's pages need besides `selectors`: the list page without COUNT, a drug's
packages and a program's diagnoses for the form, the stock panel grouped by pharmacy, and the
prescription page with its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch, QuerySet

from llo.access import get_for
from llo.models import Diagnosis, Organization, Package, Program, ProgramDiagnosis, StandardizedDrug

from . import selectors
from .models import Prescription, StatusChange

PAGE_SIZE = 50


@dataclass
class ListPage:
    """One page of a list read without COUNT(*): `has_next` says a further row exists."""

    rows: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def list_page(qs: QuerySet, *, number: int, size: int | None = None) -> ListPage:
    number, size = max(number, 1), size or PAGE_SIZE
    rows = list(qs[(number - 1) * size:number * size + 1])
    return ListPage(rows[:size], number, len(rows) > size)


def with_drug_text(qs: QuerySet[Prescription], text: str) -> QuerySet[Prescription]:
    """The list's drug filter: a part of the INN or of the trade name, as the doctor remembers it."""
    text = (text or "").strip()
    if not text:
        return qs
    return qs.filter(drug__inn__name__icontains=text) | qs.filter(package__trade_name__name__icontains=text)


def prescription_page(user, pk: int) -> Prescription:
    """A prescription in the user's sight (404 otherwise) with what its page shows."""
    qs = selectors.prescriptions_for(user).select_related(
        "category", "diagnosis", "subdivision", "copied_from", "created_by", "doctor__subdivision",
    ).prefetch_related(Prefetch("status_changes", queryset=StatusChange.objects.select_related("user")))
    return get_for(qs, pk=pk)


def program_by_id(pk: int | None) -> Program | None:
    return Program.objects.filter(pk=pk).first() if pk else None


def drug_by_id(pk: int | None) -> StandardizedDrug | None:
    return StandardizedDrug.objects.select_related("inn", "route").filter(pk=pk).first() if pk else None


def package_of(drug: StandardizedDrug | None, pk: int | None) -> Package | None:
    """A package of this drug (a package of another drug is no choice for it)."""
    if drug is None or not pk:
        return None
    return Package.objects.select_related("trade_name", "pack_unit").filter(pk=pk, trade_name__drug=drug).first()


def drug_packages(drug: StandardizedDrug, *, on: date) -> list[Package]:
    """The trade-name packages a doctor may name (with a ВК protocol) for this drug on the day."""
    return list(Package.objects.valid_on(on).filter(trade_name__drug=drug)
                .select_related("trade_name", "pack_unit").order_by("trade_name__name", "pack_quantity", "pk"))


def program_diagnoses(program: Program | None, *, on: date) -> list[Diagnosis]:
    """The ICD-10 nodes a disease-based program lists (the form's hint list; the rules decide)."""
    if program is None:
        return []
    ids = ProgramDiagnosis.objects.valid_on(on).filter(program=program).values("diagnosis_id")
    return list(Diagnosis.objects.filter(pk__in=ids).order_by("code")[:500])


@dataclass
class PlaceStock:
    place: Organization
    lines: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.lot.quantity for line in self.lines)


def stock_by_place(*, organization: Organization, drug: StandardizedDrug, day: date,
                   package: Package | None = None) -> list[PlaceStock]:
    """Every pharmacy attached to the MO — those without the drug too — with its free lots of the
    drug (or of the chosen package), by trade name and earliest expiry."""
    places = {p.pk: PlaceStock(p) for p in selectors.attached_points(organization, on=day)}
    for line in selectors.stock_for_prescribing(organization=organization, drug=drug, day=day, package=package):
        places[line.place.pk].lines.append(line)
    for entry in places.values():
        entry.lines.sort(key=lambda line: (line.package.trade_name.name, line.lot.expiry, line.lot.series))
    return sorted(places.values(), key=lambda entry: (entry.total == 0, entry.place.short_name))
