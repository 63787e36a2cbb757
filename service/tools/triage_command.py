"""``knee-cds triage FILE``: the cards for a chart or a request, in process, from a file.

FILE (or ``-`` for standard input) is a FHIR Bundle — transaction, batch, collection or searchset:
one patient's chart — or a whole CDS Hooks request. Nothing is read from a FHIR server and nothing
is stored: the answer is the one the service gives for the same request. Exit status 0 with the
cards (or none), 2 with a one-line reason when the input cannot be used.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from service.config import ConfigError, load_settings
from service.tools.local_request import HOOKS, ORDER_HOOKS, InputError, build_request, draft_order, read_input
from service.tools.local_run import run_request, service_for_hook
from service.tools.terminal import format_response, outcome_reason

EXIT_OK, EXIT_UNREADABLE = 0, 2


class Unusable(Exception):
    """Input that cannot be used: the message is the one line the user sees."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="a FHIR Bundle or a CDS Hooks request (JSON); - for standard input")
    parser.add_argument("--hook", choices=HOOKS,
                        help="hook for a Bundle (default patient-view); a request keeps its own hook")
    parser.add_argument("--now", help="the time of the request, ISO 8601 (default: now, UTC)")
    parser.add_argument("--draft", action="append", default=[], metavar="ORDERABLE",
                        help="a draft order for order-select / order-sign (catalog id, e.g. d-dimer); repeatable")
    parser.add_argument("--json", action="store_true", help="print the exact JSON response")


def parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Unusable(f"--now {text!r} is not an ISO 8601 date or time") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def _read(path: str, stdin: TextIO) -> Any:
    try:
        text = stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise Unusable(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise Unusable(f"{path} is not JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None


def _request(doc: Any, domain, args: argparse.Namespace) -> dict[str, Any]:
    try:
        chart = read_input(doc)
    except InputError as err:
        raise Unusable(str(err)) from None
    if chart.request is not None:
        if args.hook and args.hook != chart.request.get("hook"):
            raise Unusable(f"the request is for hook {chart.request.get('hook')!r}, not {args.hook!r}")
        return chart.request
    hook = args.hook or "patient-view"
    terminology = domain.terminology
    unknown = [d for d in args.draft if d not in terminology.orderable_ids]
    if unknown:
        raise Unusable(f"unknown orderable {unknown[0]!r}; catalog: {', '.join(terminology.orderable_ids)}")
    patient_id = (chart.patient or {}).get("id") or "example"
    drafts = [draft_order(d, terminology.orderable_display(d), str(patient_id)) for d in args.draft]
    body = build_request(chart, service_for_hook(domain, hook), None, drafts)
    if hook in ORDER_HOOKS and not body["context"]["draftOrders"]["entry"]:
        raise Unusable(f"hook {hook} needs a draft order: the Bundle has no draft ServiceRequest; add --draft")
    return body


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None,
        stdin: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    stdin = stdin or sys.stdin
    from service.engine import KneeDomain  # noqa: PLC0415  the engine loads the code sets

    try:
        domain = KneeDomain(load_settings(os.environ))
        now = parse_now(args.now)
        body = _request(_read(args.file, stdin), domain, args)
    except (Unusable, ConfigError) as err:
        print(f"knee-cds triage: {err}", file=stderr)
        return EXIT_UNREADABLE
    result = run_request(domain, body, now)
    if args.json:
        stdout.write(json.dumps(result.body, indent=2) + "\n")
    if not result.ok:
        print(f"knee-cds triage: the service refuses this request (HTTP {result.status}): "
              f"{outcome_reason(result.body)}", file=stderr)
        return EXIT_UNREADABLE
    if not args.json:
        stdout.write(format_response(result.body, colour=stdout.isatty()))
    return EXIT_OK
