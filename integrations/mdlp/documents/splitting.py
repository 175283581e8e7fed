"""The 25,000-item rule: how many items a document holds, and splitting a larger operation.

An item is one SGTIN or one SSCC (whatever the transport pack holds). 912 unit_unpack takes at most
1,500 SSCCs; 210 query_kiz_info asks about exactly one code.
"""

from __future__ import annotations

from dataclasses import replace

MAX_ITEMS = 25_000
MAX_UNPACK_SSCCS = 1_500


def item_count(doc) -> int:
    """SGTINs plus SSCCs the document lists (a 210 query counts as one)."""
    from .outgoing import QueryKizInfo

    if isinstance(doc, QueryKizInfo):
        return 1
    return len(getattr(doc, "sgtins", ())) + len(getattr(doc, "ssccs", ()))


def item_limit(doc) -> int:
    from .outgoing import QueryKizInfo, UnitUnpack

    if isinstance(doc, QueryKizInfo):
        return 1
    if isinstance(doc, UnitUnpack):
        return MAX_UNPACK_SSCCS
    return MAX_ITEMS


def split(doc, limit: int = MAX_ITEMS) -> list:
    """`doc` as documents of at most `limit` items each (and at most the scheme's own limit), in order:
    SGTINs first, then SSCCs; every part keeps the header (doc_num, dates, contract) of the whole.

    A 911 unit_pack that is too large becomes a 911 for the first part and 914 unit_append documents
    for the rest (the pack exists after the first one): send them in order, each after the previous
    one is accepted. A document within the limit comes back as the one-element list [doc]."""
    from .outgoing import UnitAppend, UnitPack

    if limit < 1:
        raise ValueError("limit must be positive")
    limit = min(limit, item_limit(doc))
    total = item_count(doc)
    if total <= limit:
        return [doc]
    sgtins = list(getattr(doc, "sgtins", ()))
    ssccs = list(getattr(doc, "ssccs", ()))
    n_sgtins = len(sgtins)
    parts = []
    for start in range(0, total, limit):
        end = min(start + limit, total)
        chunk_sgtins = sgtins[start:min(end, n_sgtins)] if start < n_sgtins else []
        chunk_ssccs = ssccs[max(start - n_sgtins, 0):max(end - n_sgtins, 0)]
        if hasattr(doc, "sgtins"):
            part = replace(doc, sgtins=chunk_sgtins, ssccs=chunk_ssccs)
        else:
            part = replace(doc, ssccs=chunk_ssccs)
        if isinstance(doc, UnitPack) and start > 0:
            part = UnitAppend(subject_id=doc.subject_id, operation_date=doc.operation_date, sscc=doc.sscc,
                              sgtins=chunk_sgtins, ssccs=chunk_ssccs)
        parts.append(part)
    return parts
