"""Login lockout: counted atomically, per name and client, so parallel guesses cannot slip past the
limit and nobody can lock a known account out for everyone else."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from psycopg_pool import ConnectionPool

from core.config.auth import AuthConfig
from storage.auth.sessions import LoginRefused, login
from tests.fix_auth import PASSWORD, add_user

CONFIG = AuthConfig(max_failures=5)


def attempt(pool: ConnectionPool, name: str, password: str, client: str) -> str:
    """One login as the route makes it: the failure is committed even though the attempt fails."""
    with pool.connection() as conn:
        try:
            login(conn, name=name, password=password, client=client, config=CONFIG)
        except LoginRefused as exc:
            conn.commit()
            return "locked" if exc.locked else "wrong"
        return "ok"


def test_parallel_guesses_get_no_more_tries_than_the_limit(pool: ConnectionPool) -> None:
    add_user(pool, "target", "manager", "province")
    with ThreadPoolExecutor(max_workers=6) as threads:
        results = list(threads.map(lambda i: attempt(pool, "target", f"guess-{i}", "203.0.113.9"), range(24)))
    assert results.count("wrong") == CONFIG.max_failures  # checked against the password; the rest refused
    assert results.count("locked") == 24 - CONFIG.max_failures


def test_an_attacker_locks_the_name_for_their_address_only(pool: ConnectionPool) -> None:
    add_user(pool, "victim", "manager", "province")
    for i in range(CONFIG.max_failures):
        assert attempt(pool, "victim", f"guess-{i}", "198.51.100.7") == "wrong"
    assert attempt(pool, "victim", PASSWORD, "198.51.100.7") == "locked"
    assert attempt(pool, "victim", PASSWORD, "192.0.2.20") == "ok"  # the owner, from their own desk


def test_a_client_guessing_many_names_is_locked_as_a_whole(pool: ConnectionPool) -> None:
    add_user(pool, "someone", "manager", "province")
    names = [f"name{i}" for i in range(CONFIG.max_failures * 4)]
    assert [attempt(pool, n, "x", "198.51.100.8") for n in names] == ["wrong"] * len(names)
    assert attempt(pool, "someone", PASSWORD, "198.51.100.8") == "locked"
    assert attempt(pool, "someone", PASSWORD, "192.0.2.21") == "ok"


@pytest.mark.parametrize("failures", [0, CONFIG.max_failures - 1])
def test_success_below_the_limit_clears_that_clients_failures(pool: ConnectionPool, failures: int) -> None:
    add_user(pool, f"u{failures}", "manager", "province")
    for i in range(failures):
        attempt(pool, f"u{failures}", f"bad{i}", "192.0.2.30")
    assert attempt(pool, f"u{failures}", PASSWORD, "192.0.2.30") == "ok"
    assert [attempt(pool, f"u{failures}", f"again{i}", "192.0.2.30") for i in range(CONFIG.max_failures)] == \
        ["wrong"] * CONFIG.max_failures
