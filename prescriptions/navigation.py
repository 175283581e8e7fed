"""The prescriptions section of the sidebar (imported from `PrescriptionsConfig.ready()`)."""

from llo.navigation import Section, register

from .roles import PAGE_ROLES

register(Section(
    "prescriptions", "Рецепты", "prescriptions", PAGE_ROLES,
    "Льготные рецепты МО: выписка, печать, копирование и аннулирование; реестр рецептов, выписанных от руки.",
    order=11,
))
