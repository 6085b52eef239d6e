"""scale: link ownership on sites, commands by (state, deadline), retention policy

Revision ID: s15
Revises: r0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "s15"
down_revision = "h16l"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("link_instance", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("link_generation", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_commands_state_deadline", "commands", ["state", "deadline"])
    op.create_table(
        "retention_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("messages_days", sa.Integer(), nullable=False),
        sa.Column("events_days", sa.Integer(), nullable=False),
        sa.Column("commands_days", sa.Integer(), nullable=False),
        sa.Column("audit_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policy")),
    )


def downgrade() -> None:
    op.drop_table("retention_policy")
    op.drop_index("ix_commands_state_deadline", table_name="commands")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("link_generation")
        batch.drop_column("link_instance")
