"""The documents table: the company's own documents with their labels and text.

One row per document version known to molehunt (from a simulator's ``documents.jsonl``, a
document-management export or, later, ``molehunt protect add``). ``path`` is the path file
events carry in ``events.object``, so file activity joins to documents on it. ``sensitivity``
follows :data:`molehunt.schema.SENSITIVITY_LEVELS`; ``marking`` is the confidentiality marking
as written in the text (e.g. ``CONFIDENTIAL`` or ``商业秘密``).
"""

from __future__ import annotations

from types import MappingProxyType

DOCUMENT_COLUMNS: MappingProxyType[str, str] = MappingProxyType(
    {
        "doc_id": "VARCHAR",
        "path": "VARCHAR",
        "title": "VARCHAR",
        "project": "VARCHAR",
        "owner_id": "VARCHAR",
        "team": "VARCHAR",
        "department": "VARCHAR",
        "business_unit": "VARCHAR",
        "sensitivity": "TINYINT",
        "marking": "VARCHAR",
        "language": "VARCHAR",
        "created": "DATE",
        "text": "VARCHAR",
        "attrs": "VARCHAR",
    }
)
