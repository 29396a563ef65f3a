"""The users who act in the demo history, and the seeded random generators."""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass

import numpy as np
import psycopg

from core.config import SiteConfig
from storage.auth.audit import audit
from storage.auth.model import Role, Scope, User
from storage.auth.users import create_user

NAMES = ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周婷", "吴刚", "徐丽", "孙浩")


@dataclass(frozen=True)
class Cast:
    """The users who act in the history."""

    center: User
    inspector: User
    complaints: User
    city_manager: dict[str, User]
    hall_manager: dict[str, User]
    staff: dict[str, User]


def rng_for(seed: int, *key: object) -> np.random.Generator:
    """A generator of its own per subject, so that one subject's draws do not depend on another's."""
    return np.random.default_rng([seed, zlib.crc32("/".join(map(str, key)).encode())])


def make_cast(conn: psycopg.Connection, site: SiteConfig) -> Cast:
    """Users of every role the history needs, created as the demo's administrator is (by the machine's
    operator), with random passwords nobody is told: an administrator resets one to log in as them."""
    def user(name: str, role: Role, scope: str) -> User:
        made = create_user(conn, name=name, role=role, scope=Scope.parse(scope), password=secrets.token_urlsafe(16))
        audit(conn, user=None, action="user.create", subject=f"user/{made.id}",
              details={"name": name, "role": role.value, "scope": scope, "via": "demo history", "demo": True})
        return made

    return Cast(
        center=user("demo-center", Role.center_operator, "province"),
        inspector=user("demo-inspector", Role.inspector, "province"),
        complaints=user("demo-complaints", Role.complaints_officer, "province"),
        city_manager={c.id: user(f"demo-manager-{c.id}", Role.manager, f"city/{c.id}") for c in site.cities},
        hall_manager={h.id: user(f"demo-manager-{h.id}", Role.manager, f"hall/{h.id}") for h in site.halls},
        staff={h.id: user(f"demo-staff-{h.id}", Role.hall_staff, f"hall/{h.id}") for h in site.halls},
    )
