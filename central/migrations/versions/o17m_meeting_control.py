"""meetings: auto-start flag, conflict override reason; per-site problem code, preparation, mute

Revision ID: o17m
Revises: r0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "o17m"
down_revision = "o17f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_start", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("meeting_sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("problem_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("preparation", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("muted", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meeting_sites", schema=None) as batch_op:
        batch_op.drop_column("muted")
        batch_op.drop_column("preparation")
        batch_op.drop_column("problem_code")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("override_reason")
        batch_op.drop_column("auto_start")
