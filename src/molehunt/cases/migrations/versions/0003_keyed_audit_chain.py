"""The audit chain becomes keyed: record where the switch-over happens.

Revision ID: 0003
Revises: 0002

Entries written before this revision keep their plain SHA-256 hashes (they cannot be rehashed:
the log is append-only, and rewriting it is what the chain exists to catch). Every entry from
``audit_keyed_from`` on is hashed with HMAC-SHA256 under the audit key (issue 19, item 3;
:mod:`molehunt.cases.audit`). The sequence number is stored in ``console_settings`` and, once
the console or ``molehunt audit checkpoint`` has run, in every signed checkpoint, which is
what ``molehunt audit verify`` trusts: a database edit of the setting is reported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

SETTING = "audit_keyed_from"


def upgrade() -> None:
    """Apply this revision."""
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT 1 FROM console_settings WHERE key = :key"),
                          {"key": SETTING}).first() is None:
        newest = connection.execute(sa.text("SELECT max(seq) FROM audit_log")).scalar()
        connection.execute(sa.text("INSERT INTO console_settings (key, value) VALUES"
                                   " (:key, :value)"),
                           {"key": SETTING, "value": str((newest or 0) + 1)})


def downgrade() -> None:
    """Revert this revision (keyed entries then no longer verify under the old code)."""
    op.get_bind().execute(sa.text("DELETE FROM console_settings WHERE key = :key"),
                          {"key": SETTING})
