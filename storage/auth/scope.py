"""A user's geographic scope as a SQL WHERE fragment, so every query filters in the database."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from storage.auth.model import Scope


def scope_sql(scope: Scope, hall_col: str = "hall_id") -> tuple[sql.Composable, dict[str, Any]]:
    """`(fragment, params)` limiting rows whose `hall_col` (may be qualified: `c.hall_id`) is inside
    `scope`. Params are named (`scope_id`), so combine with other named params only."""
    column = sql.Identifier(*hall_col.split("."))
    if scope.kind == "province":
        return sql.SQL("TRUE"), {}
    if scope.kind == "city":
        return (sql.SQL("{} IN (SELECT h.id FROM hall h WHERE h.city_id = %(scope_id)s)").format(column),
                {"scope_id": scope.id})
    return sql.SQL("{} = %(scope_id)s").format(column), {"scope_id": scope.id}


def scope_covers_sql(scope: Scope, scope_col: str = "scope") -> tuple[sql.Composable, dict[str, Any]]:
    """`(fragment, params)` limiting rows whose scope path in `scope_col` (a user's `app_user.scope`, may be
    qualified) lies inside `scope`: the province covers every scope, a city itself and its halls, a hall only
    itself. Params as in `scope_sql` (the same `scope_id`, so both combine in one query)."""
    column = sql.Identifier(*scope_col.split("."))
    if scope.kind == "province":
        return sql.SQL("TRUE"), {}
    if scope.kind == "city":
        return (sql.SQL("({0} = 'city/' || %(scope_id)s OR {0} IN (SELECT 'hall/' || h.id FROM hall h"
                        " WHERE h.city_id = %(scope_id)s))").format(column), {"scope_id": scope.id})
    return sql.SQL("{} = 'hall/' || %(scope_id)s").format(column), {"scope_id": scope.id}
