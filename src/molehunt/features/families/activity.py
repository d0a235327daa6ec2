"""Activity volume: how much a person did, by kind of action."""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import count, total

#: name, action counted, definition, baseline, the observation it rests on ("": none: copies
#: go to removable media or to shares, whichever the deployment sees)
_COUNTS = (
    ("events_1d", None, "All events of the person on the day, of every kind.", True, ""),
    ("logons_1d", "logon", "Logons to any computer.", False, "logon"),
    ("file_opens_1d", "file_open", "Files opened.", False, "file_access"),
    ("file_writes_1d", "file_write", "Files written or saved.", False, "file_access"),
    ("file_copies_1d", "file_copy", "Files copied (to any destination).", False, ""),
    ("file_deletes_1d", "file_delete", "Files deleted.", False, "file_access"),
    ("emails_sent_1d", "email_send", "E-mails sent, to anyone.", False, "email_sent"),
    ("emails_viewed_1d", "email_view", "E-mails received or opened.", False,
     "email_received"),
    ("web_visits_1d", "web_visit", "Web pages visited.", False, "web_visit"),
    ("web_uploads_1d", "web_upload", "Uploads to web sites (forms, file uploads).", False,
     "web_direction"),
    ("web_downloads_1d", "web_download", "Downloads from web sites.", False,
     "web_direction"),
    ("meetings_1d", "meeting", "Meetings attended.", False, "meetings"),
)


def _aggregates(e: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, action, _, _, _ in _COUNTS:
        found[name] = count(e) if action is None else count(e, where=e.action == action)
    found["events_out_1d"] = count(e, where=e.outbound)
    found["bytes_out_1d"] = total(e.bytes, e.outbound)
    return found


FAMILY = Family(
    name="activity",
    title="Activity volume",
    order=10,
    features=(
        *(Feature(name, "activity", "events", text, baseline=baseline,
                  observes=(observed,) if observed else ())
          for name, _, text, baseline, observed in _COUNTS),
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
