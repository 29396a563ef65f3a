"""Dependencies every route uses, as `Annotated` aliases:

- `DbConn`: a connection from the app's pool for this request, committed when the route returns
  normally and rolled back when it raises (so a failed write leaves no audit row either).
- `CurrentUser`: the logged-in user, from the `hw_session` cookie or an `Authorization: Bearer` token.
  Without one, API paths (`/api/...`) answer 401 and pages redirect to `/login?next=...`. Unsafe
  methods (POST, PUT, PATCH, DELETE) with a session cookie must carry the session's CSRF token, as the
  form field `csrf_token` or the header `X-CSRF-Token`; bearer-token requests need none.
- `require_roles(*roles)`: a dependency giving the user when their role is one of `roles`, else 403.
- `SiteDep`: the validated site config; `AuthDep`: its auth settings.
- `templates`: the shared Jinja environment; every page gets `user`, `csrf_token` and `nav`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote

import psycopg
from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates
from psycopg_pool import PoolClosed, PoolTimeout

from core.config import SiteConfig
from core.config.auth import AuthConfig
from monitor import i18n
from storage.auth.model import Role, User
from storage.auth.sessions import session_for, user_for_token

SESSION_COOKIE = "hw_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_ROLES = tuple(Role)


@dataclass(frozen=True)
class NavItem:
    """A link in the page header; a routes module may define `nav: list[NavItem]`."""

    label: str
    href: str
    roles: frozenset[Role] = field(default_factory=lambda: frozenset(Role))
    order: int = 50


def db_conn(request: Request) -> Iterator[psycopg.Connection]:
    try:
        with request.app.state.pool.connection(timeout=5.0) as conn:
            yield conn
    except (PoolTimeout, PoolClosed, psycopg.OperationalError):
        raise HTTPException(status_code=503, detail="database unavailable") from None
    except psycopg.DataError as exc:  # e.g. a NUL byte in text: the input is bad, not the server
        raise HTTPException(status_code=422, detail=f"invalid value: {exc.diag.message_primary}") from None


DbConn = Annotated[psycopg.Connection, Depends(db_conn, scope="function")]


def site_config(request: Request) -> SiteConfig:
    site: SiteConfig = request.app.state.site
    return site


SiteDep = Annotated[SiteConfig, Depends(site_config)]


def auth_settings(site: SiteDep) -> AuthConfig:
    return site.auth


AuthDep = Annotated[AuthConfig, Depends(auth_settings)]


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a state-changing request carries (header, or form field `csrf_token`)."""
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")  # starlette caches the parsed form for the route
        return value if isinstance(value, str) else None
    return None


def login_required(request: Request) -> HTTPException:
    if is_api(request):
        return HTTPException(status_code=401, detail="not authenticated",
                             headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(status_code=303, detail="login required",
                         headers={"Location": f"/login?next={quote(target, safe='')}"})


def current_user(request: Request, conn: DbConn,
                 csrf: Annotated[str | None, Depends(submitted_csrf)]) -> User:
    authorization = request.headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential:
        user = user_for_token(conn, credential.strip())
        if user is None:
            raise HTTPException(status_code=401, detail="invalid or expired token",
                                headers={"WWW-Authenticate": "Bearer"})
        request.state.credential = ("token", credential.strip())
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        session = session_for(conn, cookie) if cookie else None
        if session is None:
            raise login_required(request)
        # Compared as bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 403).
        if request.method not in SAFE_METHODS and not hmac.compare_digest((csrf or "").encode(),
                                                                          session.csrf_token.encode()):
            raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
        request.state.csrf_token = session.csrf_token
        user = session.user
        request.state.credential = ("session", cookie)
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_roles(*roles: Role) -> Callable[..., User]:
    """`Annotated[User, Depends(require_roles(Role.admin, Role.inspector))]`: 403 for other roles."""
    allowed = frozenset(roles)

    def check_role(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status_code=403, detail=f"role {user.role.value} may not do this")
        return user

    return check_role


def _page_context(request: Request) -> dict[str, Any]:
    user: User | None = getattr(request.state, "user", None)
    nav: list[NavItem] = getattr(request.app.state, "nav", [])
    return {
        "user": user,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "nav": [item for item in nav if user is not None and user.role in item.roles],
    }


templates = Jinja2Templates(directory=str(resources.files("monitor") / "templates"),
                            context_processors=[_page_context, i18n.page_context])
i18n.install(templates.env)
