"""The ``knee-cds`` command. Each subcommand is one :class:`Command` of :data:`COMMANDS`.

- ``knee-cds serve --host H --port P``: the service on a threaded WSGI server. For production behind a
  proxy use gunicorn (deploy/gunicorn.conf.py); this command suits local use, tests and small
  installations. It passes the bind address to the app, so that an unset KNEE_CDS_AUTH means "off"
  only on a loopback address (contract §8).
- ``knee-cds triage FILE``, ``knee-cds vignettes DIR``, ``knee-cds check-config``: the integrator's
  tools (service/triage_command.py, service/vignette_runner.py, service/config_check.py).
- ``knee-cds example-request V01``: prints a ready hook request for a bundled example patient, times
  rendered as of now and prefetch filled (service/examples.py); the service to send it to goes to
  stderr.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import Callable

from werkzeug.serving import make_server

from cds_hooks import jsonlog
from cds_hooks.domain import Domain

from service.tools import config_check, triage_command, vignette_runner
from service.app import create_app
from service.config import ConfigError, LogFormat, log_format

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


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help line, its arguments and what it runs (returns the exit status)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--log-level", default=None, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="default: KNEE_CDS_LOG_LEVEL, else INFO")


def _run_serve(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    return serve(args.host, args.port)


def _example_request_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("example", nargs="?", default="V01",
                        help="bundled example patient (default V01); --list shows them all")
    parser.add_argument("--list", action="store_true", help="list the bundled examples and exit")
    parser.add_argument("--base-url", default="http://127.0.0.1:8080",
                        help="service base URL for the curl hint on stderr (default http://127.0.0.1:8080)")


def _run_example_request(args: argparse.Namespace) -> int:
    from service.tools import examples   # imported here: `knee-cds serve` does not need it

    if args.list:
        for example_id in examples.example_ids():
            print(f"{example_id}\t{examples.load_example(example_id).get('title', '')}")
        return 0
    try:
        service, body = examples.example_request(examples.load_example(args.example))
    except examples.UnknownExample as err:
        print(f"knee-cds: {err}", file=sys.stderr)
        return 2
    json.dump(body, sys.stdout, indent=2)
    sys.stdout.write("\n")
    print(f"# {service.id} ({service.hook}): curl -s -H 'Content-Type: application/json' "
          f"-d @request.json {args.base_url.rstrip('/')}/cds-services/{service.id}", file=sys.stderr)
    return 0


COMMANDS: tuple[Command, ...] = (
    Command("serve", "run the service", _serve_arguments, _run_serve),
    Command("example-request", "print a ready hook request for a bundled example patient",
            _example_request_arguments, _run_example_request),
    Command("triage", "print the cards for a FHIR Bundle or a CDS Hooks request in a file",
            triage_command.add_arguments, triage_command.run),
    Command("vignettes", "run acceptance vignettes in process or against a running service",
            vignette_runner.add_arguments, vignette_runner.run),
    Command("check-config", "check the configuration without starting the server",
            config_check.add_arguments, config_check.run),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="knee-cds", description="CDS Hooks service: pain behind the knee")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
