"""`hallwatch users add|list|disable|token`: user administration on the server.

These commands are run locally by the machine's operator, who holds the database itself, so they are not
confined to a scope: they call `storage.auth.users` with `by=None` (every user, any scope). Administrators
in the web app and the API are confined to their own scope (`by=admin`)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from core.errors import HallwatchError
from hallwatch.commands import data_dir_option

ROLES = ["admin", "center_operator", "inspector", "manager", "complaints_officer", "hall_staff"]


def register(commands: argparse._SubParsersAction) -> None:
    users = commands.add_parser("users", help="user administration")
    sub = users.add_subparsers(dest="users_command", required=True, metavar="USERS_COMMAND")

    add = sub.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--scope", required=True, help="province, city/<city_id> or hall/<hall_id>")
    add.add_argument("--site", type=Path, help="site file to mirror into the database first (so scopes exist)")
    data_dir_option(add)
    add.set_defaults(func=cmd_users_add)

    lst = sub.add_parser("list", help="list users")
    data_dir_option(lst)
    lst.set_defaults(func=cmd_users_list)

    disable = sub.add_parser("disable", help="disable a user and end their sessions and tokens")
    disable.add_argument("name")
    data_dir_option(disable)
    disable.set_defaults(func=cmd_users_disable)

    token = sub.add_parser("token", help="print a new API bearer token for a user")
    token.add_argument("name")
    token.add_argument("--label", default="cli")
    token.add_argument("--days", type=float, default=None)
    data_dir_option(token)
    token.set_defaults(func=cmd_users_token)



def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise HallwatchError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users_add(args: argparse.Namespace) -> int:
    from core.config import load_site
    from storage import open_database
    from storage.auth.audit import audit
    from storage.auth.model import Role, Scope, ScopeError
    from storage.auth.users import create_user
    from storage.samples import sync_site

    try:
        scope = Scope.parse(args.scope)
    except ScopeError as exc:
        raise HallwatchError(str(exc)) from None
    password = _read_password()
    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        if args.site:
            sync_site(conn, load_site(args.site))
        user = create_user(conn, name=args.name, role=Role(args.role), scope=scope, password=password)
        audit(conn, user=None, action="user.create", subject=f"user/{user.id}",
              details={"name": user.name, "role": user.role.value, "scope": scope.path, "via": "cli"})
    print(f"added {user.name} ({user.role.value}, {user.scope.path})")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from storage import open_database
    from storage.auth.users import list_users

    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        for user in list_users(conn, by=None):  # the operator: every user
            print(f"{user.name}\t{user.role.value}\t{user.scope.path}\t{'active' if user.active else 'disabled'}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from storage import open_database
    from storage.auth.audit import audit
    from storage.auth.users import set_active

    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        user = set_active(conn, name=args.name, active=False, by=None)  # the operator: any user
        audit(conn, user=None, action="user.disable", subject=f"user/{user.id}",
              details={"name": user.name, "via": "cli"})
    print(f"disabled {user.name}")
    return 0


def cmd_users_token(args: argparse.Namespace) -> int:
    from core.config.auth import AuthConfig
    from storage import open_database
    from storage.auth.audit import audit
    from storage.auth.sessions import create_token
    from storage.auth.users import UserError, find_user

    with open_database(data_dir=args.data_dir) as db, db.pool.connection() as conn:
        user = find_user(conn, name=args.name)  # the operator: any user
        if user is None or not user.active:
            raise UserError(f"no active user {args.name!r}")
        token = create_token(conn, user=user, label=args.label, config=AuthConfig(), days=args.days)
        audit(conn, user=None, action="auth.token_issued", subject=f"user/{user.id}",
              details={"label": args.label, "via": "cli"})
    print(token)
    return 0
