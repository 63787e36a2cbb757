"""The lean access logger writes what gunicorn's own logger writes for the configured format."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

from cds_hooks.access_log import LEAN_ATOMS, AccessLogger, format_atoms

DEPLOY_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


class _Response:
    status = "201 Created"
    headers = [("Content-Type", "application/json"), ("Content-Length", "1234")]
    sent = 1234


class _Request:
    headers = [("HOST", "127.0.0.1:1"), ("AUTHORIZATION", "Bearer secret"), ("CONTENT-TYPE", "application/json")]


ENVIRON = {"REMOTE_ADDR": "10.1.2.3", "RAW_URI": "/cds-services/x?y=1", "SERVER_PROTOCOL": "HTTP/1.1",
           "REQUEST_METHOD": "POST", "PATH_INFO": "/cds-services/x", "QUERY_STRING": "y=1"}


def _loggers(fmt: str) -> tuple[Logger, AccessLogger]:
    cfg = Config()
    cfg.set("access_log_format", fmt)
    return Logger(cfg), AccessLogger(cfg)


@pytest.mark.parametrize("elapsed", [dt.timedelta(microseconds=2500), dt.timedelta(seconds=3, microseconds=7)])
def test_the_lean_atoms_are_gunicorns_own(elapsed):
    full, lean = _loggers(DEPLOY_FORMAT)
    assert lean.lean
    expected = full.atoms(_Response, _Request, ENVIRON, elapsed)
    atoms = lean.atoms(_Response, _Request, ENVIRON, elapsed)
    assert set(atoms) == LEAN_ATOMS
    assert atoms == {key: expected[key] for key in LEAN_ATOMS}
    assert DEPLOY_FORMAT % SafeAtoms(atoms) == DEPLOY_FORMAT % SafeAtoms(expected)


def test_a_format_with_other_atoms_gets_every_atom():
    fmt = '%(h)s %(t)s "%(r)s" %(s)s %({user-agent}i)s'
    assert not format_atoms(fmt) <= LEAN_ATOMS
    full, lean = _loggers(fmt)
    assert not lean.lean
    assert lean.atoms(_Response, _Request, ENVIRON, dt.timedelta(0)).keys() == \
        full.atoms(_Response, _Request, ENVIRON, dt.timedelta(0)).keys()


def test_the_deploy_configuration_uses_the_lean_logger_with_this_format():
    # read as text: executing the configuration would run its start-up check
    conf = (Path(__file__).resolve().parents[1] / "deploy" / "gunicorn.conf.py").read_text()
    assert f"access_log_format = '{DEPLOY_FORMAT}'" in conf
    assert 'logger_class = "cds_hooks.access_log.AccessLogger"' in conf
