"""HR events: hires, notices, departures, travel and declarations that give behaviour context."""

from __future__ import annotations

from types import MappingProxyType

HR_EVENT_COLUMNS: MappingProxyType[str, str] = MappingProxyType(
    {"user_id": "VARCHAR", "ts": "TIMESTAMP", "kind": "VARCHAR", "attrs": "VARCHAR"}
)

HR_EVENT_KINDS: frozenset[str] = frozenset(
    {
        "hire",
        "resignation_notice",
        "termination",
        "layoff",
        "performance_concern",
        # a review on its own (not a concern: every employee gets one); context for analysts
        "performance_review",
        "transfer",
        "travel",
        "outside_engagement_declared",
        "relationship_declared",
    }
)
