"""API tokens expire and carry scopes; accounts get a normalised login key.

Revision ID: 0002
Revises: 0001

Existing tokens keep working: they get both scopes (what they could do before) and expire
90 days after this upgrade, not at once. Existing accounts keep their user names; each gets
``username_key`` (NFKC, case-folded) unless its name mixes scripts or another account shares
the key (it goes to the account spelt in normal form, else the oldest). An account without a
key keeps signing in with its exact old name, and no new account can take a name that
normalises to a taken key (issue 19, item 5).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from molehunt.cases.accounts import InputError, canonical_username

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

#: how long tokens made before this revision stay valid after the upgrade
GRACE = dt.timedelta(days=90)


def upgrade() -> None:
    """Apply this revision."""
    # plain ADD COLUMN and a unique index: no table rebuild, which SQLite would refuse for
    # accounts (other tables' rows refer to it)
    op.add_column('api_tokens', sa.Column('expires_at', sa.DateTime(), nullable=True))
    op.add_column('api_tokens', sa.Column('scopes', sa.String(length=64), nullable=False,
                                          server_default='read write'))
    op.add_column('accounts', sa.Column('username_key', sa.String(length=64), nullable=True))
    op.create_index('uq_accounts_username_key', 'accounts', ['username_key'], unique=True)
    connection = op.get_bind()
    until = dt.datetime.now(dt.UTC).replace(tzinfo=None) + GRACE
    connection.execute(sa.text("UPDATE api_tokens SET expires_at = :until"
                               " WHERE expires_at IS NULL"), {"until": until})
    owners: dict[str, tuple[int, str]] = {}
    for account_id, username in connection.execute(
            sa.text("SELECT id, username FROM accounts ORDER BY id")).all():
        try:
            key = canonical_username(username)
        except InputError:
            continue  # mixed scripts or characters no longer allowed: exact name only
        # the key goes to the account already spelt that way ("admin" before "Admin"), else
        # to the oldest; the others sign in by their exact names
        if key not in owners or (username == key and owners[key][1] != key):
            owners[key] = (account_id, username)
    for key, (account_id, _) in owners.items():
        connection.execute(sa.text("UPDATE accounts SET username_key = :key WHERE id = :id"),
                           {"key": key, "id": account_id})


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('uq_accounts_username_key', table_name='accounts')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('username_key')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('scopes')
        batch_op.drop_column('expires_at')
