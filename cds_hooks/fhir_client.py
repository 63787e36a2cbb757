"""A small, defensive HTTP client for the EHR's FHIR server (contract §2, §8; issue 4).

The ``fhirServer`` of a hook request is chosen by the caller, so it is treated as untrusted input:

- only ``http``/``https`` bases are accepted (anything else raises :class:`InvalidFhirServer`, which the
  protocol layer answers with 400);
- redirects are never followed automatically; one redirect to the *same* origin is followed, any other
  redirect is refused (the bearer token must never travel to another host);
- responses are streamed and abandoned past ``max_response_bytes``;
- every request has a total deadline of ``timeout`` seconds (not only a per-socket-read timeout, so a server
  that trickles bytes cannot hold a worker).

Failures are raised as :class:`FetchError` with a ``reason`` from the vocabulary of
:class:`cds_hooks.domain.Unreadable` and a human ``detail``; the caller turns them into Unreadable entries.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

_REDIRECTS = (301, 302, 303, 307, 308)
# A URL with these would be rewritten or refused by the HTTP stack: refuse it before it gets there
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchSettings:
    """Limits of one gather (contract §8: KNEE_CDS_FHIR_TIMEOUT, KNEE_CDS_FHIR_MAX_PAGES)."""

    timeout: float = 3.0
    max_pages: int = 20
    max_response_bytes: int = 10_000_000
    retries: int = 1
    backoff_s: float = 0.2

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> "FetchSettings":
        """Read the contract §8 variables; invalid values raise ValueError (the service must not start)."""
        timeout = float(environ.get("KNEE_CDS_FHIR_TIMEOUT", "3"))
        max_pages = int(environ.get("KNEE_CDS_FHIR_MAX_PAGES", "20"))
        if timeout <= 0 or max_pages < 1:
            raise ValueError("KNEE_CDS_FHIR_TIMEOUT must be > 0 and KNEE_CDS_FHIR_MAX_PAGES >= 1")
        return cls(timeout=timeout, max_pages=max_pages)


class InvalidFhirServer(ValueError):
    """The request's fhirServer is not an http(s) base URL (answered with 400 by the protocol layer)."""


class FetchError(Exception):
    """One FHIR request failed; ``reason`` uses the Unreadable vocabulary."""

    def __init__(self, reason: str, detail: str, status: int | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status


def check_fhir_server(base: str | None) -> str | None:
    """Return the base without trailing slash, or raise InvalidFhirServer."""
    if base is None:
        return None
    if not isinstance(base, str):
        raise InvalidFhirServer("fhirServer must be a string")
    text = base.strip()
    if _SPACE_OR_CONTROL.search(text):
        raise InvalidFhirServer("fhirServer must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  raises ValueError for a port out of range or not a number
    except ValueError:
        # "http://[::1/fhir", "http://ehr:99999/fhir", "http://ehr:abc/fhir"
        raise InvalidFhirServer(f"fhirServer is not a valid URL (host or port), got {base[:100]!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidFhirServer(f"fhirServer must be an http or https URL, got {base[:100]!r}")
    if parts.username or parts.password:
        # credentials in the URL would be sent along with the bearer token; refuse rather than guess
        raise InvalidFhirServer("fhirServer must not carry credentials")
    return text.rstrip("/")


def origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of ``url``; None when it has no valid host or port."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        return None
    return scheme, (parts.hostname or "").lower(), port


def _seconds(value: float) -> str:
    return f"{value:g} s"


class _NoCookies(DefaultCookiePolicy):
    """Sessions are shared by the threads of one gather: keep no per-response state between requests."""

    def set_ok(self, cookie, request):  # noqa: D401 - cookiejar API
        return False


class FhirClient:
    """Requests against one fhirServer for one gather. Use as a context manager (closes the pool).

    One pooled ``requests.Session`` per gather: the threads of that gather share its urllib3 pool (which
    is thread-safe); cookies are disabled so no request can change what another one sends.
    """

    def __init__(self, base: str | None, access_token: str | None, settings: FetchSettings,
                 pool_size: int = 16):
        self.base = check_fhir_server(base)
        self.settings = settings
        self._session = requests.Session()
        self._session.cookies.set_policy(_NoCookies())
        self._session.trust_env = False  # no proxies/netrc from the environment: the URL is all we use
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 2), max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._headers = {"Accept": "application/fhir+json, application/json;q=0.9"}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"

    def __enter__(self) -> "FhirClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # ---- URLs -------------------------------------------------------------------------------------

    def url_for(self, relative: str) -> str:
        if self.base is None:
            raise FetchError("not-prefetched-no-fhir-server", "not prefetched and no fhirServer")
        return f"{self.base}/{relative.lstrip('/')}"

    def is_on_server(self, url: str) -> bool:
        """True when ``url`` is on the fhirServer's origin (so the token may be sent there)."""
        if self.base is None or not isinstance(url, str) or _SPACE_OR_CONTROL.search(url):
            return False
        target = origin(url)
        return target is not None and target == origin(self.base) and target[0] in ("http", "https")

    # ---- requests ---------------------------------------------------------------------------------

    def get_json(self, url: str) -> Any:
        """GET ``url`` (must be on fhirServer) and return the decoded JSON of a 2xx answer."""
        if not self.is_on_server(url):
            raise FetchError("forbidden-redirect", f"refused to follow a URL outside fhirServer: {url[:200]}")
        attempt = 0
        while True:
            try:
                return self._get_once(url)
            except FetchError as err:
                if not self._retryable(err) or attempt >= self.settings.retries:
                    raise
            attempt += 1
            # exponential backoff: a struggling server gets a moment before the single retry
            time.sleep(self.settings.backoff_s * (2 ** (attempt - 1)))

    @staticmethod
    def _retryable(err: FetchError) -> bool:
        return err.reason == "connection-error" or (err.status is not None and err.status >= 500)

    def _get_once(self, url: str) -> Any:
        deadline = time.monotonic() + self.settings.timeout
        response = self._send(url, deadline)
        if response.status_code in _REDIRECTS:
            url = self._same_origin_redirect(response, url)
            response.close()
            response = self._send(url, deadline)
            if response.status_code in _REDIRECTS:
                response.close()
                raise FetchError("forbidden-redirect", "more than one redirect")
        with response:
            if not 200 <= response.status_code < 300:
                raise FetchError("http-status", f"HTTP {response.status_code}", response.status_code)
            body = self._read_capped(response, deadline)
        return self._decode(body)

    def _send(self, url: str, deadline: float) -> requests.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
        try:
            return self._session.get(url, headers=self._headers, timeout=remaining,
                                     allow_redirects=False, stream=True)
        except requests.exceptions.ConnectTimeout:
            raise FetchError("connection-error", f"could not connect within {_seconds(self.settings.timeout)}")
        except requests.exceptions.Timeout:
            raise self._timeout()
        except requests.exceptions.ConnectionError as exc:
            raise FetchError("connection-error", f"connection failed ({type(exc).__name__})")
        except requests.exceptions.RequestException as exc:
            raise FetchError("connection-error", f"request failed ({type(exc).__name__})")
        except (ValueError, UnicodeError) as exc:
            # a URL the HTTP stack cannot parse, or a header value outside Latin-1 (http.client)
            raise FetchError("connection-error", f"request could not be sent ({type(exc).__name__})")

    def _same_origin_redirect(self, response: requests.Response, url: str) -> str:
        location = response.headers.get("Location")
        if not location:
            raise FetchError("invalid-response", f"HTTP {response.status_code} without Location")
        try:
            target = urljoin(url, location)
        except ValueError:
            raise FetchError("invalid-response", f"HTTP {response.status_code} with an invalid Location") from None
        if not self.is_on_server(target):
            raise FetchError("forbidden-redirect", f"redirect to another host refused: {target[:200]}")
        return target

    def _read_capped(self, response: requests.Response, deadline: float) -> bytes:
        cap = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError("too-large", f"response of {declared} bytes exceeds the {cap}-byte limit")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise FetchError("too-large", f"response exceeds the {cap}-byte limit")
                if time.monotonic() > deadline:
                    raise self._timeout()
                chunks.append(chunk)
        except requests.exceptions.ConnectionError as exc:
            # urllib3 reports a read timeout while streaming as a ConnectionError
            if "timed out" in str(exc).lower():
                raise self._timeout()
            raise FetchError("connection-error", f"connection lost while reading ({type(exc).__name__})")
        except requests.exceptions.RequestException as exc:
            raise FetchError("connection-error", f"read failed ({type(exc).__name__})")
        return b"".join(chunks)

    def _timeout(self) -> FetchError:
        return FetchError("timeout", f"timed out after {_seconds(self.settings.timeout)}")

    @staticmethod
    def _decode(body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise FetchError("invalid-response", "invalid JSON")
