"""Need-to-know: reaching into documents and meetings of other units.

A document belongs to the department that owns it; a meeting to the department that holds
it. Reaching outside one's own department is normal in moderation; the signal is reaching far
more than people in the same role (the peer deviation columns).
"""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature


def _derive(inputs: Any) -> Any:
    e = inputs.enriched
    ctx = inputs.context.select(k_user=inputs.context.user_id, k_day=inputs.context.day,
                                home=inputs.context.department)
    reads = e.filter(e.action.isin(("file_open", "file_write", "print")),
                     e.doc_department.notnull())
    reads = reads.select(reads.user_id, reads.day, reads.doc_id, reads.doc_department,
                         reads.sensitivity).distinct()
    reads = reads.join(ctx, [reads.user_id == ctx.k_user, reads.day == ctx.k_day])
    away = reads.home.isnull() | (reads.doc_department != reads.home)
    documents = reads.group_by(reads.user_id, reads.day).aggregate(
        documents_read_other_unit_1d=reads.doc_id.nunique(where=away),
        documents_read_other_unit_sensitive_1d=reads.doc_id.nunique(
            where=away & (reads.sensitivity >= 2)),
    )
    meetings = e.filter(e.action == "meeting", e.meeting_department.notnull())
    meetings = meetings.join(ctx, [meetings.user_id == ctx.k_user, meetings.day == ctx.k_day])
    elsewhere = meetings.home.isnull() | (meetings.meeting_department != meetings.home)
    held = meetings.group_by(m_user=meetings.user_id, m_day=meetings.day).aggregate(
        meetings_other_unit_1d=meetings.count(where=elsewhere),
        meetings_closed_other_unit_1d=meetings.count(where=elsewhere & meetings.closed_door),
    )
    keys = inputs.user_days
    joined = keys.left_join(documents, [keys.user_id == documents.user_id,
                                        keys.day == documents.day])
    joined = joined.left_join(held, [keys.user_id == held.m_user, keys.day == held.m_day])
    names = ("documents_read_other_unit_1d", "documents_read_other_unit_sensitive_1d",
             "meetings_other_unit_1d", "meetings_closed_other_unit_1d")
    return joined.select(keys.user_id, keys.day,
                         **{n: joined[n].fill_null(0).cast("int64") for n in names})


#: Reads of documents whose owning department is known (the documents table, labels).
_READS = ("file_access", "document_labels")

FAMILY = Family(
    name="need_to_know",
    title="Need-to-know",
    order=90,
    features=(
        Feature("documents_read_other_unit_1d", "need_to_know", "documents",
                "Distinct documents owned by another department that the person opened, "
                "wrote or printed.", peers=True, observes=_READS),
        Feature("documents_read_other_unit_sensitive_1d", "need_to_know", "documents",
                "Of those, documents of sensitivity 2 (confidential) or higher.", peers=True,
                observes=_READS),
        Feature("meetings_other_unit_1d", "need_to_know", "events",
                "Meetings of another department the person attended.", peers=True,
                observes=("meetings",)),
        Feature("meetings_closed_other_unit_1d", "need_to_know", "events",
                "Closed-door meetings of another department the person attended.",
                peers=True, observes=("meetings",)),
    ),
    derive=_derive,
)
