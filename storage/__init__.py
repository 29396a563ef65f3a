"""Storage: one PostgreSQL (embedded or external), numbered SQL migrations, and readable SQL per
domain: the timeseries the pipeline writes (`samples`, `writer`, `spool`), rollups and trends,
worker leases, users and the audit log (`auth/`), and the supervision records (`records/`).
The web app and the CLI use it; it imports neither."""

from storage.server import Database, open_database

__all__ = ["Database", "open_database"]
