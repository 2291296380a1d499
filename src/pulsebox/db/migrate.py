"""Schema migrations (Alembic), run programmatically by ``pulsebox migrate`` and ``serve``.

To add a migration after changing ``pulsebox.models``:
``python -m pulsebox.db.migrate revision "what changed"`` (autogenerates against a scratch SQLite).
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from pulsebox.db.engine import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def state(db: Database) -> str:
    """``empty`` (brand-new database), ``current``, or ``outdated``."""
    revision = current(db)
    if revision is None:
        return "empty"
    return "current" if revision == head() else "outdated"


def upgrade(db: Database) -> None:
    config = _config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


if __name__ == "__main__" and sys.argv[1:2] == ["revision"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Database(f"sqlite:///{tmp}/scratch.db")
        upgrade(scratch)
        cfg = _config()
        with scratch.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message=" ".join(sys.argv[2:]) or "change", autogenerate=True)
