"""People and permissions: users, roles, geographic scopes, passwords, sessions, API tokens and the
append-only audit log."""
