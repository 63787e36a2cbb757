"""A real PostgreSQL server for the suite (loaded by tests/conftest.py as a plugin).

Debian's ``postgresql`` package (scripts/system-packages.txt, installed by scripts/test.sh) provides
the binaries; the session fixture initialises a cluster in a temporary directory, starts it on
127.0.0.1 on a free port and stops it by PID at the end. Nothing else on the machine is touched.

Fixtures:
- ``postgres_server`` (session) -> :class:`PostgresServer`: ``create_database()`` gives the URL of a
  fresh, empty database; ``stop()``/``start()`` take the server down and bring it back on the same
  port and data (outage tests).
- ``postgres_url`` (function): a fresh database per test.
- ``store_url`` (function, parametrized ``sqlite`` / ``postgresql``): every store test runs on both.

``KNEE_CDS_TEST_POSTGRES_URL`` (a server URL whose user may CREATE DATABASE) uses an existing server
instead; outage tests that need to stop the server are skipped then.
"""
from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.service_server import free_port

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15
SUPERUSER = "postgres"
UNPRIVILEGED_USERS = ("postgres", "nobody")


def find_bindir() -> Path | None:
    """Debian installs the server under /usr/lib/postgresql/<major>/bin (newest first); pg_config
    names it too, but Debian's pg_config may come from the client-only package."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                        reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(out.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    for candidate in candidates:
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "postgres").is_file():
            return Path(candidate)
    return None


def unprivileged_prefix() -> tuple[list[str], int | None, int | None]:
    """initdb and postgres refuse to run as root: drop to an unprivileged user with setpriv, which
    execs (no fork), so the PID we hold is the postmaster's own."""
    if os.geteuid() != 0:
        return [], None, None
    import pwd  # noqa: PLC0415  POSIX only, and only needed as root

    for name in UNPRIVILEGED_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        setpriv = shutil.which("setpriv")
        if setpriv:
            return ([setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--"],
                    entry.pw_uid, entry.pw_gid)
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", name, "--"], entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


@dataclass
class PostgresServer:
    bindir: Path
    root: Path                   # temporary directory: data/, log, sockets
    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = field(default=None, repr=False)
    _prefix: list[str] = field(default_factory=list, repr=False)
    _databases: list[str] = field(default_factory=list, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ------------------------------------------------------------------ lifecycle

    def init(self) -> "PostgresServer":
        prefix, uid, gid = unprivileged_prefix()
        self._prefix = prefix
        if uid is not None:
            os.chown(self.root, uid, gid)
        # trust on loopback only: a throwaway cluster that lives as long as the test session
        subprocess.run(prefix + [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                                 "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
                       check=True, capture_output=True, timeout=120, cwd=self.root)
        return self

    def start(self) -> "PostgresServer":
        if self.running:
            return self
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self._prefix + [str(self.bindir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                            "-c", f"listen_addresses={self.host}", "-c", f"unix_socket_directories={self.root}",
                            "-c", "max_connections=200", "-c", "log_min_messages=warning"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            if self._accepts_connections():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postgres did not accept connections within {START_TIMEOUT_S} s:\n"
                           f"{self.log_text()[-3000:]}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Fast shutdown (SIGINT: abort sessions, checkpoint), then SIGKILL if it does not finish."""
        if not self.running:
            return
        pid = self.process.pid
        os.kill(pid, signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def restart(self) -> "PostgresServer":
        self.stop()
        return self.start()

    def _accepts_connections(self) -> bool:
        import psycopg  # noqa: PLC0415

        try:
            with psycopg.connect(host=self.host, port=self.port, user=SUPERUSER, dbname="postgres",
                                 connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    # ------------------------------------------------------------------ databases

    def create_database(self, prefix: str = "t") -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        _admin(self.url(), f'CREATE DATABASE "{name}"')
        self._databases.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        if not self.running:
            return
        name = urlsplit(url).path.lstrip("/")
        _admin(self.url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class ExternalPostgres:
    """A server given by KNEE_CDS_TEST_POSTGRES_URL: databases are created in it, it is never stopped."""
    base_url: str

    def url(self, database: str = "postgres") -> str:
        parts = urlsplit(self.base_url)
        scheme = "postgresql+psycopg" if parts.scheme in ("postgresql", "postgres") else parts.scheme
        return urlunsplit((scheme, parts.netloc, "/" + database, "", ""))

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        _admin(self.url(urlsplit(self.base_url).path.lstrip("/") or "postgres"), f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        _admin(self.url(urlsplit(self.base_url).path.lstrip("/") or "postgres"),
               f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        pytest.skip("outage tests need the suite's own PostgreSQL (KNEE_CDS_TEST_POSTGRES_URL is set)")

    start = restart = stop


def _admin(url: str, statement: str) -> None:
    import psycopg  # noqa: PLC0415

    parts = urlsplit(url)
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement)


def start_postgres() -> PostgresServer:
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): "
                           "run scripts/install-system-packages.sh (Debian package postgresql)")
    root = Path(tempfile.mkdtemp(prefix="knee-cds-pg-"))
    server = PostgresServer(bindir=bindir, root=root, port=free_port())
    try:
        server.init().start()
    except BaseException:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    # also when the session ends without its fixture teardown (an interrupted run)
    atexit.register(_discard, server)
    return server


def _discard(server: PostgresServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    external = os.environ.get("KNEE_CDS_TEST_POSTGRES_URL")
    if external:
        yield ExternalPostgres(external)
        return
    server = start_postgres()
    try:
        yield server
    finally:
        _discard(server)


@pytest.fixture
def postgres_url(postgres_server):
    url = postgres_server.create_database()
    yield url
    try:
        postgres_server.drop_database(url)
    except Exception:  # noqa: BLE001  a server stopped by the test: the session teardown removes it
        pass


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The database URL of a fresh, empty store: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        yield request.getfixturevalue("postgres_url")


def pytest_collection_modifyitems(items):
    """Mark every test that runs on PostgreSQL (``-m "not postgres"`` for a quick SQLite-only run)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = {"postgres_server", "postgres_url"} & set(getattr(item, "fixturenames", ())) or (
            callspec is not None and "postgresql" in callspec.params.values())
        if on_postgres:
            item.add_marker(pytest.mark.postgres)
