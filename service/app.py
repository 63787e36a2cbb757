"""The Flask app factory: one function builds the service for `knee-cds serve`, gunicorn and tests.

    gunicorn -c deploy/gunicorn.conf.py 'service.app:create_app()'
"""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from sqlalchemy.exc import ArgumentError

from cds_hooks import telemetry
from cds_hooks.auth import Authenticator, ClientsFileError, load_clients
from cds_hooks.blueprint import CdsRuntime, init_app
from cds_hooks.domain import Domain
from cds_hooks.ops import OpsRuntime, ReadinessCheck, init_ops
from cds_hooks.prefetch import FetchSettings
from cds_hooks.store import RetentionTimer, Store, StoreUnavailable

from service.config import ConfigError, Settings, load_settings, warn_unknown_variables
from service.readiness import domain_checks

log = logging.getLogger(__name__)

SQLITE_FILE = "knee-cds.sqlite3"


def create_app(test_config: dict[str, Any] | None = None, domain: Domain | None = None) -> Flask:
    """Build the app. ``test_config`` keys (all optional):

    - ``BIND_HOST``: the address `knee-cds serve` binds; a loopback one lets an unset
      KNEE_CDS_AUTH mean "off" (contract §8). Absent (gunicorn): unset means "required".
    - ``ENVIRON``: a mapping used instead of ``os.environ`` (in-process tests).
    - ``RETENTION_THREAD``: False to skip the background purge thread (it still purges at start).

    Raises :class:`ConfigError` when the environment cannot be used.
    """
    config = dict(test_config or {})
    app = Flask(__name__, instance_relative_config=True, instance_path=config.pop("INSTANCE_PATH", None))
    app.config.update(config)
    app.json.sort_keys = False  # keep CDS Hooks field order as built (hook, id, title, ...)

    settings = load_settings(config.get("ENVIRON"), bind_host=config.get("BIND_HOST"))
    warn_unknown_variables(os.environ if config.get("ENVIRON") is None else config["ENVIRON"])
    app.extensions["knee_cds_settings"] = settings
    store = _store(app, settings)
    authenticator = _authenticator(settings, store)
    if domain is None:
        from service.engine import KneeDomain  # noqa: PLC0415  imported late: the engine loads code sets
        domain = KneeDomain(settings)
    init_app(app, CdsRuntime(
        domain=domain,
        services={s.id: s for s in domain.services()},
        store=store,
        fetch_settings=FetchSettings(timeout=settings.fhir_timeout, max_pages=settings.fhir_max_pages,
                                     max_response_bytes=settings.fhir_max_response_bytes),
        max_body_bytes=settings.max_body_bytes,
        authenticator=authenticator,
        cors_origins=settings.cors_origins,
        public_url=settings.public_url,
    ))
    init_ops(app, OpsRuntime(
        checks=[ReadinessCheck("store", store.check_reachable),
                *domain_checks(getattr(domain, "terminology", None), settings)],
        metrics_enabled=settings.metrics_enabled,
        metrics_token=settings.metrics_token,
    ))
    _start_retention(app, store, settings, background=config.get("RETENTION_THREAD", True))
    if settings.preview:
        from service.preview import init_preview  # noqa: PLC0415  only loaded when the page is on
        init_preview(app)
    return app


def _store(app: Flask, settings: Settings) -> Store:
    url = settings.database_url
    if url is None:
        os.makedirs(app.instance_path, exist_ok=True)
        url = "sqlite:///" + os.path.join(app.instance_path, SQLITE_FILE)
    try:
        store = Store(url)
    except (ArgumentError, ImportError) as err:
        # the error's text may quote the URL, and with it the database password
        raise ConfigError(f"KNEE_CDS_DATABASE_URL cannot be used: {type(err).__name__}") from None
    store.stats.add_listener(telemetry.store_stat)   # the store's counters become metrics
    try:
        store.ensure_ready()
    except StoreUnavailable as err:
        # Hooks still answer without a store (audit failures are logged); feedback answers 503
        # until the database is reachable, and the schema is created then.
        log.error("feedback/audit store not available at start (%s); will retry on use", err)
    return store


def _authenticator(settings: Settings, store: Store) -> Authenticator | None:
    clients = []
    if settings.clients_path:
        try:
            clients = load_clients(settings.clients_path)
        except ClientsFileError as err:
            raise ConfigError(str(err)) from None
    if not settings.auth_required:
        return None
    if not clients:
        log.warning("KNEE_CDS_AUTH=required but no clients are configured (KNEE_CDS_CLIENTS): "
                    "every request will be refused with 401")
    return Authenticator(clients, store, settings.jwks_refresh_s)


def _start_retention(app: Flask, store: Store, settings: Settings, background: bool) -> None:
    timer = RetentionTimer(store, settings.retention_days)
    timer.purge_now()
    if background:
        timer.start()
    app.extensions["knee_cds_retention"] = timer
