"""CERT ``decoy_file.csv`` (r5.x, r6.x): decoy files planted on PCs.

``decoy_filename,pc``. Touching a decoy is a strong signal for the detectors; the list is kept
as its own table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources.base import Check, FileLayout, SqlContext


class CertDecoy(FileLayout):
    """CERT decoy_file.csv."""

    name = "cert.decoy"
    target = "decoys"
    columns: ClassVar[Mapping[str, str]] = {"decoy_filename": "VARCHAR", "pc": "VARCHAR"}
    order = 3
    usual_stem = "decoy_file"

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """File name and the PC it was planted on."""
        return {"decoy_filename": "trim(decoy_filename)", "pc": "trim(pc)"}

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """Both fields are required."""
        return [
            Check("coalesce(trim(decoy_filename), '') = '' OR coalesce(trim(pc), '') = ''",
                  "empty field")
        ]
