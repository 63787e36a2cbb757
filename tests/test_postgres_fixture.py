"""The suite's PostgreSQL fixture: a real server on 127.0.0.1, fresh databases, stop and start."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.support.postgres import PostgresServer


def test_a_fresh_database_on_a_real_server(postgres_url):
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select version()")).scalar().startswith("PostgreSQL")
            assert conn.execute(text("select inet_server_addr()::text")).scalar().startswith("127.0.0.1")
            assert conn.execute(text("select count(*) from pg_tables where schemaname = 'public'")).scalar() == 0
    finally:
        engine.dispose()


def test_the_server_can_be_stopped_and_started_on_the_same_port(postgres_server, postgres_url):
    if not isinstance(postgres_server, PostgresServer):
        pytest.skip("an external server is never stopped")
    engine = create_engine(postgres_url, pool_pre_ping=True)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table kept (x int)"))
            conn.execute(text("insert into kept values (1)"))
        old_pid = postgres_server.process.pid
        postgres_server.stop()
        assert not postgres_server.running
        with pytest.raises(OperationalError):
            with engine.connect() as conn:
                conn.execute(text("select 1"))
        postgres_server.start()
        assert postgres_server.process.pid != old_pid
        with engine.connect() as conn:
            assert conn.execute(text("select x from kept")).scalar() == 1
    finally:
        engine.dispose()
