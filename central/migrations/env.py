"""Alembic environment, driven programmatically by ``central.migrate`` (no alembic.ini needed)."""

from __future__ import annotations

from typing import Any

from alembic import context

import central.reports.models  # noqa: F401  (the reports' own tables, so autogenerate sees them)
from central.migrate import load_all_models
from central.models import Base, UTCDateTime

load_all_models()
config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations stay plain SQLAlchemy: the UTC decorator is a DateTime(timezone=True) on disk.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,          # SQLite needs batch mode for ALTER
        render_item=_render_item,
        compare_type=True,
        **kwargs,
    )


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("central migrations run through central.migrate, which passes a connection")
if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
_configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
