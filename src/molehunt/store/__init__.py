"""The event store: a workspace of Parquet tables plus a manifest of what was ingested."""

from molehunt.store.workspace import Batch, FileRecord, Workspace

__all__ = ["Batch", "FileRecord", "Workspace"]
