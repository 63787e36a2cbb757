"""Bring a store to the newest schema with the Alembic migrations shipped in this package.

Several workers or pods start together: each checks the revision first (no lock when current), and
only then upgrades inside one transaction that holds a lock: a PostgreSQL advisory transaction lock,
or SQLite's write lock (BEGIN IMMEDIATE). The others wait for it, then find the schema current.
DDL is transactional on both databases, so a start that dies half-way leaves nothing behind.

A database created by the store's earlier, hand-written runner (a ``schema_version`` table at
version 1 and no ``alembic_version``) is adopted at revision 0001, whose schema is identical, and
upgraded from there.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from .engine import WRITE
from .schema import schema_version

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
LEGACY_REVISION = "0001"          # what the hand-written runner's version 1 corresponds to
# pg_advisory_xact_lock key: any constant shared by every process of this service ("kneecds1")
ADVISORY_LOCK_KEY = 0x6B6E6565_63647331 - (1 << 63)
LOCK_TIMEOUT = "60s"


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release than this one."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Upgrade to the newest revision; returns it. Raises SQLAlchemyError when the database cannot
    be reached, SchemaTooNew when it is ahead of this code."""
    head = head_revision()
    with engine.connect() as conn:
        if _check(current_revision(conn), head):
            return head
    with engine.execution_options(**WRITE).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            conn.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
        current = current_revision(conn)
        if _check(current, head):
            return head          # another worker migrated while this one waited for the lock
        config = alembic_config()
        config.attributes["connection"] = conn
        if current is None and _legacy_version(conn) is not None:
            log.info("store schema: adopting the existing version-1 schema as revision %s", LEGACY_REVISION)
            command.stamp(config, LEGACY_REVISION)
            current = LEGACY_REVISION
        command.upgrade(config, "head")
        log.info("store schema migrated from %s to %s", current or "empty", head)
    return head


def _check(current: str | None, head: str) -> bool:
    if current == head:
        return True
    if current is not None and current not in _known_revisions():
        raise SchemaTooNew(f"store schema revision {current} is unknown to this release (newest {head})")
    return False


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    return frozenset(s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def _legacy_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table("schema_version"):
        return None
    version = conn.execute(select(func.max(schema_version.c.version))).scalar()
    if version is None:
        return None
    if version != 1:
        raise SchemaTooNew(f"store schema_version {version} is unknown to this release")
    return version
