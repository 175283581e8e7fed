"""The MDLP reconciliation's section of the sidebar (imported from `IntegrationsConfig.ready()`)."""

from llo.navigation import Section, register

from .selectors import PAGE_ROLES

register(Section(
    "mdlp_documents", "Сверка с МДЛП", "mdlp_documents", PAGE_ROLES,
    "Документы, отправленные в ФГИС МДЛП: принятые, отклонённые и неподтверждённые, причины отказа, что "
    "сделать, XML документа и повторная отправка.", order=60,
))
