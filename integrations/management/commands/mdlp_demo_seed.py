"""`manage.py mdlp_demo_seed`: put the demo region's packs into the MDLP emulator (run by `make run`)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.mdlp.demo import seed_emulator


class Command(BaseCommand):
    help = "Заполнить реестр эмулятора МДЛП упаковками демонстрационного региона"

    def handle(self, *args, **options):
        if not settings.MDLP_BASE_URL:
            self.stdout.write("MDLP_BASE_URL не задан: эмулятор МДЛП не запущен")
            return
        outcome = seed_emulator()
        if outcome["skipped"]:
            self.stdout.write(f"Реестр эмулятора МДЛП уже заполнен ({outcome['packs']} упаковок)")
        else:
            self.stdout.write(f"В эмулятор МДЛП внесено упаковок: {outcome['packs']}, "
                              f"входящих накладных: {outcome['incoming']}")
