"""Sensitivity: how sensitive what the person reads, and what leaves, is."""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import count

_READS = ("file_open", "file_write", "print")


def _aggregates(e: Any) -> dict[str, Any]:
    read = e.action.isin(_READS) & e.sensitivity.notnull()
    out = e.outbound & e.sensitivity.notnull()
    level = e.sensitivity.cast("float64")
    return {
        "sensitivity_read_max_1d": level.max(where=read),
        "sensitivity_read_mean_1d": level.mean(where=read),
        "sensitivity_out_max_1d": level.max(where=out),
        "sensitivity_out_mean_1d": level.mean(where=out),
        "events_out_sensitive_1d": count(e, where=out & (e.sensitivity >= 2)),
        "events_out_crown_jewel_1d": count(e, where=out & (e.sensitivity >= 4)),
    }


def _derive(inputs: Any) -> Any:
    """The distinct-document counts, from the labelled reads alone.

    A distinct count inside the one-pass aggregate over every enriched row makes the engine
    split that pass (DuckDB: a shared scan feeding a separate de-duplication per count), which
    cost more than all the other aggregates together; the reads are a small part of the rows.
    """
    e = inputs.enriched
    reads = e.filter(e.action.isin(_READS), e.sensitivity.notnull(), e.doc_id.notnull())
    return reads.group_by(reads.user_id, reads.day).aggregate(
        documents_read_1d=reads.doc_id.nunique(),
        documents_read_secret_1d=reads.doc_id.nunique(where=reads.sensitivity >= 3))


_LABELS = ("document_labels",)
#: Reads are file opens and writes (and prints, where there is a printing log).
_LABELLED_READS = ("file_access", "document_labels")

FAMILY = Family(
    name="sensitivity",
    title="Sensitivity of what is read and of what leaves",
    order=80,
    notes="An event's sensitivity is, in order: the label the source gives, the label of the "
          "document it touches (by id or path), a confidentiality marking at the head or "
          "foot of its content (CONFIDENTIAL, 机密, …). Content matching against the "
          "protected corpus adds more once it runs.",
    features=(
        Feature("documents_read_1d", "sensitivity", "documents",
                "Distinct labelled documents opened, written or printed.", baseline=True,
                observes=_LABELLED_READS),
        Feature("documents_read_secret_1d", "sensitivity", "documents",
                "Distinct documents of sensitivity 3 (secret) or 4 (crown jewel) opened, "
                "written or printed.", observes=_LABELLED_READS),
        Feature("sensitivity_read_max_1d", "sensitivity", "level",
                "Highest sensitivity among what was read; null when nothing labelled was "
                "read.", weekly="max", observes=_LABELLED_READS),
        Feature("sensitivity_read_mean_1d", "sensitivity", "level",
                "Mean sensitivity of labelled reads.", weekly="mean",
                observes=_LABELLED_READS),
        Feature("sensitivity_out_max_1d", "sensitivity", "level",
                "Highest sensitivity among what left the company; null when nothing "
                "labelled left.", weekly="max", baseline=True, observes=_LABELS),
        Feature("sensitivity_out_mean_1d", "sensitivity", "level",
                "Mean sensitivity of labelled outbound events.", weekly="mean",
                observes=_LABELS),
        Feature("events_out_sensitive_1d", "sensitivity", "events",
                "Outbound events carrying sensitivity 2 (confidential) or higher.",
                observes=_LABELS),
        Feature("events_out_crown_jewel_1d", "sensitivity", "events",
                "Outbound events carrying sensitivity 4 (crown jewel).", observes=_LABELS),
    ),
    aggregates=_aggregates,
    derive=_derive,
)
