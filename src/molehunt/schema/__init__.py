"""The table contracts every stage relies on (DESIGN.md §4).

Each schema is an ordered mapping of column name to SQL type (DuckDB / Spark compatible) plus
the closed vocabularies that columns draw from. Stages validate against these, never against
ad-hoc column lists.
"""

from molehunt.schema.directory import DIRECTORY_COLUMNS, LDAP_SNAPSHOT_COLUMNS
from molehunt.schema.documents import DOCUMENT_COLUMNS
from molehunt.schema.events import ACTIONS, CHANNELS, EVENT_COLUMNS, SENSITIVITY_LEVELS
from molehunt.schema.hr_events import HR_EVENT_COLUMNS, HR_EVENT_KINDS
from molehunt.schema.quarantine import QUARANTINE_COLUMNS

__all__ = [
    "ACTIONS",
    "CHANNELS",
    "DIRECTORY_COLUMNS",
    "DOCUMENT_COLUMNS",
    "EVENT_COLUMNS",
    "HR_EVENT_COLUMNS",
    "HR_EVENT_KINDS",
    "LDAP_SNAPSHOT_COLUMNS",
    "QUARANTINE_COLUMNS",
    "SENSITIVITY_LEVELS",
]
