from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from llo.models import Region
from registry.seeding import HISTORY_SEEDERS, seed_region


class Command(BaseCommand):
    help = ("Create N synthetic beneficiaries of the demo region (80 % through the Social Fund register files it "
            "also writes, for the import benchmark; the rest with regional rights) and attach them to its MOs.")

    def add_arguments(self, parser):
        parser.add_argument("--beneficiaries", type=int, required=True, help="how many persons")
        parser.add_argument("--out", type=Path, default=None, help="where to write C_REGO.DBF and C_REGL.DBF")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--region", default="99", help="the region's code (its MOs get the patients)")
        for name, (_, help_text) in HISTORY_SEEDERS.items():
            parser.add_argument(f"--{name}", type=int, default=0, help=help_text)

    def handle(self, *args, beneficiaries, out, seed, region, **options):
        if not settings.LLO_ALLOW_DEMO:
            raise CommandError("Synthetic data is disabled here (LLO_ALLOW_DEMO is false): never seed production.")
        if beneficiaries < 1:
            raise CommandError("--beneficiaries must be at least 1")
        if not Region.objects.filter(code=region).exists():
            raise CommandError(f"No region {region}: run seed_demo first (it creates the region, its MOs and programs)")
        out = out or settings.VAR_DIR / "seed-region"
        summary = seed_region(beneficiaries, directory=out, region_code=region, seed=seed)
        self.stdout.write(self.style.SUCCESS(
            f"Граждан: {summary.federal + summary.regional} (федеральный регистр {summary.federal}, региональные "
            f"{summary.regional}); прав: {summary.rights}. Файлы: {summary.files[0]}, {summary.files[1]}"))
        for name, (seeder, _) in HISTORY_SEEDERS.items():
            if options.get(name):
                self.stdout.write(self.style.SUCCESS(f"{name}: {seeder(options[name])}"))
