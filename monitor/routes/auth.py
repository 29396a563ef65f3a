"""Login and logout for the browser, bearer tokens for the API, users and the audit log for admins."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from monitor.deps import SESSION_COOKIE, AuthDep, CurrentUser, DbConn, NavItem, require_roles, templates
from monitor.i18n import LANG_COOKIE, LOCALES, N_, translate
from monitor.live.viewers import end_live_streams
from storage.auth.audit import audit, audit_rows
from storage.auth.model import Role, Scope, ScopeError, User
from storage.auth.sessions import LoginRefused, create_session, create_token, end_session, login, session_for
from storage.auth.users import (
    UserError,
    UserNotFound,
    UserRefused,
    count_users,
    create_user,
    list_tokens,
    list_users,
    revoke_tokens,
    set_active,
    set_locale,
)

router = APIRouter()
nav = [NavItem(N_("Users"), "/users", frozenset({Role.admin}), order=90),
       NavItem(N_("Audit"), "/audit", frozenset({Role.admin}), order=91)]
Admin = Annotated[User, Depends(require_roles(Role.admin))]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str) -> str:
    # Only same-site paths: never an open redirect to another host.
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, conn: DbConn, next: str = "/") -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html",
                                      {"next": _safe_next(next), "no_users": count_users(conn) == 0})


@router.post("/login", include_in_schema=False)
def login_submit(request: Request, conn: DbConn, config: AuthDep, name: Annotated[str, Form(max_length=64)],
                 password: Annotated[str, Form(max_length=1024)], next: Annotated[str, Form()] = "/") -> Response:
    try:
        user = login(conn, name=name, password=password, client=_client(request), config=config)
    except LoginRefused as exc:
        audit(conn, user=None, action="auth.login_failed", subject=f"user/{name}",
              details={"client": _client(request), "locked": exc.locked})
        conn.commit()  # the failure counts toward the lockout although the request fails
        return templates.TemplateResponse(request, "login.html",
                                          {"next": _safe_next(next), "error": translate(request, str(exc)),
                                           "name": name},
                                          status_code=429 if exc.locked else 401)
    session = create_session(conn, user=user, config=config)
    audit(conn, user=user, action="auth.login", subject=f"user/{user.id}", details={"client": _client(request)})
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session.token, max_age=int(config.session_hours * 3600), httponly=True,
                        samesite="lax", secure=config.secure_cookies, path="/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, conn: DbConn, user: CurrentUser) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(conn, token)
        end_live_streams(request.app, session_token=token, reason="sign-in ended")  # at once, not at the next check
    audit(conn, user=user, action="auth.logout", subject=f"user/{user.id}", details={})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language", include_in_schema=False)
def choose_language(request: Request, conn: DbConn, locale: Annotated[str, Form(max_length=10)],
                    csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The language switch in every page's header: remembered for the signed-in user (after the CSRF
    check their session demands) and in a cookie, so the login page follows it too."""
    if locale not in LOCALES:
        raise HTTPException(status_code=422, detail="unknown language")
    cookie = request.cookies.get(SESSION_COOKIE)
    session = session_for(conn, cookie) if cookie else None
    if session is not None:
        if not hmac.compare_digest(csrf_token.encode(), session.csrf_token.encode()):
            raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
        set_locale(conn, user=session.user, locale=locale)
    back = urlsplit(request.headers.get("referer", "/"))
    # Back to the same page with its query: a wall display's settings live in it (/center?rotate=60).
    path = (back.path or "/") + (f"?{back.query}" if back.query else "")
    response = RedirectResponse(_safe_next(path), status_code=303)
    response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, httponly=True, samesite="lax", path="/")
    return response


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    label: str = Field(default="", max_length=100)
    days: float | None = Field(default=None, gt=0, le=3650)


class TokenPublic(BaseModel):
    token: str
    token_type: str = "bearer"
    user: str
    role: Role
    scope: str


@router.post("/api/v1/auth/token", tags=["auth"], responses={401: {}, 429: {}})
def issue_token(request: Request, body: TokenRequest, conn: DbConn, config: AuthDep) -> TokenPublic:
    """Exchange a name and password for a bearer token (`Authorization: Bearer <token>`)."""
    try:
        user = login(conn, name=body.name, password=body.password, client=_client(request), config=config)
    except LoginRefused as exc:
        audit(conn, user=None, action="auth.token_failed", subject=f"user/{body.name}",
              details={"client": _client(request), "locked": exc.locked})
        conn.commit()
        raise HTTPException(status_code=429 if exc.locked else 401, detail=str(exc)) from None
    token = create_token(conn, user=user, label=body.label, config=config, days=body.days)
    audit(conn, user=user, action="auth.token_issued", subject=f"user/{user.id}", details={"label": body.label})
    return TokenPublic(token=token, user=user.name, role=user.role, scope=user.scope.path)


class UserPublic(BaseModel):
    id: int
    name: str
    role: Role
    scope: str
    active: bool

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(id=user.id, name=user.name, role=user.role, scope=user.scope.path, active=user.active)


class UserCreate(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    role: Role
    scope: str = Field(pattern=r"^(province|city/[a-z0-9][a-z0-9_-]{0,62}|hall/[a-z0-9][a-z0-9_-]{0,62})$",
                       description="province, city/<city_id> or hall/<hall_id>")
    password: str = Field(min_length=8, max_length=1024)


@router.get("/api/v1/me", tags=["auth"])
def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)


@router.get("/api/v1/users", tags=["auth"])
def read_users(conn: DbConn, admin: Admin) -> list[UserPublic]:
    """The users inside the admin's scope."""
    return [UserPublic.of(u) for u in list_users(conn, by=admin)]


@router.post("/api/v1/users", tags=["auth"], status_code=201, responses={403: {}, 409: {}})
def create_user_api(body: UserCreate, conn: DbConn, admin: Admin) -> UserPublic:
    """A new user, whose scope must lie inside the admin's own (403 otherwise)."""
    try:
        user = create_user(conn, name=body.name, role=body.role, scope=Scope.parse(body.scope),
                           password=body.password, by=admin)
    except UserRefused as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None
    except (UserError, ScopeError) as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    audit(conn, user=admin, action="user.create", subject=f"user/{user.id}",
          details={"name": user.name, "role": user.role.value, "scope": user.scope.path})
    return UserPublic.of(user)


UserName = Annotated[str, PathParam(max_length=64)]


@router.post("/api/v1/users/{name}/disable", tags=["auth"], responses={404: {}})
def disable_user_api(request: Request, name: UserName, conn: DbConn, admin: Admin) -> UserPublic:
    """Disable a user inside the admin's scope (404 for anyone else), ending their sessions, tokens and live
    streams."""
    try:
        user = set_active(conn, name=name, active=False, by=admin)
    except UserNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    end_live_streams(request.app, user_id=user.id, reason="user disabled")
    audit(conn, user=admin, action="user.disable", subject=f"user/{user.id}", details={"name": name})
    return UserPublic.of(user)


class ApiTokenPublic(BaseModel):
    id: int
    label: str
    created_at: datetime
    expires_at: datetime
    revoked: bool
    expired: bool


class TokenRevoke(BaseModel):
    id: int | None = Field(default=None, ge=1, le=2**62, description="the token to revoke; none: every one")


class TokensRevoked(BaseModel):
    revoked: list[int]


@router.get("/api/v1/users/{name}/tokens", tags=["auth"], responses={404: {}})
def read_user_tokens(name: UserName, conn: DbConn, admin: Admin) -> list[ApiTokenPublic]:
    """The API tokens of a user inside the admin's scope (404 for anyone else); never their secrets."""
    try:
        return [ApiTokenPublic(**row) for row in list_tokens(conn, name=name, by=admin)]
    except UserNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.post("/api/v1/users/{name}/tokens/revoke", tags=["auth"], responses={404: {}})
def revoke_user_tokens(name: UserName, conn: DbConn, admin: Admin, body: TokenRevoke | None = None) -> TokensRevoked:
    """Revoke one API token (`id`) or every one (no body) of a user inside the admin's scope (404 for anyone
    else)."""
    try:
        user, revoked = revoke_tokens(conn, name=name, by=admin, token_id=body.id if body else None)
    except UserNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    audit(conn, user=admin, action="auth.token_revoked", subject=f"user/{user.id}",
          details={"name": name, "tokens": revoked})
    return TokensRevoked(revoked=revoked)


class AuditPublic(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    user_name: str | None
    action: str
    subject: str
    details: dict[str, Any]


@router.get("/api/v1/audit", tags=["auth"])
def read_audit(conn: DbConn, admin: Admin, subject: Annotated[str | None, Query(max_length=200)] = None,
               action: Annotated[str | None, Query(max_length=100)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[AuditPublic]:
    """The newest audit rows about records the admin may see (a province admin: all)."""
    return [AuditPublic(**row) for row in audit_rows(conn, reader=admin, subject=subject, action=action, limit=limit,
                                                        offset=offset)]


@router.get("/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, conn: DbConn, admin: Admin) -> HTMLResponse:
    return templates.TemplateResponse(request, "users.html", {"users": list_users(conn, by=admin)})


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, conn: DbConn, admin: Admin,
               subject: Annotated[str | None, Query(max_length=200)] = None,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> HTMLResponse:
    rows = audit_rows(conn, reader=admin, subject=subject or None, limit=100, offset=offset)
    return templates.TemplateResponse(request, "audit.html", {"rows": rows, "subject": subject or "",
                                                              "offset": offset})
