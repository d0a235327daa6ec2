"""Web: visits, uploads and downloads by the category of the site."""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import count

_VISITED = {
    "job_board": "job boards and recruiters",
    "cloud_storage": "cloud storage and file-sharing services",
    "paste_leak": "paste sites and leak sites",
    "hacking_tools": "hacking-tool, keylogger and exploit sites",
    "expert_network": "expert networks and consulting intermediaries",
    "competitor": "competitors' sites",
    "webmail": "personal webmail",
}
_UPLOADED = {
    "cloud_storage": "cloud storage and file-sharing services",
    "paste_leak": "paste sites and leak sites",
    "webmail": "personal webmail",
}


def _aggregates(e: Any) -> dict[str, Any]:
    web = e.action.isin(("web_visit", "web_upload", "web_download"))
    found: dict[str, Any] = {
        f"visits_{c}_1d": count(e, where=web & (e.category == c)) for c in _VISITED
    }
    upload = e.action == "web_upload"
    for c in _UPLOADED:
        found[f"uploads_{c}_1d"] = count(e, where=upload & (e.category == c))
    found["uploads_other_1d"] = e.count(
        where=upload & (e.category.isnull() | ~e.category.isin(tuple(_UPLOADED))))
    found["downloads_hacking_tools_1d"] = e.count(
        where=(e.action == "web_download") & (e.category == "hacking_tools"))
    return found


FAMILY = Family(
    name="web",
    title="Web",
    order=60,
    notes="Categories come from the shipped domain list (see docs/domain-categories.md) "
          "extended by the workspace's files; subdomains count as their parent.",
    features=(
        *(Feature(f"visits_{c}_1d", "web", "events",
                  f"Page visits, uploads and downloads at {text}.",
                  baseline=c in {"job_board", "cloud_storage"}, observes=("web_visit",))
          for c, text in _VISITED.items()),
        *(Feature(f"uploads_{c}_1d", "web", "events", f"Uploads to {text}.",
                  baseline=c == "cloud_storage", observes=("web_direction",))
          for c, text in _UPLOADED.items()),
        Feature("uploads_other_1d", "web", "events",
                "Uploads to any other site (not cloud storage, paste or webmail).",
                observes=("web_direction",)),
        Feature("downloads_hacking_tools_1d", "web", "events",
                "Downloads from hacking-tool, keylogger and exploit sites.",
                observes=("web_direction",)),
    ),
    aggregates=_aggregates,
)
