from datetime import date

from django import template
from django.utils import timezone

from registry.snils import format_snils

register = template.Library()


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


@register.filter
def snils(value: str | None) -> str:
    """11 digits → «123-456-789 01»; none → «—»."""
    return format_snils(value) if value else "—"


@register.filter
def age(birth: date | None, on: date | None = None) -> str:
    """Full years on `on` (today): «76 лет», «1 год», «3 месяца» for a baby."""
    if birth is None:
        return ""
    on = on or timezone.localdate()
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    if months < 12:
        return f"{months} {_plural(months, 'месяц', 'месяца', 'месяцев')}"
    years = months // 12
    return f"{years} {_plural(years, 'год', 'года', 'лет')}"
