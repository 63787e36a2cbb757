"""In-process app fixtures (flaskr style) for checks that need no real socket.

- ``make_app(env=None, **config)``: a knee-cds app with auth off, a SQLite store in a temporary
  folder and no background threads; ``env`` adds ``KNEE_CDS_*`` variables.
- ``app`` / ``client``: the default app and its test client.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
from flask import Flask

from service.app import create_app


@pytest.fixture
def make_app(tmp_path) -> Callable[..., Flask]:
    def build(env: dict[str, str] | None = None, **config: Any) -> Flask:
        environ = {"KNEE_CDS_AUTH": "off", **(env or {})}
        settings = {"ENVIRON": environ, "INSTANCE_PATH": str(tmp_path / "instance"), "RETENTION_THREAD": False,
                    "TESTING": True, **config}
        return create_app(settings)
    return build


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
