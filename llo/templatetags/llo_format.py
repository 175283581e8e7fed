from datetime import timedelta

from django import template

from llo.russian import plural

register = template.Library()


@register.filter
def lockout_minutes(value: timedelta) -> str:
    """timedelta(minutes=30) -> «30 минут»; rounds up to whole minutes."""
    minutes = max(1, -(-int(value.total_seconds()) // 60))
    return f"{minutes} {plural(minutes, 'минуту', 'минуты', 'минут')}"
