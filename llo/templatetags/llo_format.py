from datetime import timedelta

from django import template

register = template.Library()


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


@register.filter
def lockout_minutes(value: timedelta) -> str:
    """timedelta(minutes=30) -> «30 минут»; rounds up to whole minutes."""
    minutes = max(1, -(-int(value.total_seconds()) // 60))
    return f"{minutes} {_plural(minutes, 'минуту', 'минуты', 'минут')}"
