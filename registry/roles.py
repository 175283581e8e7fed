"""Which roles use the register's web pages, derived from `llo.roles` (the MIS works through the API)."""

from llo.roles import MO_ROLES, PERSON_READ_ROLES, REGISTER_ADMIN_ROLES, SFR_ROLES, WEB_ROLES

SEARCH_ROLES = PERSON_READ_ROLES & WEB_ROLES  # find a person, open the card, print form 030-Л/у
SUBMIT_ROLES = MO_ROLES & WEB_ROLES  # ask the ministry to include a patient
REQUEST_ROLES = SUBMIT_ROLES | REGISTER_ADMIN_ROLES  # see inclusion requests (an MO its own)
ADMIN_ROLES = REGISTER_ADMIN_ROLES  # change rights, decide requests, conflicts, duplicates

__all__ = ["ADMIN_ROLES", "REQUEST_ROLES", "SEARCH_ROLES", "SFR_ROLES", "SUBMIT_ROLES"]
