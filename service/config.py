"""Settings of contract §8, read from the environment once, at app start.

Every variable is validated here so that a misconfigured service refuses to start with a message
naming the variable, instead of failing on the first request.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Mapping

from cds_hooks.auth import is_loopback_host

log = logging.getLogger(__name__)

AUTH_REQUIRED = "required"
AUTH_OFF = "off"
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_FHIR_MAX_RESPONSE_BYTES = 20 * 1024 * 1024
# A bearer token shorter than this is guessable by a scraper on the same network.
MIN_METRICS_TOKEN_CHARS = 16
# The store is tested on these two; anything else stops the service rather than run untested.
DATABASE_DIALECTS = ("sqlite", "postgresql")


class LogFormat(StrEnum):
    JSON = "json"   # one JSON object per line (production, log collectors)
    TEXT = "text"   # human-readable lines (a developer's terminal)


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

# Every variable the service or deploy/gunicorn.conf.py reads. Another KNEE_CDS_* name is most
# likely a misspelling (KNEE_CDS_DATABASE_ULR would silently mean "SQLite"): it is warned about.
SERVICE_VARIABLES = frozenset({
    "KNEE_CDS_AUTH", "KNEE_CDS_CLIENTS", "KNEE_CDS_PUBLIC_URL", "KNEE_CDS_JWKS_REFRESH_S",
    "KNEE_CDS_CORS_ORIGINS", "KNEE_CDS_DATABASE_URL", "KNEE_CDS_DATABASE_URL_FILE",
    "KNEE_CDS_RETENTION_DAYS", "KNEE_CDS_AGE_ADJUSTED_DDIMER", "KNEE_CDS_FHIR_TIMEOUT",
    "KNEE_CDS_FHIR_MAX_PAGES", "KNEE_CDS_FHIR_MAX_RESPONSE_BYTES", "KNEE_CDS_SITE_MAPS",
    "KNEE_CDS_MAX_BODY_BYTES", "KNEE_CDS_METRICS", "KNEE_CDS_METRICS_TOKEN",
    "KNEE_CDS_METRICS_TOKEN_FILE", "KNEE_CDS_LOG_FORMAT", "KNEE_CDS_LOG_LEVEL", "KNEE_CDS_PREVIEW",
})
SERVER_VARIABLES = frozenset({
    "KNEE_CDS_BIND", "KNEE_CDS_WORKERS", "KNEE_CDS_THREADS", "KNEE_CDS_WORKER_TIMEOUT",
    "KNEE_CDS_ACCESS_LOG", "KNEE_CDS_WSGI_APP", "KNEE_CDS_WORKER_CLASS", "KNEE_CDS_WORKER_CONNECTIONS",
    "KNEE_CDS_BODY_TIMEOUT_S",
})
# Read by the test suite only, never by the service.
TEST_VARIABLE_PREFIX = "KNEE_CDS_TEST_"


class ConfigError(ValueError):
    """The environment cannot be used; the service must not start."""


@dataclass(frozen=True)
class Settings:
    auth: str                       # "required" | "off"
    clients_path: str | None
    public_url: str | None
    jwks_refresh_s: float
    # None = no CORS headers at all; ("*",) = any origin; else the exact origins allowed
    cors_origins: tuple[str, ...] | None
    database_url: str | None        # None = SQLite file in the instance folder (resolved by the app)
    retention_days: int
    age_adjusted_ddimer: bool
    fhir_timeout: float
    fhir_max_pages: int
    fhir_max_response_bytes: int
    site_maps: tuple[str, ...]
    max_body_bytes: int
    metrics_enabled: bool = False
    # None = /metrics answers without a token (only allowed on a loopback bind)
    metrics_token: str | None = None
    log_format: LogFormat = LogFormat.JSON
    log_level: str = "info"
    # the card preview page (GET /preview): on under `knee-cds serve`, off under gunicorn unless
    # KNEE_CDS_PREVIEW=on; it computes cards from what is pasted and reads no FHIR server
    preview: bool = False

    @property
    def auth_required(self) -> bool:
        return self.auth == AUTH_REQUIRED


def load_settings(env: Mapping[str, str] | None = None, bind_host: str | None = None) -> Settings:
    """Build :class:`Settings` from ``env`` (default ``os.environ``).

    ``bind_host`` is the address ``knee-cds serve`` binds; only a loopback bind lets an unset
    ``KNEE_CDS_AUTH`` mean "off". Everything else (gunicorn, an unknown bind) means "required", so
    the service never fails open on a public address.
    """
    env = os.environ if env is None else env
    auth = _auth(env, bind_host)
    metrics_enabled, metrics_token = _metrics(env, bind_host)
    return Settings(
        auth=auth,
        clients_path=_str(env, "KNEE_CDS_CLIENTS"),
        public_url=_public_url(env),
        jwks_refresh_s=_number(env, "KNEE_CDS_JWKS_REFRESH_S", 60.0, float, minimum=0),
        cors_origins=_cors(env, auth),
        database_url=_database_url(env),
        retention_days=_number(env, "KNEE_CDS_RETENTION_DAYS", 365, int, minimum=1),
        age_adjusted_ddimer=_bool(env, "KNEE_CDS_AGE_ADJUSTED_DDIMER", False),
        fhir_timeout=_number(env, "KNEE_CDS_FHIR_TIMEOUT", 3.0, float, minimum=0.1),
        fhir_max_pages=_number(env, "KNEE_CDS_FHIR_MAX_PAGES", 20, int, minimum=1),
        fhir_max_response_bytes=_number(
            env, "KNEE_CDS_FHIR_MAX_RESPONSE_BYTES", DEFAULT_FHIR_MAX_RESPONSE_BYTES, int, minimum=1024
        ),
        site_maps=_list(env, "KNEE_CDS_SITE_MAPS"),
        max_body_bytes=_number(env, "KNEE_CDS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, int, minimum=1024),
        metrics_enabled=metrics_enabled,
        metrics_token=metrics_token,
        log_format=_choice(env, "KNEE_CDS_LOG_FORMAT", LogFormat.JSON, tuple(LogFormat)),
        log_level=_choice(env, "KNEE_CDS_LOG_LEVEL", "info", LOG_LEVELS),
        preview=_bool(env, "KNEE_CDS_PREVIEW", bind_host is not None),
    )


def log_format(env: Mapping[str, str] | None = None) -> LogFormat:
    """KNEE_CDS_LOG_FORMAT alone: logging is set up before the rest of the settings are read."""
    return _choice(os.environ if env is None else env, "KNEE_CDS_LOG_FORMAT", LogFormat.JSON, tuple(LogFormat))


def check_startup(env: Mapping[str, str] | None = None, bind_host: str | None = None) -> Settings:
    """Everything the service checks before it answers, without building the app: the variables,
    the clients file, the site maps and the database URL. ``deploy/gunicorn.conf.py`` calls it in
    the master, so a bad setting stops gunicorn once, with one message, before any worker forks.
    """
    # imported here: the engine imports this module
    from cds_hooks.auth import ClientsFileError, load_clients  # noqa: PLC0415
    from service.terminology.site_maps import SiteMapError, load_terminology  # noqa: PLC0415

    env = os.environ if env is None else env
    check_server_env(env)
    settings = load_settings(env, bind_host)
    if settings.clients_path:
        try:
            load_clients(settings.clients_path)
        except ClientsFileError as err:
            raise ConfigError(str(err)) from None
    try:
        load_terminology(settings.site_maps)
    except SiteMapError as err:
        raise ConfigError(str(err)) from None
    except OSError as err:
        raise ConfigError(f"the code sets (mappings/codesets.json) cannot be read from the installation: "
                          f"{type(err).__name__}") from None
    warn_unknown_variables(env)
    return settings


def startup_check_main() -> int:
    """The start-up check as a process of its own (deploy/gunicorn.conf.py runs it before forking
    workers): exit status 0, or 2 with one line naming what is wrong."""
    import sys  # noqa: PLC0415

    from cds_hooks import jsonlog  # noqa: PLC0415

    try:
        jsonlog.configure(log_format())
    except ConfigError:
        jsonlog.configure()
    try:
        check_startup(os.environ)
    except ConfigError as err:
        print(f"knee-cds: configuration error: {err}", file=sys.stderr)
        return 2
    return 0


def check_server_env(env: Mapping[str, str]) -> None:
    """The gunicorn variables of deploy/gunicorn.conf.py (read there; checked here)."""
    for bind in _list(env, "KNEE_CDS_BIND"):
        _bind_address(bind)
    for name in ("KNEE_CDS_WORKERS", "KNEE_CDS_THREADS", "KNEE_CDS_WORKER_TIMEOUT", "KNEE_CDS_WORKER_CONNECTIONS"):
        _number(env, name, 1, int, minimum=1)
    _number(env, "KNEE_CDS_BODY_TIMEOUT_S", 1.0, float, minimum=0.01)
    _choice(env, "KNEE_CDS_LOG_LEVEL", "info", LOG_LEVELS)
    app = _str(env, "KNEE_CDS_WSGI_APP")
    if app is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(\(\))?", app):
        raise ConfigError(f"KNEE_CDS_WSGI_APP must look like 'package.module:factory()', not {app!r}")


def warn_unknown_variables(env: Mapping[str, str]) -> list[str]:
    unknown = sorted(name for name in env if name.startswith("KNEE_CDS_")
                     and not name.startswith(TEST_VARIABLE_PREFIX)
                     and name not in SERVICE_VARIABLES | SERVER_VARIABLES)
    if unknown:
        log.warning("unknown configuration variable(s) ignored: %s", ", ".join(unknown))
    return unknown


def _bind_address(bind: str) -> None:
    if bind.startswith("unix:"):
        if len(bind) > len("unix:"):
            return
    else:
        host, sep, port = bind.rpartition(":")
        if sep and host and port.isdigit() and 0 <= int(port) <= 65535:
            return
    raise ConfigError(f"KNEE_CDS_BIND: {bind!r} is not host:port or unix:path")


def _str(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """``NAME`` or the content of the file ``NAME_FILE`` (container secrets are mounted as files)."""
    file_name = f"{name}_FILE"
    value, path = _str(env, name), _str(env, file_name)
    if value is not None and path is not None:
        raise ConfigError(f"give either {name} or {file_name}, not both")
    if path is None:
        return value
    try:
        with open(path, encoding="utf-8") as fh:
            content = fh.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file_name}: cannot read {path}: {type(err).__name__}") from None
    if not content:
        raise ConfigError(f"{file_name}: {path} is empty")
    return content


def _database_url(env: Mapping[str, str]) -> str | None:
    """The store URL, checked for form, dialect and driver. Messages never quote the URL: it may
    hold the database password."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415  SQLAlchemy loads its dialects lazily
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError  # noqa: PLC0415

    url = _secret(env, "KNEE_CDS_DATABASE_URL")
    if url is None:
        return None
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError("KNEE_CDS_DATABASE_URL is not a database URL "
                          "(e.g. postgresql+psycopg://user:password@host/db)") from None
    if parsed.get_backend_name() not in DATABASE_DIALECTS:
        raise ConfigError(f"KNEE_CDS_DATABASE_URL: database {parsed.get_backend_name()!r} is not supported "
                          f"(use one of {', '.join(DATABASE_DIALECTS)})")
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as err:
        hint = " (pip install 'knee-cds[postgres]')" if parsed.get_backend_name() == "postgresql" else ""
        raise ConfigError(f"KNEE_CDS_DATABASE_URL: driver {parsed.get_driver_name()!r} is not "
                          f"installed{hint}: {type(err).__name__}") from None
    return url


def _metrics(env: Mapping[str, str], bind_host: str | None) -> tuple[bool, str | None]:
    """/metrics: on by default only on a loopback bind; on a public bind only when switched on
    and protected by a bearer token, so that nobody on the network reads load and error rates."""
    loopback = is_loopback_host(bind_host)
    raw = _str(env, "KNEE_CDS_METRICS")
    if raw is None:
        enabled = loopback
    elif raw.lower() in ("on", "off"):
        enabled = raw.lower() == "on"
    else:
        raise ConfigError(f"KNEE_CDS_METRICS must be 'on' or 'off', not {raw!r}")
    token = _secret(env, "KNEE_CDS_METRICS_TOKEN")
    if token is not None and (len(token) < MIN_METRICS_TOKEN_CHARS
                              or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", token)):
        # the token itself is never quoted
        raise ConfigError(f"KNEE_CDS_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_CHARS} characters "
                          "of A-Z a-z 0-9 . _ ~ + / = -")
    if enabled and token is None and not loopback:
        raise ConfigError("KNEE_CDS_METRICS=on off a loopback bind needs KNEE_CDS_METRICS_TOKEN "
                          "(or KNEE_CDS_METRICS_TOKEN_FILE): /metrics is never open on a public address")
    return enabled, token


def _choice(env: Mapping[str, str], name: str, default, allowed):
    raw = _str(env, name)
    if raw is None:
        return default
    for value in allowed:
        if raw.lower() == str(value):
            return value
    raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}, not {raw!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in env.get(name, "").split(",") if p.strip())


def _auth(env: Mapping[str, str], bind_host: str | None) -> str:
    raw = _str(env, "KNEE_CDS_AUTH")
    if raw is None:
        if is_loopback_host(bind_host):
            log.warning("KNEE_CDS_AUTH is unset and the service is bound to loopback (%s): JWT "
                        "verification is OFF", bind_host)
            return AUTH_OFF
        return AUTH_REQUIRED
    value = raw.lower()
    if value not in (AUTH_REQUIRED, AUTH_OFF):
        raise ConfigError(f"KNEE_CDS_AUTH must be 'required' or 'off', not {raw!r}")
    if value == AUTH_OFF:
        where = bind_host or "the configured bind address"
        log.warning("KNEE_CDS_AUTH=off: CDS clients are not authenticated (bound to %s)", where)
    return value


def _public_url(env: Mapping[str, str]) -> str | None:
    url = _str(env, "KNEE_CDS_PUBLIC_URL")
    if url is None:
        return None
    if not url.startswith(("http://", "https://")) or "?" in url or "#" in url:
        raise ConfigError(f"KNEE_CDS_PUBLIC_URL must be an http(s) URL without query, not {url!r}")
    return url.rstrip("/")


def _cors(env: Mapping[str, str], auth: str) -> tuple[str, ...] | None:
    origins = _list(env, "KNEE_CDS_CORS_ORIGINS")
    if not origins:
        # contract §8: "*" when auth is off, none when auth is on
        return ("*",) if auth == AUTH_OFF else None
    if "*" in origins:
        return ("*",)
    for origin in origins:
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
            raise ConfigError(f"KNEE_CDS_CORS_ORIGINS: {origin!r} is not scheme://host[:port]")
    return tuple(o.lower() for o in origins)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _str(env, name)
    if raw is None:
        return default
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default, kind, minimum):
    raw = _str(env, name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a{'n integer' if kind is int else ' number'}, not {raw!r}") from None
    if value < minimum or value != value:  # value != value: NaN
        raise ConfigError(f"{name} must be at least {minimum}, not {raw!r}")
    return value
