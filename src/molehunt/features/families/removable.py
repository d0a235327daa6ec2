"""Removable media: devices connected and files moved to and from them."""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import count, total

_CONNECTS = ("removable_connect",)
_FILES = ("removable_files",)


def _aggregates(e: Any) -> dict[str, Any]:
    to_media = e.to_media & e.action.isin(("file_copy", "file_write"))
    return {
        "device_connects_1d": count(e, where=e.action == "device_connect"),
        "device_connects_off_hours_1d": e.count(
            where=(e.action == "device_connect") & e.off_hours),
        "files_to_removable_1d": count(e, where=to_media),
        "bytes_to_removable_1d": total(e.bytes, to_media),
        "files_to_removable_sensitive_1d": count(e, where=to_media & (e.sensitivity >= 2)),
        "files_from_removable_1d": count(e, where=e.from_media & ~e.to_media),
    }


FAMILY = Family(
    name="removable",
    title="Removable media",
    order=40,
    notes="`device_first_use_1d` (the first device the person ever connected) is in the "
          "novelty family.",
    features=(
        Feature("device_connects_1d", "removable", "events",
                "Removable devices (USB drives, phones, disks) connected.", baseline=True,
                observes=_CONNECTS),
        Feature("device_connects_off_hours_1d", "removable", "events",
                "Removable devices connected after hours or on a weekend.",
                observes=_CONNECTS),
        Feature("files_to_removable_1d", "removable", "events",
                "Files copied or written to removable media.", baseline=True,
                observes=_FILES),
        Feature("bytes_to_removable_1d", "removable", "bytes",
                "Bytes of files copied to removable media, where the log records a size.",
                observes=_FILES),
        Feature("files_to_removable_sensitive_1d", "removable", "events",
                "Files of sensitivity 2 (confidential) or higher copied to removable media.",
                observes=(*_FILES, "document_labels")),
        Feature("files_from_removable_1d", "removable", "events",
                "Files copied from removable media onto the computer (what comes in).",
                observes=_FILES),
    ),
    aggregates=_aggregates,
)
