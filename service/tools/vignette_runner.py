"""``knee-cds vignettes DIR``: run acceptance cases (contract §9) in process or against a service.

In process (the default) every case goes through the real app (``create_app``) with a test client;
with ``--service URL`` it goes over HTTP to a running knee-cds, found through discovery. Prefetch mode
fills the prefetch as an EHR does; fetch mode loads the case into a FHIR server (``--fhir-server``)
and sends only ``fhirServer``, so the service reads the chart itself. A case whose ``config`` the
target does not run with is built in process with that configuration, and skipped against a remote
service. One line per case and mode; the last line is ``N passed, M failed``.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TextIO

import requests

from service.tools import vignettes

MODES = ("prefetch", "fetch")
HTTP_TIMEOUT_S = 60


@dataclass(frozen=True)
class CaseResult:
    case: str
    mode: str
    outcome: str            # PASS / FAIL / SKIP
    detail: str = ""
    problems: tuple[str, ...] = ()

    def line(self) -> str:
        text = f"{self.outcome} {self.case} [{self.mode}] {self.detail}".rstrip()
        return text + (": " + "; ".join(self.problems) if self.problems else "")


class Target:
    """Where hook requests go: ``post(hook, body, config) -> (status, json)`` or None to skip."""

    def post(self, hook: str, body: dict[str, Any], config: dict[str, str]) -> tuple[int, Any] | None:
        raise NotImplementedError

    def service_id(self, hook: str) -> str:
        return vignettes.service_for(hook).id


@dataclass
class InProcess(Target):
    """The real app in this process; one app per distinct vignette ``config``."""

    apps: dict[tuple, Any] = field(default_factory=dict)
    folder: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="knee-cds-vignettes-"))

    def _client(self, config: dict[str, str]):
        key = tuple(sorted(config.items()))
        if key not in self.apps:
            from service.app import create_app  # noqa: PLC0415  the app loads the engine

            environ = {"KNEE_CDS_AUTH": "off", **config}
            self.apps[key] = create_app({"ENVIRON": environ, "INSTANCE_PATH": f"{self.folder}/{len(self.apps)}",
                                         "RETENTION_THREAD": False}).test_client()
        return self.apps[key]

    def post(self, hook, body, config):
        response = self._client(config).post(f"/cds-services/{self.service_id(hook)}", json=body)
        return response.status_code, response.get_json(silent=True)


@dataclass
class Remote(Target):
    """A running knee-cds over HTTP; its services are found through discovery."""

    base: str
    ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        found = requests.get(f"{self.base}/cds-services", timeout=HTTP_TIMEOUT_S).json()
        self.ids = {s["hook"]: s["id"] for s in found.get("services", []) if isinstance(s, dict)}

    def service_id(self, hook: str) -> str:
        return self.ids.get(hook) or vignettes.service_for(hook).id

    def post(self, hook, body, config):
        if config:
            return None
        response = requests.post(f"{self.base}/cds-services/{self.service_id(hook)}", json=body,
                                 timeout=HTTP_TIMEOUT_S)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None


def run_case(vignette: dict[str, Any], mode: str, target: Target, fhir_server: str | None,
             run_id: str) -> CaseResult:
    case = str(vignette.get("id", "?"))
    config = {str(k): str(v) for k, v in (vignette.get("config") or {}).items()}
    if mode == "fetch" and not fhir_server:
        return CaseResult(case, mode, "SKIP", "fetch mode needs --fhir-server URL")
    now = vignettes.make_now()
    loaded = vignettes.prepare(vignette, now, prefix=f"{run_id}-{case.lower()}-")
    try:
        body = (vignettes.build_request(loaded) if mode == "prefetch"
                else vignettes.build_server_request(loaded, fhir_server))
    except (vignettes.LoadError, requests.RequestException) as err:
        return CaseResult(case, mode, "FAIL", "", (f"the FHIR server could not be loaded: {err}",))
    started = time.monotonic()
    try:
        answer = target.post(loaded.hook, body, config)
    except requests.RequestException as err:
        return CaseResult(case, mode, "FAIL", "", (f"no answer from the service: {type(err).__name__}",))
    if answer is None:
        needs = " ".join(f"{k}={v}" for k, v in config.items())
        return CaseResult(case, mode, "SKIP", f"needs service config {needs}")
    status, response = answer
    ms = (time.monotonic() - started) * 1000
    if status != 200 or not isinstance(response, dict):
        return CaseResult(case, mode, "FAIL", f"HTTP {status}", (json.dumps(response)[:300],))
    problems = vignettes.check_expect(vignette.get("expect") or {}, response) + vignettes.validate_cards(response)
    detail = f"{target.service_id(loaded.hook)} tier={vignettes.overall_tier(response)} {ms:.0f} ms"
    return CaseResult(case, mode, "FAIL" if problems else "PASS", detail, tuple(problems))


class Progress:
    """A one-line progress bar on a terminal (stderr); nothing when it is not one."""

    def __init__(self, total: int, stream: TextIO):
        self.total, self.done, self.stream = total, 0, stream
        self.active = stream.isatty() and total > 0

    def clear(self) -> None:
        if self.active:
            self.stream.write("\r\x1b[2K")

    def step(self) -> None:
        self.done += 1
        if self.active:
            width = 30
            filled = width * self.done // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
            self.stream.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="folder of vignette JSON files (contract §9)")
    parser.add_argument("--service", metavar="URL", help="a running knee-cds (default: in process)")
    parser.add_argument("--mode", choices=("prefetch", "fetch", "both"), default="prefetch")
    parser.add_argument("--fhir-server", metavar="URL", help="FHIR R4 base URL to load cases into (fetch mode)")
    parser.add_argument("--only", metavar="IDS", help="comma-separated vignette ids")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print every problem of a failed case")


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None,
        target_factory: Callable[[argparse.Namespace], Target] | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    paths = vignettes.vignette_paths(args.folder)
    if not paths:
        print(f"knee-cds vignettes: no *.json in {args.folder}", file=stderr)
        return 2
    only = {i.strip() for i in (args.only or "").split(",") if i.strip()}
    cases = []
    for path in paths:
        try:
            vignette = vignettes.load_vignette(path)
        except (OSError, ValueError) as err:
            print(f"knee-cds vignettes: {path.name} cannot be read: {err}", file=stderr)
            return 2
        if not only or vignette.get("id") in only:
            cases.append(vignette)
    try:
        target = (target_factory or _target)(args)
    except (requests.RequestException, ValueError) as err:
        print(f"knee-cds vignettes: the service at {args.service} cannot be used: {err}", file=stderr)
        return 2
    modes = MODES if args.mode == "both" else (args.mode,)
    run_id = "k" + secrets.token_hex(3)
    progress = Progress(len(cases) * len(modes), stderr)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for vignette in cases:
        for mode in modes:
            result = run_case(vignette, mode, target, args.fhir_server, run_id)
            counts[result.outcome] += 1
            progress.clear()
            line = result.line()
            stdout.write((line if args.verbose or len(line) < 400 else line[:397] + "...") + "\n")
            stdout.flush()
            progress.step()
    progress.clear()
    summary = f"{counts['PASS']} passed, {counts['FAIL']} failed"
    stdout.write(summary + (f", {counts['SKIP']} skipped" if counts["SKIP"] else "") + "\n")
    return 1 if counts["FAIL"] else 0


def _target(args: argparse.Namespace) -> Target:
    return Remote(args.service) if args.service else InProcess()
