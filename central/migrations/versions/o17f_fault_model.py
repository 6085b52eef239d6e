"""faults by reason code with linked symptoms, maintenance windows, observed-time spans

Revision ID: o17f
Revises: r0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "o17f"
down_revision = "o17r"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faults", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("symptoms", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("root_id", sa.Integer(), nullable=True))
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("command_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_maintenance_windows_site_id_sites"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_windows")),
    )
    with op.batch_alter_table("maintenance_windows", schema=None) as batch_op:
        for column in ("site_id", "device_id", "command_id", "ended_at"):
            batch_op.create_index(batch_op.f(f"ix_maintenance_windows_{column}"), [column], unique=False)
    for table, extra in (("device_state_spans", True), ("agent_link_spans", False)):
        columns = [
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("site_id", sa.String(length=64), nullable=False),
        ]
        if extra:
            columns += [sa.Column("device_id", sa.String(length=128), nullable=False),
                        sa.Column("up", sa.Boolean(), nullable=False)]
        columns += [sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
                    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True)]
        op.create_table(
            table, *columns,
            sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"),
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_site_id"), ["site_id"], unique=False)
            if extra:
                batch_op.create_index(batch_op.f(f"ix_{table}_device_id"), ["device_id"], unique=False)


def downgrade() -> None:
    op.drop_table("agent_link_spans")
    op.drop_table("device_state_spans")
    op.drop_table("maintenance_windows")
    with op.batch_alter_table("faults", schema=None) as batch_op:
        batch_op.drop_column("root_id")
        batch_op.drop_column("symptoms")
        batch_op.drop_column("code")
