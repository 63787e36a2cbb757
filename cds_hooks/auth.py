"""JWT verification of CDS clients (CDS Hooks 2.0 security; contract §8).

The client signs a short-lived JWT with an asymmetric key published as a JWK Set (inline in the
clients file, or at a ``jwks_url``). Checked here: trusted ``iss``, ``kid`` -> key, asymmetric
algorithm only, signature, ``aud`` = the URL called, ``exp``/``iat`` with a small leeway, ``jti``
never seen while the token lives (recorded in the store, so it holds across workers), and
``tenant`` against the client's list. PyJWT does the cryptography.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from jwt import PyJWK
from jwt.exceptions import PyJWKSetError, PyJWTError

from .errors import ProtocolError, Unauthorized
from .store import Store, StoreUnavailable

log = logging.getLogger(__name__)

# Never "none" nor HS*: with a symmetric algorithm a public key would become a shared secret.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                         "ES256", "ES384", "ES512", "EdDSA")
_ALGORITHM_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
LEEWAY_S = 60
# CDS Hooks 2.0: exp SHOULD be at most 5 minutes ahead. A generous hard cap keeps the jti
# replay records (kept until exp) from living for years.
MAX_TOKEN_LIFETIME_S = 3600
JWKS_FETCH_TIMEOUT_S = 5
JWKS_MAX_BYTES = 1024 * 1024


class ClientsFileError(ValueError):
    """KNEE_CDS_CLIENTS cannot be used; the message names the entry."""


@dataclass(frozen=True)
class Client:
    iss: str
    fhir_servers: tuple[str, ...]
    tenants: tuple[str, ...] | None = None
    jwks: dict[str, Any] | None = field(default=None, compare=False)
    jwks_url: str | None = None

    def allows_fhir_server(self, fhir_server: str) -> bool:
        """fhirServer must start with one of the client's bases, on a path boundary, so that
        "https://ehr.example/fhir" does not admit "https://ehr.example/fhir-evil" or
        "https://ehr.example.evil.org"."""
        for base in self.fhir_servers:
            base = base.rstrip("/")
            if fhir_server.rstrip("/") == base or fhir_server.startswith(base + "/"):
                return True
        return False


@dataclass(frozen=True)
class AuthResult:
    client: Client
    claims: dict[str, Any]

    @property
    def iss(self) -> str:
        return self.client.iss


# --------------------------------------------------------------------------- clients file

def load_clients(path: str) -> list[Client]:
    try:
        with open(path, "rb") as fh:
            raw = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError) as err:
        raise ClientsFileError(f"KNEE_CDS_CLIENTS: cannot read {path}: {err}") from None
    if not isinstance(raw, list):
        raise ClientsFileError(f"KNEE_CDS_CLIENTS: {path} must hold a JSON array of clients")
    clients: list[Client] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        client = _client(index, entry)
        if client.iss in seen:
            raise ClientsFileError(f"KNEE_CDS_CLIENTS entry {index} (iss {client.iss!r}): duplicate iss")
        seen.add(client.iss)
        clients.append(client)
    return clients


def _client(index: int, entry: Any) -> Client:
    name = f"KNEE_CDS_CLIENTS entry {index}"
    if not isinstance(entry, dict):
        raise ClientsFileError(f"{name}: must be an object")
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss:
        raise ClientsFileError(f"{name}: 'iss' must be a non-empty string")
    name = f"{name} (iss {iss!r})"
    has_url, has_jwks = "jwks_url" in entry, "jwks" in entry
    if has_url == has_jwks:
        raise ClientsFileError(f"{name}: give exactly one of 'jwks_url' and 'jwks'")
    jwks_url = entry.get("jwks_url")
    if has_url and not _jwks_url_allowed(jwks_url):
        raise ClientsFileError(f"{name}: 'jwks_url' must be https:// (http only on a loopback host)")
    jwks = entry.get("jwks")
    if has_jwks:
        try:
            if not _usable_keys(jwks):
                raise PyJWKSetError("no asymmetric signing key")
        except PyJWTError as err:
            raise ClientsFileError(f"{name}: 'jwks' is not a usable JWK Set: {err}") from None
    tenants = entry.get("tenants")
    if tenants is not None and not _strings(tenants):
        raise ClientsFileError(f"{name}: 'tenants' must be an array of strings")
    servers = entry.get("fhir_servers", [])
    if not _strings(servers) or not all(s.startswith(("https://", "http://")) for s in servers):
        raise ClientsFileError(f"{name}: 'fhir_servers' must be an array of http(s) base URLs")
    return Client(iss=iss, fhir_servers=tuple(servers), tenants=tuple(tenants) if tenants is not None else None,
                  jwks=jwks, jwks_url=jwks_url)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _jwks_url_allowed(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and is_loopback_host(parts.hostname)


@dataclass(frozen=True)
class _Key:
    jwk: PyJWK
    declared_alg: str | None  # the JWK's own "alg", when it names one


def _usable_keys(jwks: Any) -> dict[str | None, _Key]:
    """kid -> key for the asymmetric signing keys of a JWK Set; other members are skipped."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise PyJWKSetError("a JWK Set is an object with a 'keys' array")
    keys: dict[str | None, _Key] = {}
    for data in jwks["keys"]:
        if not isinstance(data, dict) or data.get("kty") not in ("RSA", "EC", "OKP"):
            continue  # symmetric ("oct") keys are never trusted
        if data.get("use", "sig") != "sig":
            continue
        try:
            jwk = PyJWK(data)
        except PyJWTError:
            continue
        keys[jwk.key_id] = _Key(jwk, data.get("alg") if isinstance(data.get("alg"), str) else None)
    return keys


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and localhost count as loopback (contract §8)."""
    if not host:
        return False
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- key sources

class KeySource:
    """The keys of one client: inline, or fetched from its jwks_url and cached.

    An unknown kid triggers a new fetch at most once per ``refresh_s``; a failed fetch keeps the
    cached keys (contract §8).
    """

    def __init__(self, client: Client, refresh_s: float):
        self._client = client
        self._refresh_s = refresh_s
        self._keys: dict[str | None, _Key] = _usable_keys(client.jwks) if client.jwks else {}
        self._last_fetch: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> _Key | None:
        key = self._find(kid)
        if key is None and self._client.jwks_url:
            self._refresh()
            key = self._find(kid)
        return key

    def _find(self, kid: str | None) -> _Key | None:
        if kid is not None:
            return self._keys.get(kid)
        # no kid: acceptable only when the set has a single key, so no guessing happens
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    def _refresh(self) -> None:
        with self._lock:
            now = time.monotonic()
            if self._last_fetch is not None and now - self._last_fetch < self._refresh_s:
                return
            self._last_fetch = now
            try:
                self._keys = self._fetch()
            except (requests.RequestException, ValueError, PyJWTError) as err:
                log.warning("JWKS fetch for client %s failed (%s); keeping %d cached keys",
                            self._client.iss, type(err).__name__, len(self._keys))

    def _fetch(self) -> dict[str | None, _Key]:
        # No redirects: a redirect could lead off the https / loopback host that was vetted.
        with requests.get(self._client.jwks_url, timeout=JWKS_FETCH_TIMEOUT_S, allow_redirects=False,
                          stream=True, headers={"Accept": "application/json"}) as resp:
            if resp.status_code != 200:
                raise ValueError(f"HTTP {resp.status_code}")
            body = resp.raw.read(JWKS_MAX_BYTES + 1, decode_content=True)
        if len(body) > JWKS_MAX_BYTES:
            raise ValueError("JWKS too large")
        keys = _usable_keys(json.loads(body))
        if not keys:
            raise ValueError("no usable keys")
        return keys


# --------------------------------------------------------------------------- verification

class Authenticator:
    def __init__(self, clients: list[Client], store: Store, refresh_s: float):
        self._clients = {c.iss: c for c in clients}
        self._sources = {c.iss: KeySource(c, refresh_s) for c in clients}
        self._store = store

    def verify(self, authorization: str | None, audience: str) -> AuthResult:
        """The authenticated client, or Unauthorized (401, no details) / ProtocolError(503)."""
        token = _bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except PyJWTError:
            raise _deny("malformed token")
        alg = header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise _deny(f"algorithm {alg!r} not allowed")
        client = self._clients.get(unverified.get("iss")) if isinstance(unverified.get("iss"), str) else None
        if client is None:
            raise _deny("unknown issuer")
        kid = header.get("kid")
        key = self._sources[client.iss].key_for(kid if isinstance(kid, str) else None)
        if key is None:
            raise _deny("unknown key id")
        if _ALGORITHM_KEY_TYPES.get(alg[:2]) != key.jwk.key_type or (key.declared_alg or alg) != alg:
            raise _deny("algorithm does not match the key")
        try:
            claims = jwt.decode(token, key=key.jwk.key, algorithms=[alg], leeway=LEEWAY_S,
                                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_aud": False})
        except PyJWTError as err:
            raise _deny(type(err).__name__)
        self._check_claims(client, claims, audience)
        return AuthResult(client=client, claims=claims)

    def _check_claims(self, client: Client, claims: dict[str, Any], audience: str) -> None:
        if not _audience_matches(claims.get("aud"), audience):
            raise _deny("wrong aud")
        exp = claims["exp"]
        if exp > time.time() + MAX_TOKEN_LIFETIME_S + LEEWAY_S:
            raise _deny("exp too far in the future")
        if client.tenants is not None and claims.get("tenant") not in client.tenants:
            raise _deny("tenant not allowed")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _deny("jti missing")
        # keep the record until the token can no longer pass the exp check (exp + leeway)
        expires_at = datetime.fromtimestamp(exp + LEEWAY_S, tz=timezone.utc)
        try:
            fresh = self._store.remember_jti(client.iss, jti, expires_at)
        except StoreUnavailable:
            # cannot tell a replay from a first use: refuse, but say it is our fault
            raise ProtocolError.single(503, "Token replay check unavailable; try again.", "transient")
        if not fresh:
            raise _deny("jti replayed")

    @staticmethod
    def check_fhir_server(result: AuthResult, fhir_server: str | None) -> None:
        if fhir_server and not result.client.allows_fhir_server(fhir_server):
            raise ProtocolError.single(403, "fhirServer is not allowed for this client.", "forbidden",
                                       "fhirServer")


def _bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _deny("no bearer token")
    return token.strip()


def _audience_matches(aud: Any, expected: str) -> bool:
    """aud equals the URL called; a trailing slash on either side is ignored (contract §8)."""
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    want = expected.rstrip("/")
    return any(isinstance(v, str) and v.rstrip("/") == want for v in values)


def _deny(reason: str) -> Unauthorized:
    # the reason goes to the log (no token content), never to the client
    log.info("JWT refused: %s", reason)
    return Unauthorized(reason)
