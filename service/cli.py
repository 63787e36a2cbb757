"""`knee-cds serve --host H --port P`: the service on a threaded WSGI server.

For production behind a proxy use gunicorn (deploy/gunicorn.conf.py); this command suits local use,
tests and small installations. It passes the bind address to the app, so that an unset
KNEE_CDS_AUTH means "off" only on a loopback address (contract §8).
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from werkzeug.serving import make_server

from cds_hooks.domain import Domain

from .app import create_app
from .config import ConfigError

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
    shown = host if ":" not in host else f"[{host}]"
    log.info("knee-cds listening on http://%s:%d", shown, server.port)
    if app.extensions["knee_cds_settings"].preview:
        log.info("card preview: http://%s:%d/preview", shown, server.port)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="knee-cds", description="CDS Hooks service: pain behind the knee")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the service")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve_cmd.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    from . import config_check, triage_command, vignette_runner  # noqa: PLC0415
    for name, module, text in (
            ("triage", triage_command, "cards for a FHIR Bundle or CDS Hooks request in a file"),
            ("vignettes", vignette_runner, "run acceptance vignettes in process or against a service"),
            ("check-config", config_check, "check the configuration without starting the server")):
        sub = commands.add_parser(name, help=text, description=text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    if args.command != "serve":
        return args.run(args)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
