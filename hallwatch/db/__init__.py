"""Storage: one PostgreSQL (embedded or external), numbered SQL migrations, readable SQL per domain."""

from hallwatch.db.server import Database, open_database

__all__ = ["Database", "open_database"]
