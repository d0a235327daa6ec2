"""Activity volume: how much a person did, by kind of action."""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import count, total

_COUNTS = (
    ("events_1d", None, "All events of the person on the day, of every kind.", True),
    ("logons_1d", "logon", "Logons to any computer.", False),
    ("file_opens_1d", "file_open", "Files opened.", False),
    ("file_writes_1d", "file_write", "Files written or saved.", False),
    ("file_copies_1d", "file_copy", "Files copied (to any destination).", False),
    ("file_deletes_1d", "file_delete", "Files deleted.", False),
    ("emails_sent_1d", "email_send", "E-mails sent, to anyone.", False),
    ("emails_viewed_1d", "email_view", "E-mails received or opened.", False),
    ("web_visits_1d", "web_visit", "Web pages visited.", False),
    ("web_uploads_1d", "web_upload", "Uploads to web sites (forms, file uploads).", False),
    ("web_downloads_1d", "web_download", "Downloads from web sites.", False),
    ("meetings_1d", "meeting", "Meetings attended.", False),
)


def _aggregates(e: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, action, _, _ in _COUNTS:
        found[name] = count(e) if action is None else count(e, where=e.action == action)
    found["events_out_1d"] = count(e, where=e.outbound)
    found["bytes_out_1d"] = total(e.bytes, e.outbound)
    return found


FAMILY = Family(
    name="activity",
    title="Activity volume",
    order=10,
    features=(
        *(Feature(name, "activity", "events", text, baseline=baseline)
          for name, _, text, baseline in _COUNTS),
        Feature("events_out_1d", "activity", "events",
                "Events that sent data out of the company: e-mail to outside or personal "
                "addresses, web uploads, files copied or written to removable media, "
                "printing.", baseline=True),
        Feature("bytes_out_1d", "activity", "bytes",
                "Bytes of those outbound events where the log says how many (e-mail size, "
                "printed document size; uploads and copies often do not say).",
                baseline=True),
    ),
    aggregates=_aggregates,
)
