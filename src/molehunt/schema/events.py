"""The events table: one row per activity, Parquet partitioned by ``day``.

Timestamps are naive UTC. ``event_id`` is the source's own id where it has one, else a
deterministic hash of the source name and the raw row, so re-reading a file yields the same ids.
"""

from __future__ import annotations

from types import MappingProxyType

#: Column name → SQL type, in storage order. ``day`` is the partition column.
EVENT_COLUMNS: MappingProxyType[str, str] = MappingProxyType(
    {
        "event_id": "VARCHAR",
        "ts": "TIMESTAMP",
        "day": "DATE",
        "user_id": "VARCHAR",
        "host": "VARCHAR",
        "source": "VARCHAR",
        "action": "VARCHAR",
        "channel": "VARCHAR",
        "object": "VARCHAR",
        "target": "VARCHAR",
        "domain": "VARCHAR",
        "bytes": "BIGINT",
        "n_attachments": "INTEGER",
        "content": "VARCHAR",
        "doc_id": "VARCHAR",
        "sensitivity": "TINYINT",
        "attrs": "VARCHAR",
    }
)

#: Actions molehunt's own sources emit. Other sources may add snake_case actions of their own.
ACTIONS: frozenset[str] = frozenset(
    {
        "logon",
        "logoff",
        "device_connect",
        "device_disconnect",
        "file_open",
        "file_write",
        "file_copy",
        "file_delete",
        "email_send",
        "email_view",
        "web_visit",
        "web_upload",
        "web_download",
        "print",
        "meeting",
        "badge",
    }
)

#: The closed set of channels: where an activity happened or where data went.
CHANNELS: frozenset[str] = frozenset(
    {
        "local",
        "removable_media",
        "network_share",
        "email_internal",
        "email_external",
        "webmail",
        "web",
        "cloud_storage",
        "printer",
        "meeting",
        "physical",
    }
)

#: Sensitivity labels, from public to crown jewel.
SENSITIVITY_LEVELS: MappingProxyType[int, str] = MappingProxyType(
    {0: "public", 1: "internal", 2: "confidential", 3: "secret", 4: "crown_jewel"}
)
