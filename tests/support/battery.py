"""The reliability battery's bookkeeping and its one summary line (loaded by tests/conftest.py).

:data:`STATS` collects what the battery tests saw; ``pytest_terminal_summary`` prints one line:
cases tried, 5xx seen, feedback rows acknowledged vs stored. Also the HTTP sender the battery uses:
requests sent concurrently (thread-local sessions), every answer checked against contract §7.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from tests.support.fuzz_strategies import Case


@dataclass
class BatteryStats:
    cases: Counter = field(default_factory=Counter)          # (store, endpoint) -> cases sent
    server_errors: Counter = field(default_factory=Counter)  # store -> 5xx answers in the fuzz
    load_unexpected_5xx: Counter = field(default_factory=Counter)
    acknowledged: Counter = field(default_factory=Counter)   # store -> feedback items answered 200
    stored: Counter = field(default_factory=Counter)         # store -> feedback rows in the store

    def line(self) -> str:
        stores = sorted({s for s, _ in self.cases} | set(self.acknowledged))
        per_store = ", ".join(f"{s} {sum(n for (t, _), n in self.cases.items() if t == s)}" for s in stores)
        rows = ", ".join(f"{s} {self.acknowledged[s]}/{self.stored[s]}" for s in stores)
        return (f"reliability battery: {sum(self.cases.values())} cases tried ({per_store}); "
                f"5xx seen {sum(self.server_errors.values())} (load, outside store outages: "
                f"{sum(self.load_unexpected_5xx.values())}); feedback rows acknowledged/stored: {rows or 'none'}")


STATS = BatteryStats()


def pytest_terminal_summary(terminalreporter) -> None:
    if STATS.cases or STATS.acknowledged:
        terminalreporter.write_line(STATS.line())


@dataclass
class Answer:
    case: Case
    status: int | None          # None: no HTTP answer (connection closed)
    problem: str | None         # why the answer breaks contract §7, or None


def check_answer(case: Case, resp: requests.Response) -> str | None:
    """None when the answer keeps contract §7: no 5xx, every non-2xx but 401 an OperationOutcome."""
    if resp.status_code >= 500:
        return f"{resp.status_code}"
    if "Traceback" in resp.text:
        return "stack trace in the answer"
    if resp.status_code < 300 or resp.status_code == 401 or case.method == "HEAD":
        return None
    try:
        body = resp.json()
    except ValueError:
        return f"{resp.status_code} without a JSON body ({resp.headers.get('Content-Type')})"
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome" or not body.get("issue"):
        return f"{resp.status_code} without an OperationOutcome"
    return None


class Sender:
    """Sends cases to one server from ``threads`` threads; answers are collected as futures."""

    def __init__(self, base_url: str, threads: int = 8, timeout_s: float = 60):
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="battery")
        self.futures: list[Future] = []

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
        return session

    def submit(self, case: Case) -> None:
        self.futures.append(self._pool.submit(self.send, case))

    def send(self, case: Case) -> Answer:
        try:
            resp = self._session().request(case.method, self.base_url + case.path, data=case.body,
                                           headers=case.headers, timeout=self.timeout_s, allow_redirects=False)
        except requests.ConnectionError as err:
            return Answer(case, None, None if case.endpoint == "odd" else f"no answer ({type(err).__name__})")
        return Answer(case, resp.status_code, check_answer(case, resp))

    def results(self) -> list[Answer]:
        answers = [f.result() for f in self.futures]
        self.futures = []
        return answers

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def describe_problems(answers: list[Answer], limit: int = 5) -> str:
    bad = [a for a in answers if a.problem]
    kinds = Counter(a.problem for a in bad)
    lines = [f"{len(bad)} answer(s) break contract §7: {dict(kinds)}"]
    lines += [f"  {a.problem}: {a.case.describe()}" for a in bad[:limit]]
    return "\n".join(lines)


def dumps(value) -> bytes:
    return json.dumps(value).encode("utf-8")
