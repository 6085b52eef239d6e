"""reports: the addresses each site's agent connected from (for the annual renewal section)

Revision ID: o17r
Revises: r0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "o17r"
down_revision = "s15"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_addresses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_agent_addresses_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_addresses")),
    )
    op.create_index(op.f("ix_agent_addresses_site_id"), "agent_addresses", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_addresses_site_id"), table_name="agent_addresses")
    op.drop_table("agent_addresses")
