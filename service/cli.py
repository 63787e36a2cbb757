"""`knee-cds serve --host H --port P`: the service on a threaded WSGI server.

For production behind a proxy use gunicorn (deploy/gunicorn.conf.py); this command suits local use,
tests and small installations. It passes the bind address to the app, so that an unset
KNEE_CDS_AUTH means "off" only on a loopback address (contract §8).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from werkzeug.serving import make_server

from cds_hooks import jsonlog
from cds_hooks.domain import Domain

from .app import create_app
from .config import ConfigError, LogFormat, log_format

log = logging.getLogger("knee_cds")


def serve(host: str, port: int, domain: Domain | None = None) -> int:
    """Run until SIGTERM/SIGINT. Returns the process exit status."""
    try:
        app = create_app({"BIND_HOST": host}, domain=domain)
    except ConfigError as err:
        print(f"knee-cds: configuration error: {err}", file=sys.stderr)
        return 2
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as err:
        print(f"knee-cds: cannot listen on {host}:{port}: {err}", file=sys.stderr)
        return 2
    # SIGTERM (process managers, test fixtures) ends the loop like Ctrl-C does
    signal.signal(signal.SIGTERM, _interrupt)
    log.info("knee-cds listening on http://%s:%d", host if ":" not in host else f"[{host}]", server.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("knee-cds stopped")
    return 0


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def configure_logging(level: str | None = None) -> None:
    """JSON lines on stderr (KNEE_CDS_LOG_FORMAT=text for a terminal)."""
    try:
        fmt = log_format()
    except ConfigError:
        fmt = LogFormat.JSON  # the app's start reports the bad value and stops
    level = level or os.environ.get("KNEE_CDS_LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        level = "INFO"  # likewise reported by the app's start
    jsonlog.configure(fmt, level)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="knee-cds", description="CDS Hooks service: pain behind the knee")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the service")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve_cmd.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                           help="default: KNEE_CDS_LOG_LEVEL, else INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
