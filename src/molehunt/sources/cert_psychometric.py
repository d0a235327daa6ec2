"""CERT ``psychometric.csv``: Big-Five scores per employee.

``employee_name,user_id,O,C,E,A,N``. Stored so that nothing is lost, and never used by any
feature or detector unless ``psychometric_enabled = true`` is set (privacy by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources.base import Check, FileLayout, SqlContext


class CertPsychometric(FileLayout):
    """CERT psychometric.csv (r4.x–r6.x)."""

    name = "cert.psychometric"
    target = "psychometric"
    columns: ClassVar[Mapping[str, str]] = {
        "employee_name": "VARCHAR",
        "user_id": "VARCHAR",
        "o": "INTEGER",
        "c": "INTEGER",
        "e": "INTEGER",
        "a": "INTEGER",
        "n": "INTEGER",
    }
    order = 2
    usual_stem = "psychometric"

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Scores as they are."""
        return {
            "user_id": "trim(user_id)",
            "employee_name": "trim(employee_name)",
            "o": "o",
            "c": "c",
            "e": "e",
            "a": "a",
            "n": "n",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """A user id is required."""
        return [Check("coalesce(trim(user_id), '') = ''", "empty user id")]
