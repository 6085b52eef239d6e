"""reports: inspection sign-offs, fault notes, recording checks, report settings

Revision ID: r0001
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inspection_signoffs",
        sa.Column("selftest_id", sa.String(length=64), nullable=False),
        sa.Column("remarks", sa.Text(), nullable=False),
        sa.Column("remarks_by", sa.String(length=64), nullable=True),
        sa.Column("remarks_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by", sa.String(length=64), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["selftest_id"], ["selftests.id"],
                                name=op.f("fk_inspection_signoffs_selftest_id_selftests"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("selftest_id", name=op.f("pk_inspection_signoffs")),
    )
    op.create_table(
        "fault_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["fault_id"], ["faults.id"], name=op.f("fk_fault_notes_fault_id_faults"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fault_notes")),
    )
    with op.batch_alter_table("fault_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fault_notes_fault_id"), ["fault_id"], unique=False)
    op.create_table(
        "recording_checks",
        sa.Column("recording_id", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=64), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("actual_sha256", sa.String(length=64), nullable=True),
        sa.Column("actual_size", sa.BigInteger(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["recording_id"], ["recordings.id"],
                                name=op.f("fk_recording_checks_recording_id_recordings"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_recording_checks")),
    )
    op.create_table(
        "report_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_settings")),
    )


def downgrade() -> None:
    op.drop_table("report_settings")
    op.drop_table("recording_checks")
    with op.batch_alter_table("fault_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fault_notes_fault_id"))
    op.drop_table("fault_notes")
    op.drop_table("inspection_signoffs")
