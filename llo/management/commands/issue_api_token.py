from django.core.management.base import BaseCommand, CommandError

from llo.audit import audit_context
from llo.errors import ApplicationError
from llo.models import User
from llo.services import api_token_issue


class Command(BaseCommand):
    help = "Issue an API key for a MIS client account; the key is printed once and stored only as a digest."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the key is for, e.g. 'МИС «Ариадна», прод'")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}")
        try:
            with audit_context(source="issue_api_token"):
                token, key = api_token_issue(user=user, name=name)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Ключ для {user.username} ({user.organization}): {key}")
        self.stdout.write(f"Начало ключа: {token.prefix}. Сохраните ключ сейчас: система хранит только его хэш.")
