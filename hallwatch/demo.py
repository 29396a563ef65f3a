"""The demo's login: on a database with no users, `hallwatch demo` creates an administrator with a
random password and keeps it in a file beside the database (readable by its owner only), so the
demo opens with a login that works and no password is ever built into the code."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.config import SiteConfig
from storage import open_database
from storage.auth.audit import audit
from storage.auth.model import Role, Scope
from storage.auth.users import count_users, create_user
from storage.samples import sync_site
from storage.server import default_data_dir

DEMO_USER = "admin"


def demo_login(site: SiteConfig, data_dir: Path | None) -> tuple[str, Path | None]:
    """The demo user's name and the file that holds its password (None: the database already had
    users, which the demo leaves alone)."""
    folder = data_dir or default_data_dir()
    secret = folder / "demo-login.txt"
    with open_database(data_dir=data_dir) as db, db.pool.connection() as conn:
        if count_users(conn) > 0:
            return DEMO_USER, secret if secret.exists() else None
        sync_site(conn, site)
        password = secrets.token_urlsafe(12)
        user = create_user(conn, name=DEMO_USER, role=Role.admin, scope=Scope.parse("province"), password=password)
        audit(conn, user=None, action="user.create", subject=f"user/{user.id}",
              details={"name": user.name, "role": user.role.value, "scope": "province", "via": "demo"})
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"{DEMO_USER}\n{password}\n")
    return DEMO_USER, secret
