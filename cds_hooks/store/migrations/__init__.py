"""Alembic migrations of the feedback and audit store, shipped with the package and applied at
start by :func:`cds_hooks.store.migrate.upgrade` (never by hand-written DDL)."""
