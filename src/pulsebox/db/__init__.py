"""Database access: the engine, the transaction wrapper and the schema migrations."""

from pulsebox.db.engine import Database

__all__ = ["Database"]
