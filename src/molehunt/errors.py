"""One error hierarchy for the whole package.

Every error says *where* (a file and line, a field, a setting) so that the CLI can print one
clear line. Bad input *rows* are never errors: they are quarantined (see
:mod:`molehunt.schema.quarantine`). Errors are for problems that stop a whole step.
"""

from __future__ import annotations


class MolehuntError(Exception):
    """Base of every error molehunt raises on purpose.

    >>> str(MolehuntError("no such file", where="/data/logon.csv"))
    '/data/logon.csv: no such file'
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigError(MolehuntError):
    """A setting is missing, malformed or contradicts another one."""


class SourceError(MolehuntError):
    """An input file cannot be read at all: missing, unreadable, or of an unknown layout."""


class SchemaError(MolehuntError):
    """A table does not have the columns or types its schema requires."""


class StoreError(MolehuntError):
    """The workspace or event store is unusable (locked, corrupt, wrong version)."""


class DetectorError(MolehuntError):
    """A detector was configured wrongly or lacks the tables it requires."""


class ContentError(MolehuntError):
    """A document cannot be read or classified, or the protected corpus is unusable."""
