"""Scenes the browser tests build on the demo region: prescriptions a point has no stock for."""

from django.utils import timezone

from llo.models import Organization, Package, ProgramDrug
from llo.models.organizations import OrganizationKind as K
from prescriptions.demo import demo_prescription
from prescriptions.models import Prescription
from warehouse.reservations import free_stock


def prescriptions_without_stock(point: Organization, count: int) -> list[Prescription]:
    """`count` new issued prescriptions (one pack each) of drugs the point has no free stock of."""
    today = timezone.localdate()
    listed = set(ProgramDrug.objects.valid_on(today).filter(drug__control_list="").values_list("drug_id", flat=True))
    drug_of = dict(Package.objects.values_list("pk", "trade_name__drug_id"))
    stocked = {drug_of[lot.package_id] for lot in free_stock(place_ids=[point.pk], package_ids=list(drug_of),
                                                              today=today)}
    drugs, made = sorted(listed - stocked), []
    for mo in Organization.objects.filter(kind=K.MEDICAL_ORG).order_by("code"):
        while len(made) < count:
            rx = demo_prescription(mo=mo, drug_ids=drugs[len(made) % len(drugs):] + drugs[:len(made) % len(drugs)],
                                   quantity=1, key=f"test:no-stock:{point.pk}:{len(made)}",
                                   skip_persons=[p.person_id for p in made])
            if rx is None:
                break
            made.append(rx)
    return made
