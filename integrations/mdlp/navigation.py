"""The MDLP reconciliation's section of the sidebar (imported from `IntegrationsConfig.ready()`)."""

from llo.navigation import Section, register

from .selectors import PAGE_ROLES

register(Section(
    "mdlp_documents", "Сверка с МДЛП", "mdlp_documents", PAGE_ROLES,
    "Документы, отправленные в ФГИС МДЛП: принятые, отклонённые и неподтверждённые, причины отказа, что "
    "сделать, XML документа и повторная отправка.", order=60,
))


def _incoming_roles() -> frozenset:
    from warehouse.roles import ACT_ROLES

    return frozenset(ACT_ROLES)


register(Section(
    "mdlp_incoming", "Входящие накладные МДЛП", "mdlp_incoming", _incoming_roles(),
    "Накладные поставщиков (601) из ФГИС МДЛП для прямой приёмки: принять по накладной, отсканировать, "
    "отказаться от лишнего — МДЛП получит 701 и 252.", order=61,
))
