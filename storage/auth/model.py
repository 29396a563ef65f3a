"""Who a user is and what part of the geography they may see.

A scope is written as a path: `province` (everything), `city/<city_id>` or `hall/<hall_id>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from core.errors import BadValue
from core.i18n import N_

ScopeKind = Literal["province", "city", "hall"]
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Role(StrEnum):
    admin = "admin"
    center_operator = "center_operator"
    inspector = "inspector"
    manager = "manager"
    complaints_officer = "complaints_officer"
    hall_staff = "hall_staff"


# The one place that says who may see faces unblurred (evidence, live video).
ROLES_SEEING_FACES: frozenset[Role] = frozenset({Role.admin, Role.center_operator, Role.inspector})


class ScopeError(BadValue):
    """A scope path that is not `province`, `city/<id>` or `hall/<id>`."""


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    id: str | None = None  # None for the province

    @classmethod
    def parse(cls, path: str) -> Scope:
        """`province`, `city/cc` or `hall/cc-nanguan`."""
        text = path.strip().strip("/")
        if text == "province":
            return cls("province")
        kind, sep, ident = text.partition("/")
        if not sep or kind not in ("city", "hall") or not _ID.match(ident):
            raise ScopeError(N_("scope '%(scope)s': use province, city/<city_id> or hall/<hall_id>"), scope=path)
        return cls(kind, ident)  # type: ignore[arg-type]

    @property
    def path(self) -> str:
        return "province" if self.kind == "province" else f"{self.kind}/{self.id}"

    def allows(self, hall_id: str, city_id: str) -> bool:
        """Whether data of hall `hall_id` (in city `city_id`) is inside this scope."""
        if self.kind == "province":
            return True
        if self.kind == "city":
            return city_id == self.id
        return hall_id == self.id

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    scope: Scope
    active: bool = True
    locale: str | None = None  # None: the site's default

    @property
    def sees_faces(self) -> bool:
        return self.role in ROLES_SEEING_FACES

    def is_checked_hall(self, hall_id: str) -> bool:
        """Covert plans about `hall_id` must stay hidden from this user: hall staff anywhere, and anyone
        whose scope is that hall."""
        return self.role is Role.hall_staff or (self.scope.kind == "hall" and self.scope.id == hall_id)
