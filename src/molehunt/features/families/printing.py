"""Printing: what the person printed and when."""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import count, total

_PRINTS = ("printing",)


def _aggregates(e: Any) -> dict[str, Any]:
    printed = e.action == "print"
    return {
        "prints_1d": count(e, where=printed),
        "pages_printed_1d": total(e.pages, printed),
        "prints_off_hours_1d": count(e, where=printed & e.off_hours),
        "prints_sensitive_1d": count(e, where=printed & (e.sensitivity >= 2)),
    }


FAMILY = Family(
    name="printing",
    title="Printing",
    order=70,
    features=(
        Feature("prints_1d", "printing", "events", "Print jobs.", observes=_PRINTS),
        Feature("pages_printed_1d", "printing", "pages",
                "Pages printed, where the printer log records them.", observes=_PRINTS),
        Feature("prints_off_hours_1d", "printing", "events",
                "Print jobs after hours or on a weekend.", observes=_PRINTS),
        Feature("prints_sensitive_1d", "printing", "events",
                "Print jobs of documents of sensitivity 2 (confidential) or higher.",
                observes=(*_PRINTS, "document_labels")),
    ),
    aggregates=_aggregates,
)
