"""Faults a test can put a store in: locked by another client, and bounded waits for what the
background audit writer does later."""
from __future__ import annotations

import contextlib
import sqlite3
import time
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit


def sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


def pg_conninfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


@contextlib.contextmanager
def locked_store(url: str) -> Iterator[None]:
    """Hold the store's write lock from another connection until the block ends: SQLite
    BEGIN EXCLUSIVE on the file; PostgreSQL ACCESS EXCLUSIVE on every table the service writes."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sqlite_path(url), timeout=10, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import psycopg  # noqa: PLC0415

    with psycopg.connect(pg_conninfo(url), connect_timeout=10) as conn:
        conn.execute("LOCK TABLE audit, audit_card, feedback, jwt_replay, store_meta IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.05) -> object:
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def module_store_url(request, tmp_path_factory, name: str) -> str:
    """A fresh store for a fixture parametrized over ("sqlite", "postgresql"), named ``name``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp(name) / 'store.sqlite3'}"
    return request.getfixturevalue("postgres_server").create_database(name)
