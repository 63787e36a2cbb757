"""``knee-cds check-config``: the configuration checks of start-up, without starting the server.

Reads the environment as the service would (contract §8; under gunicorn also the server variables
that ``service.config.check_startup`` checks before workers fork), then checks each part on its own so that
every problem is reported, not only the first: the variables, the clients file, the database URL (a
connection is opened and closed; nothing is created or migrated), and the site maps. Prints one line
per check; exit status 0 when all pass, 2 when any fails. Secrets are never printed: a database URL
is shown without its password.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Callable, Mapping, TextIO

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cds_hooks.auth import ClientsFileError, load_clients
from service.config import ConfigError, Settings, check_server_env, load_settings, warn_unknown_variables
from service.terminology.site_maps import SiteMapError, load_terminology

DB_CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok   ' if self.ok else 'ERROR'} {self.name}: {self.message}"


def _clients(settings: Settings) -> Check:
    if not settings.clients_path:
        message = ("none configured: every request will be refused with 401" if settings.auth_required
                   else "none configured (auth off)")
        return Check("KNEE_CDS_CLIENTS", not settings.auth_required, message)
    try:
        clients = load_clients(settings.clients_path)
    except ClientsFileError as err:
        return Check("KNEE_CDS_CLIENTS", False, str(err))
    return Check("KNEE_CDS_CLIENTS", True, f"{len(clients)} client(s) in {settings.clients_path}")


def _database(settings: Settings) -> Check:
    if settings.database_url is None:
        return Check("KNEE_CDS_DATABASE_URL", True, "unset: a SQLite file in the instance folder")
    try:
        url = make_url(settings.database_url)
    except ArgumentError as err:
        return Check("KNEE_CDS_DATABASE_URL", False, f"not a database URL: {err}")
    shown = url.render_as_string(hide_password=True)
    args = {"connect_timeout": DB_CONNECT_TIMEOUT_S} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = create_engine(url, connect_args=args)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except ImportError as err:
        return Check("KNEE_CDS_DATABASE_URL", False, f"{shown}: driver not installed ({err.name})")
    except (SQLAlchemyError, ArgumentError) as err:
        return Check("KNEE_CDS_DATABASE_URL", False, f"{shown}: cannot connect ({type(err).__name__})")
    return Check("KNEE_CDS_DATABASE_URL", True, f"{shown}: reachable")


def _site_maps(settings: Settings) -> Check:
    if not settings.site_maps:
        return Check("KNEE_CDS_SITE_MAPS", True, "none loaded")
    try:
        terminology = load_terminology(settings.site_maps)
    except SiteMapError as err:
        return Check("KNEE_CDS_SITE_MAPS", False, str(err))
    loaded = ", ".join(f"{m.site} {m.version} ({m.entries} entries)" for m in terminology.site_maps)
    return Check("KNEE_CDS_SITE_MAPS", True, loaded)


CHECKS: tuple[Callable[[Settings], Check], ...] = (_clients, _database, _site_maps)


def check(env: Mapping[str, str], bind_host: str | None) -> list[Check]:
    try:
        if bind_host is None:
            check_server_env(env)  # the gunicorn variables of deploy/gunicorn.conf.py
        settings = load_settings(env, bind_host=bind_host)
    except ConfigError as err:
        return [Check("environment", False, str(err))]
    where = f"knee-cds serve on {bind_host}" if bind_host else "gunicorn (deploy/gunicorn.conf.py)"
    results = [Check("environment", True, f"read for {where}; KNEE_CDS_AUTH={settings.auth}")]
    unknown = warn_unknown_variables(env)
    if unknown:
        results.append(Check("unknown variables", True, "ignored: " + ", ".join(unknown)))
    return results + [one(settings) for one in CHECKS]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", metavar="HOST",
                        help="check as `knee-cds serve --host HOST` would run (default: as under gunicorn)")


def run(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    results = check(os.environ, args.host)
    for result in results:
        stdout.write(result.line() + "\n")
    return 0 if all(r.ok for r in results) else 2
