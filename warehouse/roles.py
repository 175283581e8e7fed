"""Which roles use the stock pages and API, derived from `warehouse.documents` and `llo.roles`.

Clerks and pharmacists act at their own place; the ministry reads every place; other roles get 403.
"""

from llo.models import Role

from .documents import READ_ALL_ROLES, STOCK_ROLES

ACT_ROLES = STOCK_ROLES  # create documents, scan, post, count, receive
READ_ROLES = STOCK_ROLES | READ_ALL_ROLES  # documents, their pages, stock
STORAGE_ROLES = frozenset({Role.WAREHOUSE_CLERK})  # addresses, put-away, our SSCC boxes
INCOMING_ROLES = frozenset({Role.PHARMACIST})  # shipments travelling to the dispensing point
