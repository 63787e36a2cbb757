"""hypothesis strategies for the reliability battery: hostile and odd requests to every endpoint.

Each strategy draws one :class:`Case` (method, path, headers, body bytes). Hook bodies start from a
well-formed request with realistic chart content (resources coded from the shared code sets, so the
rules run) and then vary what an EHR controls: values of every JSON type where a date, a quantity
or a reference belongs, Bundles with odd entries and ``next`` links, null / OperationOutcome / junk
prefetch values, odd fhirServer and fhirAuthorization, and now and then a broken top-level field.
Feedback is varied the same way, including timestamps at the limits of the calendar and U+0000.

Speed: a case is built by plain Python from a ``random.Random`` that hypothesis draws (and seeds
from its own seed, so ``derandomize`` fixes every case). Drawing each of the hundreds of values
through hypothesis costs ~200 ms a case; this costs well under 1 ms, so 2,000 cases per endpoint
fit in the suite.

No case names a host other than 127.0.0.1: a ``fhirServer`` that can be fetched from points at a
closed loopback port (``closed_port``), so generated requests never leave the machine.
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

# the shared spec folder beside the checkout (or beside the vignettes scripts/test.sh names)
SHARED = (Path(os.environ["KNEE_CDS_VIGNETTES"]).parent if os.environ.get("KNEE_CDS_VIGNETTES")
          else Path(__file__).resolve().parents[2].parent / "shared")
SERVICES = {"patient-view": "knee-pain-triage", "encounter-start": "knee-pain-encounter-triage",
            "order-select": "knee-order-advisor", "order-sign": "knee-order-check"}
SEARCH_KEYS = {"encounters": "Encounter", "conditions": "Condition", "observations": "Observation",
               "medicationRequests": "MedicationRequest", "medicationStatements": "MedicationStatement",
               "procedures": "Procedure", "serviceRequests": "ServiceRequest"}

# Strings that broke, or could break, a layer: NUL, log-line forgery, non-Latin-1, format tokens,
# calendar limits, URLs the URL parsers refuse.
HOSTILE_STRINGS = [
    "", " ", "\x00", "a\x00b", "\r\nFORGED 2026-01-01 ERROR forged line", "\x1b[31mred", "€", "😀",
    "ÿ", "\u202e", "\ufeff", "x" * 300, "x" * 5000, "../../etc/passwd", "%00", "%zz", "{{context.patientId}}",
    "Patient/", "/", "#", "#med", "Medication/", "Medication/a/b", "null", "NaN", "1e999", "-0",
    "http://[::1", "http://127.0.0.1:99999/fhir", "http://127.0.0.1:abc/fhir", "javascript:alert(1)",
]
ODD_DATES = ["9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00", "9999-12-31", "0001-01-01",
             "0000-00-00", "2026-02-30", "2026-13-01T00:00:00Z", "2026-03-01T25:61:61Z", "2026", "2026-03",
             "1900-01-01", "2999-01-01", "2026-03-01T10:00:00", "2026-03-01T10:00:00+25:00", "tomorrow"]
DATES = ["2026-03-01", "2026-03-01T10:00:00Z", "2026-02-28T23:59:59+14:00", "2025-12-01T08:00:00-05:00",
         "1950-06-15", "2010-01-01", "1985-07-04", "2026-03-02T10:05:00.123456789Z", "2026-02-20T09:00:00Z"]
UNITS = ["ng/mL", "mg/L", "ug/L", "ug/mL", "mg/L FEU", "ng/mL{FEU}", "mmol/L", "%", "cm", "mm", "/min",
         "Cel", "[degF]", "mm[Hg]", "10*9/L", "g/dL", "kg", "a"]
STATUSES = ["final", "preliminary", "amended", "active", "completed", "entered-in-error", "draft",
            "in-progress", "finished", "cancelled", "unknown", "on-hold", "stopped"]
FEEDBACK_TIMESTAMPS = ["2026-03-02T10:05:00Z", "2026-03-02T10:05:00+01:00", "2026-03-02T10:05:00",
                       "9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59Z",
                       "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999-12:00", "0001-01-01T00:00:00+14:00",
                       "2026-02-30T10:00:00Z", "2026-03-02", "2026-03-02T10:05:00.1234567Z"]


@dataclass
class Case:
    endpoint: str               # summary bucket: a service id, "feedback", "discovery", "odd"
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    feedback_items: int = 0     # items a 200 acknowledges (feedback only)

    def describe(self) -> str:
        body = (self.body or b"")[:600].decode("utf-8", "replace")
        return f"{self.method} {self.path[:200]} {self.headers} {body}"


def _codings() -> list[dict[str, str]]:
    """Every coding of the shared code sets: generated resources carry codes the rules react to."""
    try:
        sets = json.loads((SHARED / "spec" / "codesets.json").read_text())
    except (OSError, ValueError):
        sets = {}
    out = [{k: code[k] for k in ("system", "code", "display") if k in code}
           for entry in sets.values() if isinstance(entry, dict)
           for code in entry.get("codes", []) if isinstance(code, dict) and "code" in code]
    return out or [{"system": "http://snomed.info/sct", "code": "128053003"}]


CODINGS = _codings()


class Gen:
    """Builds JSON from one ``random.Random``: realistic values, with junk at a given rate."""

    def __init__(self, rnd: random.Random, junk: float):
        self.r = rnd
        self.junk_rate = junk

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def text(self) -> str:
        r = self.r
        if r.random() < 0.5:
            return r.choice(HOSTILE_STRINGS)
        alphabet = "abcXYZ019 -_/.:%{}\x00\n\r\t\"\\€😀ÿ\u0301"
        return "".join(r.choice(alphabet) for _ in range(r.randint(0, 12)))

    def junk(self, depth: int = 0) -> Any:
        r = self.r
        kind = r.randint(0, 8 if depth < 2 else 5)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False])
        if kind == 2:
            return r.choice([0, -1, 1, 2 ** 31, -(2 ** 63), 2 ** 70, 10 ** 30])
        if kind == 3:
            return r.choice([0.5, -1e308, 1e-300, 3.14159, 1e308])
        if kind in (4, 5):
            return self.text()
        if kind in (6, 7):
            return [self.junk(depth + 1) for _ in range(r.randint(0, 3))]
        return {self.text(): self.junk(depth + 1) for _ in range(r.randint(0, 3))}

    def v(self, good: Callable[[], Any] | Any) -> Any:
        """``good`` (a value, or a callable making one), or junk at the junk rate."""
        if self.chance(self.junk_rate):
            return self.junk()
        return good() if callable(good) else good

    def date(self) -> Any:
        return self.v(lambda: self.r.choice(DATES) if self.chance(0.8) else self.r.choice(ODD_DATES))

    def codeable(self) -> Any:
        return self.v(lambda: {"coding": [dict(self.r.choice(CODINGS)) for _ in range(self.r.randint(1, 2))],
                               **({"text": self.text()} if self.chance(0.2) else {})})

    def quantity(self) -> Any:
        r = self.r
        return self.v(lambda: {
            "value": self.v(lambda: r.choice([r.uniform(0, 2000), r.randint(0, 500), 0, -5, 1e12])),
            "unit": self.v(lambda: r.choice(UNITS)), "system": "http://unitsofmeasure.org",
            "code": self.v(lambda: r.choice(UNITS)),
            **({"comparator": self.v(lambda: r.choice(["<", "<=", ">", ">="]))} if self.chance(0.15) else {})})

    def ref(self, *targets: str) -> Any:
        return self.v(lambda: {"reference": self.r.choice(list(targets) + ["#m1", "Medication/", "x"])})

    def optional(self, resource: dict[str, Any], fields: dict[str, Callable[[], Any]], keep: float = 0.7):
        for name, make in fields.items():
            if self.chance(keep):
                resource[name] = make()
        return resource

    def resource(self, rtype: str, rid: str) -> dict[str, Any]:
        r = self.r
        res: dict[str, Any] = {"resourceType": rtype, "id": self.v(rid)}
        status = lambda: self.v(lambda: r.choice(STATUSES))  # noqa: E731
        clinical = lambda: self.v(lambda: {"coding": [{"code": r.choice(  # noqa: E731
            ["active", "resolved", "inactive", "refuted", "confirmed", "unconfirmed", "entered-in-error"])}]})
        fields: dict[str, Callable[[], Any]] = {
            "Patient": {"birthDate": self.date, "gender": lambda: self.v(lambda: r.choice(["female", "male", "other"])),
                        "deceasedBoolean": lambda: self.v(False), "deceasedDateTime": self.date},
            "Encounter": {"status": status, "class": lambda: self.v({"code": r.choice(["EMER", "AMB", "IMP"])}),
                          "type": lambda: self.v(lambda: [self.codeable()]),
                          "reasonCode": lambda: self.v(lambda: [self.codeable()]),
                          "period": lambda: self.v(lambda: {"start": self.date()})},
            "Condition": {"code": self.codeable, "clinicalStatus": clinical, "verificationStatus": clinical,
                          "onsetDateTime": self.date, "recordedDate": self.date,
                          "bodySite": lambda: self.v(lambda: [self.codeable()]),
                          "subject": lambda: self.ref("Patient/p1")},
            "Observation": {"status": status, "code": self.codeable, "valueQuantity": self.quantity,
                            "valueCodeableConcept": self.codeable, "effectiveDateTime": self.date,
                            "issued": self.date,
                            "component": lambda: self.v(lambda: [{"code": self.codeable(),
                                                                  "valueQuantity": self.quantity()}])},
            "MedicationRequest": {"status": status, "intent": lambda: self.v("order"),
                                  "medicationCodeableConcept": self.codeable,
                                  "medicationReference": lambda: self.ref("Medication/m1", "Medication/m2"),
                                  "authoredOn": self.date,
                                  "contained": lambda: self.v(lambda: [{"resourceType": "Medication", "id": "m1",
                                                                        "code": self.codeable()}])},
            "MedicationStatement": {"status": status, "medicationCodeableConcept": self.codeable,
                                    "medicationReference": lambda: self.ref("Medication/m1"),
                                    "effectiveDateTime": self.date},
            "Procedure": {"status": status, "code": self.codeable, "performedDateTime": self.date,
                          "performedPeriod": lambda: self.v(lambda: {"start": self.date()})},
            "ServiceRequest": {"status": status, "intent": lambda: self.v("order"), "code": self.codeable,
                               "authoredOn": self.date, "reasonCode": lambda: self.v(lambda: [self.codeable()]),
                               "subject": lambda: self.ref("Patient/p1")},
            "Medication": {"code": self.codeable},
        }[rtype]
        return self.optional(res, fields)

    def bundle(self, rtype: str) -> dict[str, Any]:
        r = self.r
        entries = []
        for i in range(r.randint(0, 5)):
            kind = r.choice([rtype] * 6 + ["Medication", "OperationOutcome"])
            res = self.resource(kind, f"{kind[:2].lower()}{i}") if kind != "OperationOutcome" else {
                "resourceType": "OperationOutcome", "issue": [{"severity": r.choice(["warning", "error"]),
                                                              "code": "processing"}]}
            entry: dict[str, Any] = {"resource": self.v(res)}
            if self.chance(0.4):
                entry["search"] = self.v(lambda: {"mode": r.choice(["match", "include", "outcome"])})
            if self.chance(0.2):
                entry["fullUrl"] = self.v(lambda: f"http://127.0.0.1:1/fhir/{kind}/{i}")
            entries.append(self.v(entry))
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": self.v("searchset"), "entry": self.v(entries)}
        if self.chance(0.15):
            bundle["link"] = self.v(lambda: [{"relation": self.v("next"), "url": self.v(lambda: r.choice(
                ["http://[::1", "http://127.0.0.1:99999/x", f"{rtype}?page=2", "", "%zz", "javascript:x",
                 "http://127.0.0.1:1/fhir/Observation?page=2"]))}])
        return bundle

    def prefetch_value(self, key: str, rtype: str) -> Any:
        r = self.r
        roll = r.random()
        if roll < 0.06:
            return None
        if roll < 0.1:
            return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
        if roll < 0.14:
            return self.junk()
        if key == "patient":
            return self.resource("Patient", "p1")
        if key == "encounter":
            return self.resource("Encounter", "e1")
        return self.bundle(rtype)


def _encode(body: Any, rnd: random.Random) -> bytes:
    raw = json.dumps(body, ensure_ascii=rnd.random() < 0.5).encode("utf-8", "surrogatepass")
    roll = rnd.random()
    if roll < 0.03:
        return raw[: rnd.randint(0, max(0, len(raw) - 1))]               # truncated JSON
    if roll < 0.05:
        return b"[" * 70 + b"1" + b"]" * 70                              # deeper than allowed
    if roll < 0.06:
        return raw.replace(b"{", b"{\"x\":" + b"[" * 65 + b"]" * 65 + b",", 1)  # deep inside an object
    return raw


def build_hook_case(rnd: random.Random, hook: str, closed_port: int) -> Case:
    g = Gen(rnd, junk=rnd.choice([0.0, 0.05, 0.15, 0.3]))
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": "p1"}
    if hook == "encounter-start" or g.chance(0.2):
        context["encounterId"] = "e1"
    if hook in ("order-select", "order-sign"):
        drafts = [g.resource(rnd.choice(["ServiceRequest", "ServiceRequest", "MedicationRequest"]), f"sr{i}")
                  for i in range(rnd.randint(0, 3))]
        for d in drafts:
            d["status"] = "draft" if g.chance(0.8) else d.get("status")
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": d} for d in drafts]}
    if hook == "order-select":
        context["selections"] = [f"{d['resourceType']}/{d['id']}" for d in drafts if isinstance(d.get("id"), str)][:1]
    keys = {"patient": "Patient", **({"encounter": "Encounter"} if hook == "encounter-start" else {}), **SEARCH_KEYS}
    prefetch = {k: g.prefetch_value(k, t) for k, t in keys.items() if not g.chance(0.05)}
    body: dict[str, Any] = {"hook": hook, "hookInstance": f"{rnd.getrandbits(128):032x}",
                            "context": context, "prefetch": prefetch}
    roll = rnd.random()
    if roll < 0.1:
        body["fhirServer"] = rnd.choice([f"http://127.0.0.1:{closed_port}/fhir", f"http://127.0.0.1:{closed_port}/"])
    elif roll < 0.2:
        body["fhirServer"] = rnd.choice([
            "http://127.0.0.1:99999/fhir", "http://127.0.0.1:abc/fhir", "http://[::1/fhir", "http://[::1]:99999/f",
            "ftp://127.0.0.1/fhir", "http://u:p@127.0.0.1/fhir", "http:///fhir", "http://127.0.0.1:0/fhir",
            f"http://127.0.0.1:{closed_port}/fhir\r\nX: y", "http://127.0.0.1 /fhir", g.text(), None, 5])
    if rnd.random() < 0.1:
        body["fhirAuthorization"] = g.v(lambda: {
            "access_token": rnd.choice(["abc.def.ghi", "€", "token😀", "a b", "\x00", "ÿ", "t\r\nX: y", g.text()]),
            "token_type": g.v("Bearer"), "expires_in": g.v(300), "scope": g.v("patient/*.read"),
            "subject": g.v("ehr")})
        body.setdefault("fhirServer", f"http://127.0.0.1:{closed_port}/fhir")
    # now and then a broken top-level or context field (the 400 paths)
    for _ in range(rnd.choice([0, 0, 0, 0, 1, 2])):
        where = body if g.chance(0.5) else context
        name = rnd.choice(list(where) + ["extension"])
        if g.chance(0.2):
            where.pop(name, None)
        else:
            where[name] = g.junk()
    return Case(SERVICES[hook], "POST", f"/cds-services/{SERVICES[hook]}", _encode(body, rnd),
                {"Content-Type": rnd.choice(["application/json"] * 8 + ["application/fhir+json",
                                                                         "application/json; charset=utf-8"])})


def build_feedback_case(rnd: random.Random) -> Case:
    g = Gen(rnd, junk=rnd.choice([0.0, 0.0, 0.05, 0.2]))
    items = []
    for _ in range(rnd.randint(1, 3)):
        outcome = g.v(lambda: rnd.choice(["accepted", "overridden"]))
        item: dict[str, Any] = {"card": g.v(lambda: f"{rnd.getrandbits(128):032x}"), "outcome": outcome,
                                "outcomeTimestamp": g.v(lambda: rnd.choice(FEEDBACK_TIMESTAMPS))}
        if outcome == "accepted":
            item["acceptedSuggestions"] = g.v(lambda: [{"id": g.v(lambda: f"{rnd.getrandbits(64):x}")}])
        elif g.chance(0.7):
            item["overrideReason"] = g.v(lambda: g.optional({}, {
                "reason": lambda: g.v(lambda: {"system": g.v("http://example.org/override"),
                                               "code": g.v(lambda: rnd.choice(["not-relevant", "\x00", g.text()])),
                                               "display": g.v(g.text)}),
                "userComment": lambda: g.v(g.text)}))
        items.append(g.v(item))
    body: Any = {"feedback": items} if not g.chance(0.05) else g.junk()
    service = rnd.choice(list(SERVICES.values()) + ["unknown-service"])
    acknowledged = len(items) if isinstance(body, dict) and body.get("feedback") is items else 0
    return Case("feedback", "POST", f"/cds-services/{service}/feedback", _encode(body, rnd),
                {"Content-Type": "application/json"}, feedback_items=acknowledged)


HEADER_VALUES = ["application/json", "application/fhir+json", "text/plain", "", "*/*", "gzip", "chunked",
                 "gzip, chunked", "100-continue", "identity",
                 "application/json; charset=latin-1", "multipart/form-data; boundary=x", "https://ehr.example.org",
                 "Bearer abc", "Bearer", "null", "x" * 2000, "\u00e9t\u00e9"]


def _headers(rnd: random.Random, names: list[str]) -> dict[str, str]:
    return {rnd.choice(names): rnd.choice(HEADER_VALUES) for _ in range(rnd.randint(0, 3))}


def build_discovery_case(rnd: random.Random) -> Case:
    path = "/cds-services" + rnd.choice(["", "", "", "?x=1", "?" + "a" * 100, "?%00", "?x=%zz"])
    method = rnd.choice(["GET", "GET", "GET", "HEAD", "OPTIONS"])
    headers = _headers(rnd, ["Origin", "Accept", "Authorization", "X-Forwarded-Host", "Content-Type",
                             "Access-Control-Request-Method", "If-None-Match"])
    return Case("discovery", method, path, None, {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()})


ODD_PATHS = ["/", "/cds-services/", "//cds-services", "/cds-services//knee-pain-triage",
             "/cds-services/knee-pain-triage/", "/cds-services/knee-pain-triage//feedback",
             "/cds-services/unknown", "/cds-services/unknown/feedback", "/cds-services/knee-pain-triage/feedback/x",
             "/cds-services/%00", "/cds-services/..%2f..%2fetc", "/cds-services/" + "a" * 3000, "/static/x",
             "/cds-services/knee-pain-triage%0d%0aX:y", "/favicon.ico", "/cds-services/%ff",
             "/cds-services/knee-pain-triage", "/cds-services/knee-order-check/feedback", "/cds-services"]


def build_odd_case(rnd: random.Random) -> Case:
    method = rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "FOO"])
    if rnd.random() < 0.6:
        path = rnd.choice(ODD_PATHS)
    else:
        path = "/cds-services/" + "".join(rnd.choice("abc/%.-_~019") for _ in range(rnd.randint(0, 30)))
    headers = _headers(rnd, ["Content-Type", "Origin", "Access-Control-Request-Method", "Authorization",
                             "Transfer-Encoding", "Expect", "Content-Encoding"])
    body = rnd.choice([None, bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64))), b'{"feedback": []}',
                       b'{"hook": "patient-view"}', b"{}"])
    return Case("odd", method, path, body, {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()})


def _cases(build: Callable[[random.Random], Case]) -> st.SearchStrategy[Case]:
    # use_true_random=True: hypothesis seeds the Random from its own (derandomized) seed and does
    # not record each call, which is what keeps generation cheap
    return st.randoms(use_true_random=True).map(build)


def endpoint_strategies(closed_port: int) -> dict[str, st.SearchStrategy[Case]]:
    """One strategy per battery endpoint (the summary counts cases per endpoint)."""
    out = {service: _cases(lambda r, hook=hook: build_hook_case(r, hook, closed_port))
           for hook, service in SERVICES.items()}
    out["feedback"] = _cases(build_feedback_case)
    out["discovery"] = _cases(build_discovery_case)
    out["odd"] = _cases(build_odd_case)
    return out
