from datetime import date

from django import template
from django.utils import timezone

from llo.russian import plural
from registry.snils import format_snils

register = template.Library()


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
        return f"{months} {plural(months, 'месяц', 'месяца', 'месяцев')}"
    years = months // 12
    return f"{years} {plural(years, 'год', 'года', 'лет')}"
