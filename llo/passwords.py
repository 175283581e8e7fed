from django.core.exceptions import ValidationError


class CharacterClassValidator:
    """A password needs letters and digits (the rest of the policy is Django's validators)."""

    def validate(self, password: str, user=None) -> None:
        if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
            raise ValidationError("Пароль должен содержать буквы и цифры.", code="password_classes")

    def get_help_text(self) -> str:
        return "Пароль должен содержать буквы и цифры."
