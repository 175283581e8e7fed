"""The pharmacy's part of the demo region, seeded after the prescriptions (`prescriptions/demo.py`):

- the prescriptions left issued for it are **dispensed** at an attached point through
  `dispensation_create`, scanning real packs in stock there (a shipment from the regional warehouse
  first when the point has too few), or put on **deferred service** through `prescription_defer` at an
  attached point that lacks the drug;
- one deferral is **served by an arrival**: a shipment of its drug from the warehouse, received at the
  point, publishes `warehouse.stock_arrived`; its handler's work (`deferrals_serve_arrivals`) is done
  here at once — the outbox is only dispatched by the worker — so the prescription is reserved and its
  patient has a `Notification`;
- a **desk try-out set** for each point's pharmacist: open prescriptions (`DESK_QUANTITIES` packs)
  matching packs in stock there, kept apart from everything above, and for the first of them a pack of
  another drug, the pack of the recalled series there (`warehouse/demo.py` delivers one to every
  point; the first prescription is of its drug when a patient may have it) and a pack at another
  pharmacy. Images under `var/demo-codes/desk/<login>/RX-<series>-<number>/`: the packs' DataMatrix,
  the prescription's barcode as printed on its form, the patient's QR; a `README.txt` says what each
  is for.

Idempotent: nothing is done once a desk prescription exists, nor when the prescriptions seeder has
left nothing for the pharmacy. Everything goes through the services.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from llo.audit import audit_context
from llo.barcodes import datamatrix_available, encode_datamatrix, prescription_label
from llo.demo import DEMO_PASSWORD
from llo.errors import ApplicationError
from llo.models import Organization, Package, Role, User
from llo.models.organizations import OrganizationKind as K
from llo.selectors import current_attachments
from llo.validators import format_snils
from prescriptions.demo import TO_DEFER, TO_DISPENSE, demo_prescription
from prescriptions.models import Prescription, Status
from prescriptions.selectors import attached_points
from registry.patient_token import patient_qr_png, patient_token_issue
from warehouse.demo import pack_datamatrix, ship_to_point
from warehouse.models import MarkedPack, PackState, RecalledSeries
from warehouse.reservations import free_stock
from warehouse.shipments import Wanted

from .deferrals import ACTIVE, deferrals_serve_arrivals, package_ids_for, prescription_defer
from .dispensing import dispensation_create
from .models import Deferral

logger = logging.getLogger(__name__)
DESK_KEY = "demo:desk:"  # idempotency-key prefix of the desk try-out prescriptions
DESK_QUANTITIES = (2, 1)  # per point: a prescription of two packs and one of one
TOP_UP = 3  # packs a shipment brings when a point has too few
ANSWERS = {"wrong-pack": ("pack.mismatch", "упаковка другого препарата"),
           "recalled-pack": ("pack.recalled", "упаковка забракованной серии"),
           "other-pharmacy-pack": ("pack.not_available", "упаковка, которая числится в другой аптеке")}


@dataclass
class DeskPrescription:
    prescription: Prescription
    sgtins: list[str]


@dataclass
class DeskSet:
    user: User
    place: Organization
    prescriptions: list[DeskPrescription] = field(default_factory=list)
    extras: dict[str, str] = field(default_factory=dict)  # image name (ANSWERS) -> SGTIN


def seed_pharmacy() -> None:
    """The pharmacy's part of the demo (see the module's doc); the images after the commit."""
    if Prescription.objects.filter(idempotency_key__startswith=DESK_KEY).exists():
        return
    if not Prescription.objects.filter(idempotency_key__startswith="demo:").exists():
        return  # the prescriptions seeder did not run (or an older demo): nothing here is the pharmacy's
    mine = Prescription.objects.filter(status=Status.ISSUED).select_related("organization").order_by("pk")
    with transaction.atomic(), audit_context(source="seed_demo"):
        clerk = (User.objects.filter(role=Role.WAREHOUSE_CLERK, organization__kind=K.REGIONAL_WAREHOUSE)
                 .select_related("organization").order_by("pk").first())
        # deferrals first: the points' stock as the prescriptions seeder saw it when choosing the drugs
        deferrals = [d for d in (_defer(rx) for rx in mine.filter(idempotency_key__startswith=TO_DEFER)) if d]
        for rx in mine.filter(idempotency_key__startswith=TO_DISPENSE):
            _dispense(rx, clerk)
        _serve_by_arrival(deferrals, clerk)
        sets = _desk_sets(clerk)
    write_desk_codes(sets)


def pharmacist_at(point: Organization) -> User | None:
    return User.objects.filter(organization=point, role=Role.PHARMACIST, is_active=True).order_by("pk").first()


def _marked(package_ids: list[int]) -> list[int]:
    return list(Package.objects.filter(pk__in=package_ids, is_marked=True).values_list("pk", flat=True))


def _free_packs(point: Organization, package_ids: list[int], *,
                taken: set[str] = frozenset()) -> list[tuple[int, list[str]]]:
    """(package, SGTINs) per lot that may be taken at the point — as many packs as are free there (the
    balance minus others' holds, minus the packs already `taken` for something else), earliest expiry
    first."""
    today, lots = timezone.localdate(), []
    for lot in free_stock(place_ids=[point.pk], package_ids=_marked(package_ids), today=today):
        sgtins = list(MarkedPack.objects.filter(place=point, package_id=lot.package_id, series=lot.series,
                                                state=PackState.IN_STOCK).order_by("sgtin")
                      .values_list("sgtin", flat=True))
        left = lot.quantity - sum(1 for sgtin in sgtins if sgtin in taken)
        sgtins = [sgtin for sgtin in sgtins if sgtin not in taken][:max(left, 0)]
        if sgtins:
            lots.append((lot.package_id, sgtins))
    return lots


def _top_up(clerk: User, point: Organization, package_ids: list[int], quantity: int) -> bool:
    """Ship `quantity` packs of the package the warehouse has most of to the point."""
    lots = free_stock(place_ids=[clerk.organization_id], package_ids=_marked(package_ids), today=timezone.localdate())
    have = Counter()
    for lot in lots:
        have[lot.package_id] += lot.quantity
    best = max(have, key=lambda pk: (have[pk], -pk), default=None)
    if best is None or have[best] < quantity:
        return False
    ship_to_point(clerk, point, [Wanted(Package.objects.get(pk=best), quantity)])
    logger.info("Demo shipment to %s: %s packs of package %s", point, quantity, best)
    return True


def _waiting(point: Organization) -> set[int]:
    """Drugs that active deferrals at the point wait for: stock of them arriving would be theirs."""
    return set(Deferral.objects.filter(place=point, status__in=ACTIVE).values_list("prescription__drug_id", flat=True))


def _defer(rx: Prescription):
    today = timezone.localdate()
    packages = package_ids_for(rx, today=today)
    for point in attached_points(rx.organization, on=today):
        user = pharmacist_at(point)
        free = sum(lot.quantity for lot in free_stock(place_ids=[point.pk], package_ids=packages, today=today))
        if user is None or free >= rx.quantity:
            continue
        stores = list(Organization.objects.filter(kind=K.REGIONAL_WAREHOUSE).values_list("pk", flat=True))
        purchase = not free_stock(place_ids=stores, package_ids=packages, today=today)  # nobody has it: to buy
        try:
            return prescription_defer(user=user, prescription=rx, place=point, purchase=purchase)
        except ApplicationError as exc:  # the demo goes on without it (nothing was written)
            logger.warning("demo prescription %s not deferred: %s %s", rx.pk, exc.code, exc.message)
            return None
    logger.warning("demo prescription %s not deferred: every attached point has its drug", rx.pk)
    return None


def _dispense(rx: Prescription, clerk: User | None) -> None:
    today = timezone.localdate()
    packages = package_ids_for(rx, today=today)
    points = [p for p in attached_points(rx.organization, on=today) if pharmacist_at(p)]
    for attempt in range(2):
        for point in points:
            lot = next((lot for _, lot in _free_packs(point, packages) if len(lot) >= rx.quantity), None)
            if lot:
                try:
                    dispensation_create(user=pharmacist_at(point), prescription=rx, place=point,
                                        codes=[pack_datamatrix(sgtin) for sgtin in lot[:rx.quantity]])
                except ApplicationError as exc:  # the demo goes on without it (nothing was written)
                    logger.warning("demo prescription %s not dispensed: %s %s", rx.pk, exc.code, exc.message)
                return
        ready = [p for p in points if rx.drug_id not in _waiting(p)]
        if attempt or not clerk or not ready or not _top_up(clerk, ready[0], packages, max(TOP_UP, rx.quantity)):
            break
    logger.warning("demo prescription %s not dispensed: no stock of its drug at its pharmacies", rx.pk)


def _serve_by_arrival(deferrals: list[Deferral], clerk: User | None) -> None:
    """Ship the drug of one group of deferrals (one point, one drug) from the warehouse and serve them
    from it; a group whose MOs keep another deferred prescription, so that every MO still has one."""
    if clerk is None:
        return
    today = timezone.localdate()
    per_mo = Counter(d.prescription.organization_id for d in deferrals)
    groups = defaultdict(list)
    for deferral in deferrals:
        groups[(deferral.place_id, deferral.prescription.drug_id)].append(deferral)
    for (place_id, _drug), group in sorted(groups.items()):
        in_group = Counter(d.prescription.organization_id for d in group)
        if any(per_mo[mo] <= count for mo, count in in_group.items()):
            continue
        rx, place = group[0].prescription, group[0].place
        packages = _marked(package_ids_for(rx, today=today))
        if _top_up(clerk, place, packages, sum(d.prescription.quantity for d in group)):
            deferrals_serve_arrivals(place_id=place_id, package_ids=packages)  # what the outbox handler does
            return
    logger.warning("no demo deferral could be served by an arrival: the warehouse has none of their drugs")


def _desk_sets(clerk: User | None) -> list[DeskSet]:
    today, taken, patients, sets = timezone.localdate(), set(), set(), []
    attachments = current_attachments(on=today).order_by("medical_org__code")
    for point in Organization.objects.filter(kind=K.DISPENSING_POINT, is_active=True).order_by("code"):
        user = pharmacist_at(point)
        mos = [a.medical_org for a in attachments if a.dispensing_point_id == point.pk]
        if user is None or not mos:
            continue
        desk, waiting = DeskSet(user=user, place=point), _waiting(point)
        for n, quantity in enumerate(DESK_QUANTITIES):
            item = _desk_prescription(desk, mos, waiting, n, quantity, taken, clerk, patients=patients,
                                      turn=len(sets) + n, prefer=_recalled_drugs(point) if n == 0 else [])
            if item is None:
                logger.warning("no desk try-out prescription of %s packs at %s", quantity, point)
                continue
            desk.prescriptions.append(item)
            taken.update(item.sgtins)
            patients.add(item.prescription.person_id)
        if desk.prescriptions:
            sets.append(desk)
    for desk in sets:  # after every set took its packs: the extras never take one of them
        _desk_extras(desk, taken)
    return sets


def _desk_prescription(desk: DeskSet, mos: list[Organization], waiting: set[int], n: int, quantity: int,
                       taken: set[str], clerk: User | None, *, patients: set[int], turn: int,
                       prefer: list[int]) -> DeskPrescription | None:
    """An open prescription for a patient of an MO attached to the point (none of the other sets'), of a
    drug with `quantity` free packs there in one series that nothing else has taken (`taken`); of a
    `prefer` drug if one fits (the first prescription: the drug of the recalled pack there)."""
    today, point = timezone.localdate(), desk.place
    used = {item.prescription.drug_id for item in desk.prescriptions}
    all_packages = dict(Package.objects.valid_on(today).filter(is_marked=True).values_list("pk", "trade_name__drug_id"))
    for attempt in range(2):
        free = defaultdict(list)  # drug -> its lots with enough packs
        for package_id, lot in _free_packs(point, list(all_packages), taken=taken):
            drug = all_packages[package_id]
            if len(lot) >= quantity and drug not in waiting | used:
                free[drug].append(lot)
        drugs = sorted(free)
        drugs = drugs[turn % len(drugs):] + drugs[:turn % len(drugs)] if drugs else []  # not all the same drug
        if attempt == 0 and clerk is not None and prefer and not set(prefer) & set(drugs):
            wanted = [pk for pk, drug in all_packages.items() if drug in prefer and drug not in waiting | used]
            if _top_up(clerk, point, wanted, quantity + TOP_UP):  # the preferred drug's stock ran out: ship more
                continue
        drugs = [d for d in prefer if d in drugs] + [d for d in drugs if d not in prefer]
        for mo in mos if drugs else ():
            rx = demo_prescription(mo=mo, drug_ids=drugs, quantity=quantity, key=f"{DESK_KEY}{desk.user.username}:{n}",
                                   skip_persons=sorted(patients))
            if rx:
                lot = max(free[rx.drug_id], key=len)
                return DeskPrescription(prescription=rx, sgtins=lot[:quantity])
        others = [pk for pk, drug in all_packages.items() if drug not in waiting | used]
        if attempt or clerk is None or not _top_up(clerk, point, others, quantity + TOP_UP):
            return None
    return None


def _desk_extras(desk: DeskSet, taken: set[str]) -> None:
    """For the point's first prescription: a pack of another drug in stock here, a pack of the recalled
    series here (when it is of the prescribed drug), a pack of the prescribed drug at another pharmacy —
    each answered red at the desk."""
    first = desk.prescriptions[0].prescription
    drugs = {item.prescription.drug_id for item in desk.prescriptions}
    recalled = RecalledSeries.objects.filter(package_id=OuterRef("package_id"), series=OuterRef("series"),
                                             is_active=True)
    packs = MarkedPack.objects.filter(state=PackState.IN_STOCK).exclude(sgtin__in=taken).annotate(
        recalled=Exists(recalled))
    here = packs.filter(place=desk.place)
    wrong = (here.filter(recalled=False).exclude(package__trade_name__drug_id__in=drugs)
             .order_by("expiry", "sgtin").values_list("sgtin", flat=True).first())
    bad = (here.filter(recalled=True, package__trade_name__drug_id=first.drug_id).order_by("sgtin")
           .values_list("sgtin", flat=True).first())
    other = (packs.filter(place__kind=K.DISPENSING_POINT, recalled=False, package__trade_name__drug_id=first.drug_id)
             .exclude(place=desk.place).order_by("place__code", "sgtin").values_list("sgtin", flat=True).first())
    for name, sgtin in (("wrong-pack", wrong), ("recalled-pack", bad), ("other-pharmacy-pack", other)):
        if sgtin:
            desk.extras[name] = sgtin
            taken.add(sgtin)


def _recalled_drugs(point: Organization) -> list[int]:
    """Drugs of which the point holds a pack of a recalled series (the warehouse demo delivers one)."""
    recalled = RecalledSeries.objects.filter(package_id=OuterRef("package_id"), series=OuterRef("series"),
                                             is_active=True)
    return sorted(set(MarkedPack.objects.filter(place=point, state=PackState.IN_STOCK).filter(Exists(recalled))
                      .values_list("package__trade_name__drug_id", flat=True)))


# ----------------------------------------------------------------------------- the images

def write_desk_codes(sets: list[DeskSet]) -> None:
    """var/demo-codes/desk/<login>/RX-<series>-<number>/{prescription,pack-N}.png (the point's first
    prescription also patient.png and the extras, answered red to it), README.txt. Without libdmtx only
    the patients' QR and the README are written."""
    directory = settings.VAR_DIR / "demo-codes" / "desk"
    if not sets:
        return
    shutil.rmtree(directory, ignore_errors=True)  # an older demo's codes would not match this database
    directory.mkdir(parents=True, exist_ok=True)
    images = datamatrix_available()
    if not images:
        logger.warning("libdmtx is not installed: the desk's DataMatrix images are not written (README.txt lists "
                       "the strings to type instead)")

    def save(path, payload: str, *, gs1: bool = True) -> None:
        if images:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_datamatrix(payload, gs1=gs1))

    lines = ["Пробный отпуск на кассе аптеки (демо-регион)", "",
             f"Войдите провизором пункта отпуска (пароль {DEMO_PASSWORD}), откройте «Отпуск» (/pharmacy/desk/),",
             "отсканируйте prescription.png (штрихкод рецепта, как на печатной форме) или patient.png (QR-код",
             "пациента), затем упаковки pack-1.png, pack-2.png … — каждая ответит зелёным, — и отпустите.",
             "Остальные картинки в папке первого рецепта пункта отвечают красным (откройте этот рецепт и",
             "отсканируйте их до отпуска). Без сканера строку под картинкой можно ввести в поле сканирования",
             "(<GS> — разделитель GS1).", ""]
    for desk in sets:
        folder = directory / desk.user.username
        lines.append(f"{desk.place.short_name} — вход {desk.user.username} ({desk.user.get_full_name() or 'провизор'})")
        for n, item in enumerate(desk.prescriptions):
            rx = item.prescription
            label = prescription_label(rx.series, rx.number)
            save(folder / label / "prescription.png", label, gs1=False)
            lines += [f"  {label}/  рецепт серия {rx.series} № {rx.number}",
                      f"    пациент: {rx.person.full_name}, СНИЛС {format_snils(rx.person.snils or '—')}",
                      f"    препарат: {rx.drug}, {rx.quantity} упак.",
                      f"    prescription.png  штрихкод рецепта: {label}"]
            if n == 0:
                (folder / label).mkdir(parents=True, exist_ok=True)
                (folder / label / "patient.png").write_bytes(patient_qr_png(person=rx.person))
                lines.append(f"    patient.png  QR-код пациента: {patient_token_issue(person=rx.person)}")
            for k, sgtin in enumerate(item.sgtins, start=1):
                save(folder / label / f"pack-{k}.png", pack_datamatrix(sgtin))
                lines.append(f"    pack-{k}.png  {_pack_line(sgtin)}")
            for name, sgtin in (desk.extras.items() if n == 0 else ()):  # red answers to this prescription
                save(folder / label / f"{name}.png", pack_datamatrix(sgtin))
                code, what = ANSWERS[name]
                lines.append(f"    {name}.png  {what}: ответ «{code}»\n      {_pack_line(sgtin)}")
        lines.append("")
    (directory / "README.txt").write_text("\n".join(lines), encoding="utf-8")
    logger.info("Desk try-out codes: %s", directory)


def _pack_line(sgtin: str) -> str:
    pack = MarkedPack.objects.select_related("package__trade_name").get(sgtin=sgtin)
    return (f"{pack.package}, серия {pack.series}, годен до {pack.expiry:%d.%m.%Y}\n"
            f"      {pack_datamatrix(sgtin).replace(chr(29), '<GS>')}")
