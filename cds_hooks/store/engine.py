"""Engines for the store, and which database errors are worth a retry.

Faults must heal by themselves: a connection that failed because the database was down, locked,
unreadable or read-only is never reused. Every such error is treated as a disconnect, so
SQLAlchemy discards the connection and every older one in the pool, and the next request opens a
fresh one (which sees a repaired file or a restarted server).
"""
from __future__ import annotations

import os
import sqlite3

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import (DBAPIError, DisconnectionError, InterfaceError, InternalError, OperationalError,
                            ProgrammingError, SQLAlchemyError)
from sqlalchemy.exc import TimeoutError as PoolTimeout

SQLITE_BUSY_TIMEOUT_S = 30

# Write transactions on SQLite start with BEGIN IMMEDIATE: they take the write lock first and wait
# for it (busy timeout), instead of reading a snapshot and failing at once when another writer
# committed in between (SQLITE_BUSY_SNAPSHOT, which no timeout retries).
WRITE = {"store_write": True}
# Writes a client waits for hold a worker thread: a locked store may hold them only this long,
# then the request is answered "unavailable" (503) instead of waiting out the busy timeout and
# starving the threads that serve advice. The JWT replay record (auth on) is on the hook path.
JTI_LOCK_WAIT_MS = 2000
FEEDBACK_LOCK_WAIT_MS = 5000


def bounded_write(lock_wait_ms: int) -> dict:
    return {"store_write": True, "store_lock_wait_ms": lock_wait_ms}


def bound_postgres_waits(conn, lock_wait_ms: int) -> None:
    """The PostgreSQL half of :func:`bounded_write` (SQLite's is the busy timeout, set at BEGIN)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(lock_wait_ms)}")

# Statement/lock wait bound on PostgreSQL: a stuck lock must not hold a worker thread forever.
PG_STATEMENT_TIMEOUT_MS = 30_000


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    parsed = normalize_url(url)
    return create_engine(
        parsed, pool_pre_ping=True, pool_recycle=1800,
        connect_args={"connect_timeout": 5,
                      "options": f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS} "
                                 f"-c lock_timeout={PG_STATEMENT_TIMEOUT_MS}"}
        if parsed.get_backend_name() == "postgresql" else {},
    )


def normalize_url(url: str) -> URL:
    """``postgresql://`` and ``postgres://`` (the forms operators and hosting platforms write) mean
    the psycopg 3 driver this package installs (extra ``postgres``), not SQLAlchemy's default
    psycopg2."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})
    in_memory = ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:")

    database = engine.url.database

    @event.listens_for(engine, "do_connect")
    def _refuse_read_only(_dialect, _record, _cargs, _cparams):
        # SQLite silently opens a file it cannot write read-only, and creates its WAL index
        # (-shm) with the file's mode: a connection opened during a permission fault would keep
        # the whole process read-only after the repair. Refuse to open one instead.
        if not in_memory and database:
            problem = _not_writable(database)
            if problem:
                raise sqlite3.OperationalError(f"attempt to write a readonly database ({problem})")

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn, _record):
        # the driver's own implicit transactions would not cover DDL; SQLAlchemy emits BEGIN itself
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # WAL lets readers and one writer work at once (threads, gunicorn workers);
        # synchronous=FULL so that a committed row survives a crash (200 {} means stored).
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        options = conn.get_execution_options()
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(options.get('store_lock_wait_ms', SQLITE_BUSY_TIMEOUT_S * 1000))}")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("store_write") else "BEGIN")

    @event.listens_for(engine, "handle_error")
    def _sqlite_fault_is_a_disconnect(context):
        # read-only file, missing directory, I/O error, lock: drop the connection (and the pool),
        # so that no connection opened while the fault lasted outlives it
        if isinstance(context.original_exception, sqlite3.OperationalError) and not context.is_disconnect:
            context.is_disconnect = True

    return engine


def _not_writable(database: str) -> str | None:
    path = os.path.abspath(database)
    for candidate in (path, path + "-wal", path + "-shm"):
        if os.path.exists(candidate) and not os.access(candidate, os.R_OK | os.W_OK):
            return f"{os.path.basename(candidate)} is not writable"
    if not os.path.exists(path) and not os.access(os.path.dirname(path) or ".", os.W_OK | os.X_OK):
        return "its folder is not writable"
    return None


def is_data_error(err: BaseException) -> bool:
    """A permanent error caused by the values sent (a retry can never succeed)."""
    if isinstance(err, DBAPIError):
        name = type(err.orig).__name__ if err.orig is not None else ""
        # psycopg: DataError (e.g. NUL in text, value out of range); sqlite3: DataError (too big)
        return name in ("DataError", "StringDataRightTruncation", "CharacterNotInRepertoire",
                        "UntranslatableCharacter", "DatetimeFieldOverflow", "NumericValueOutOfRange") \
            or "DataError" in [c.__name__ for c in type(err.orig).__mro__]
    return isinstance(err, (ValueError, OverflowError)) and not isinstance(err, SQLAlchemyError)


def is_transient(err: BaseException) -> bool:
    """A fault of the store (down, locked, unreachable, read-only, a table missing) that a later
    attempt may get past. Anything else (a value refused, a programming error) is permanent."""
    if isinstance(err, DBAPIError):
        return err.connection_invalidated or isinstance(
            err, (OperationalError, InterfaceError, ProgrammingError, InternalError))
    return isinstance(err, (DisconnectionError, PoolTimeout, OSError))
