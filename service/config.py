"""Settings of contract §8, read from the environment once, at app start.

Every variable is validated here so that a misconfigured service refuses to start with a message
naming the variable, instead of failing on the first request.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Mapping

from cds_hooks.auth import is_loopback_host

log = logging.getLogger(__name__)

AUTH_REQUIRED = "required"
AUTH_OFF = "off"
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_FHIR_MAX_RESPONSE_BYTES = 20 * 1024 * 1024


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
    return Settings(
        auth=auth,
        clients_path=_str(env, "KNEE_CDS_CLIENTS"),
        public_url=_public_url(env),
        jwks_refresh_s=_number(env, "KNEE_CDS_JWKS_REFRESH_S", 60.0, float, minimum=0),
        cors_origins=_cors(env, auth),
        database_url=_str(env, "KNEE_CDS_DATABASE_URL"),
        retention_days=_number(env, "KNEE_CDS_RETENTION_DAYS", 365, int, minimum=1),
        age_adjusted_ddimer=_bool(env, "KNEE_CDS_AGE_ADJUSTED_DDIMER", False),
        fhir_timeout=_number(env, "KNEE_CDS_FHIR_TIMEOUT", 3.0, float, minimum=0.1),
        fhir_max_pages=_number(env, "KNEE_CDS_FHIR_MAX_PAGES", 20, int, minimum=1),
        fhir_max_response_bytes=_number(
            env, "KNEE_CDS_FHIR_MAX_RESPONSE_BYTES", DEFAULT_FHIR_MAX_RESPONSE_BYTES, int, minimum=1024
        ),
        site_maps=_list(env, "KNEE_CDS_SITE_MAPS"),
        max_body_bytes=_number(env, "KNEE_CDS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, int, minimum=1024),
        preview=_bool(env, "KNEE_CDS_PREVIEW", bind_host is not None),
    )


def _str(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


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
