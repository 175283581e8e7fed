"""Sections of the interface by role. Apps add theirs with `register()` in `AppConfig.ready()`."""

from dataclasses import dataclass

from django.urls import reverse

from .models import Role
from .roles import AUDIT_ROLES, OUTBOX_ROLES, WEB_ROLES


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    url_name: str
    roles: frozenset
    description: str
    order: int = 100

    @property
    def url(self) -> str:
        return reverse(self.url_name)


_SECTIONS: dict[str, Section] = {}


def register(section: Section) -> None:
    _SECTIONS[section.key] = section


def sections_for(user) -> list[Section]:
    if not (user and user.is_authenticated):
        return []
    return sorted((s for s in _SECTIONS.values() if user.role in s.roles), key=lambda s: (s.order, s.title))


register(Section(
    "home", "Главная", "home", frozenset(Role), "Что доступно вашей роли.", order=0,
))
register(Section(
    "organizations", "Организации", "organization_list", WEB_ROLES,
    "Участники ЛЛО: МО, аптеки, склад, поставщики; реквизиты и прикрепления.", order=90,
))
register(Section(
    "outbox", "Очередь обмена", "outbox_list", OUTBOX_ROLES,
    "Сообщения во внешние системы: статус, ошибки, повторная отправка.", order=900,
))
register(Section(
    "audit", "Журнал изменений", "audit_recent", AUDIT_ROLES,
    "Кто, когда и что изменил в любом объекте системы.", order=910,
))
register(Section(
    "health", "Состояние системы", "system_status", frozenset({Role.SYSTEM_ADMIN}),
    "База данных, Redis, фоновые обработчики.", order=920,
))
register(Section(
    "api", "API для МИС", "api_docs", frozenset(Role),
    "Описание REST API (OpenAPI) для информационных систем МО.", order=950,
))
