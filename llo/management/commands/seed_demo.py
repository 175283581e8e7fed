import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from llo.demo import seed_demo


class Command(BaseCommand):
    help = "Create (or refresh) the demo region and print its logins; writes var/demo-credentials.json."

    def handle(self, *args, **options):
        if not settings.LLO_ALLOW_DEMO:
            raise CommandError("Demo data is disabled here (LLO_ALLOW_DEMO is false): never seed production.")
        credentials = seed_demo()
        path = settings.VAR_DIR / "demo-credentials.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(credentials.as_dict(), ensure_ascii=False, indent=2))
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS("Демо-регион готов. Входы:"))
        for u in credentials.users:
            self.stdout.write(f"  {u['username']:<12} {u['password']:<16} {u['role']:<17} {u['organization']}")
        for t in credentials.api_tokens:
            self.stdout.write(f"  API-ключ {t['username']} ({t['organization']}): {t['token']}")
        self.stdout.write(f"Сохранено в {path}")
        desk = settings.VAR_DIR / "demo-codes" / "desk"
        if (desk / "README.txt").exists():
            self.stdout.write(f"Пробный отпуск на кассе: штрихкоды рецептов и упаковок — {desk}/ (README.txt)")
