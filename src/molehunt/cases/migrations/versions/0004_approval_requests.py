"""Changes that wait for a second person's approval (separation of duties).

Revision ID: 0004
Revises: 0003

One table, ``approval_requests``: allowlists beyond an alert's own evidence, switching the
reveal approval off and privileged accounts are filed here and applied only when a second
person approves (issue 19, item 4). A reveal request names the case it serves
(``reveal_requests.case_id``, empty for older requests). No existing row changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('approval_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('change', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('alert_id', sa.String(length=32), nullable=True),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('requester_client', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=True),
    sa.Column('approver_client', sa.String(length=64), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['approver_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['requester_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('approval_requests_by_status', 'approval_requests', ['status', 'id'],
                    unique=False)
    op.add_column('reveal_requests', sa.Column('case_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('reveal_requests', schema=None) as batch_op:
        batch_op.drop_column('case_id')
    op.drop_index('approval_requests_by_status', table_name='approval_requests')
    op.drop_table('approval_requests')
