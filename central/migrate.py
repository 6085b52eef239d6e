"""Run the Alembic migrations from the installed package (no alembic.ini in the cwd)."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: pg_advisory_xact_lock key: instances starting together migrate one after another
MIGRATION_LOCK_KEY = 0x526F6F6D4F7073   # "RoomOps"

#: Packages added later that keep their own tables on the shared ``Base`` (absent is fine).
OPTIONAL_MODEL_MODULES = ("central.reports.models", "central.web.models", "central.models.retention")


def load_all_models() -> None:
    """Register every table on ``Base.metadata`` (for autogenerate and the schema check)."""
    importlib.import_module("central.models")
    for name in OPTIONAL_MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to ``revision``; on PostgreSQL under an advisory lock held until the migration's
    transaction ends, so of several instances starting at once one migrates and the others then
    find the schema at head."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def revision(engine: Engine, message: str) -> None:
    """Developer helper: autogenerate a new revision against a database at head."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
