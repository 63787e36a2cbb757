"""Alembic environment: runs on the connection :func:`cds_hooks.store.migrate.upgrade` hands over,
inside the transaction that holds the migration lock (so Alembic neither connects nor commits)."""
from alembic import context

from cds_hooks.store.schema import metadata

connection = context.config.attributes["connection"]
# transactional_ddl: SQLite runs DDL inside the transaction too (the store's engine emits BEGIN itself)
context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
