"""Keys, tokens and a local JWKS server for JWT tests (keys are generated per test session)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


class KeyPair:
    def __init__(self, kind: str, kid: str):
        self.kid = kid
        if kind == "rsa":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
            self.alg = "RS384"
        else:
            self.private = ec.generate_private_key(ec.SECP384R1())
            self.jwk = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
            self.alg = "ES384"
        self.jwk.update(kid=kid, use="sig")

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, iss: str, aud: Any, *, kid: str | None = "default", alg: str | None = None,
              **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": iss, "sub": "client", "aud": aud, "iat": now, "exp": now + 300,
                   "jti": str(uuid.uuid4())}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        headers = {"kid": self.kid if kid == "default" else kid} if kid is not None else {}
        return jwt.encode(payload, self.private, algorithm=alg or self.alg, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def hs256_token(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """HS256 signed with e.g. the public key PEM: the classic algorithm-confusion attack."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


class JwksServer:
    """Serves ``self.keys`` as a JWK Set on 127.0.0.1; counts fetches; can be told to fail."""

    def __init__(self):
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.fetches += 1
                if outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
