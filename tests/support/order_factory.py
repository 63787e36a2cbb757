"""Small builders for order-advice unit tests (clinical-rules §6.16).

Everything is built by hand: Facts, pathway CardDrafts (as assembly would leave them), DraftOrders
and FHIR ServiceRequest drafts. ``FakeTerminology`` stands in for service.terminology with the two
methods order advice needs (``orderables_for``, ``sets_for``), using the contract §5 catalog.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from service.cards.draft import CardDraft, NotSuggested, Suggest
from service.chart.facts import Anticoagulation, Facts, Pregnancy, Reading, Setting, Source, Value
from service.chart.draft_orders import DraftOrder
from service.pathways.state import Triage

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
ORDERABLE_SYSTEM = "http://knee-cds.example/fhir/CodeSystem/orderable"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"

# contract §5 (first LOINC / CPT code of each entry is enough for the tests; all are listed)
CATALOG: dict[str, list[tuple[str, str]]] = {
    "venous-duplex-us": [(LOINC, c) for c in ("69385-3", "69392-9", "46363-8", "48691-0", "48692-8",
                                              "30881-7", "39420-5", "39443-7", "39432-0", "69399-4")]
    + [(CPT, "93970"), (CPT, "93971")],
    "popliteal-us": [(LOINC, c) for c in ("24881-5", "26262-6", "26263-4", "26264-2")]
    + [(CPT, "76881"), (CPT, "76882")],
    "knee-xray": [(LOINC, c) for c in ("24806-2", "36709-4", "44198-0", "30788-4", "30789-2", "24805-4",
                                       "24809-6", "26087-7", "26086-9", "28565-0")]
    + [(CPT, c) for c in ("73560", "73562", "73564", "73565")],
    "mri-knee": [(LOINC, c) for c in ("30691-0", "36510-6", "36508-0", "36506-4")] + [(CPT, "73721")],
    "d-dimer": [(LOINC, c) for c in ("48065-7", "48066-5", "48058-2", "48067-3", "71427-9", "91556-1")]
    + [(CPT, "85379")],
    "cbc": [(LOINC, "58410-2"), (LOINC, "57021-8"), (CPT, "85025"), (CPT, "85027")],
    "crp": [(LOINC, "1988-5"), (CPT, "86140")],
    "esr": [(LOINC, "4537-7"), (LOINC, "30341-2"), (CPT, "85652")],
    "blood-culture": [(LOINC, "600-7"), (CPT, "87040")],
    "arthrocentesis": [(CPT, "20610")],
    "uric-acid": [(LOINC, "3084-1"), (CPT, "84550")],
    "rheumatoid-factor": [(LOINC, "11572-5"), (CPT, "86431")],
    "anti-ccp": [(LOINC, "32218-0"), (CPT, "86200")],
    "abi": [(CPT, "93922"), (CPT, "93923"), (CPT, "93924")],
    "arterial-duplex": [(LOINC, c) for c in ("44174-1", "39422-1", "39442-9", "39431-2")]
    + [(CPT, "93925"), (CPT, "93926")],
    "ctpa": [(CPT, "71275")],
}
KNEE_PAIN_REASONS = {(ICD10, "M25.561"): "knee-pain", (ICD10, "M25.562"): "knee-pain"}


class FakeTerminology:
    """The two service.terminology methods order advice uses."""

    def __init__(self) -> None:
        self._index: dict[tuple[str, str], set[str]] = {}
        for orderable, codes in CATALOG.items():
            self._index.setdefault((ORDERABLE_SYSTEM, orderable), set()).add(orderable)
            for code in codes:
                self._index.setdefault(code, set()).add(orderable)
        self.calls: list[tuple[str, Any]] = []

    def orderables_for(self, codings: Iterable[dict]) -> frozenset[str]:
        out: set[str] = set()
        for c in codings:
            out |= self._index.get((str(c.get("system", "")).strip(), str(c.get("code", "")).strip()), set())
        return frozenset(out)

    def sets_for(self, element: str, codings: Iterable[dict]) -> frozenset[str]:
        self.calls.append((element, codings))
        if element != "ServiceRequest.reasonCode":
            return frozenset()
        return frozenset(KNEE_PAIN_REASONS[(c.get("system"), c.get("code"))] for c in codings
                         if (c.get("system"), c.get("code")) in KNEE_PAIN_REASONS)


# -- FHIR drafts ---------------------------------------------------------------------------------
def sr(rid: str, orderable: str | None = None, *, codings: list[dict] | None = None,
       status: str = "draft", priority: str | None = None, occurrence: str | None = None,
       period_start: str | None = None, reason: list[dict] | None = None) -> dict:
    """A draft ServiceRequest coded with the first catalog code of ``orderable``."""
    if codings is None:
        system, code = CATALOG[orderable][0] if orderable else ("http://example.org/local", "X1")
        codings = [{"system": system, "code": code}]
    res: dict[str, Any] = {"resourceType": "ServiceRequest", "id": rid, "status": status, "intent": "order",
                           "code": {"coding": codings, "text": orderable or "local test"},
                           "subject": {"reference": "Patient/p1"}}
    if priority:
        res["priority"] = priority
    if occurrence:
        res["occurrenceDateTime"] = occurrence
    if period_start:
        res["occurrencePeriod"] = {"start": period_start}
    if reason is not None:
        res["reasonCode"] = [{"coding": reason}]
    return res


def bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{r.get('id')}", "resource": r} for r in resources]}


def draft(rid: str, *orderables: str, selected: bool = False, priority: str = "routine",
          day: str | None = None, index: int = 0, text: str | None = None) -> DraftOrder:
    resource = {"resourceType": "ServiceRequest", "id": rid, "status": "draft",
                "code": {"text": text or (orderables[0] if orderables else "unknown")}}
    return DraftOrder(id=rid, resource=resource, orderables=frozenset(orderables), reason_sets=frozenset(),
                      priority=priority, occurrence_day=day, selected=selected, index=index)


def drafts(*items: DraftOrder) -> list[DraftOrder]:
    """Give the drafts their entry order."""
    for i, d in enumerate(items):
        d.index = i
    return list(items)


# -- facts ---------------------------------------------------------------------------------------
def reading(code: str, value: Any, hours_ago: float = 1.0) -> Reading:
    t = NOW - timedelta(hours=hours_ago)
    src = Source(ref=f"Observation/obs-{code}", time=t, status="final")
    return Reading(value=value, winner=Value(value=value, source=src, time=t))


def facts(*, age: int | None = 55, pregnancy: str = "not-pregnant", ka: dict[str, Any] | None = None,
          radiographs: list[tuple[str, float]] | None = None, anticoag: str = "none",
          pre_existing: bool | None = None, imaging_first: bool = False) -> Facts:
    """Facts at NOW. ``radiographs``: (result, days ago) pairs of ka:knee-radiograph-result."""
    f = Facts(now=NOW, patient_ref="Patient/p1", age=age, birth_date=None, gender="female", deceased=False)
    f.ka = {code: reading(code, value) for code, value in (ka or {}).items()}
    f.pregnancy = Pregnancy(pregnancy, [Source("Observation/obs-preg", NOW - timedelta(days=1), "final")]
                            if pregnancy in ("pregnant", "postpartum") else [])
    f.anticoagulation = Anticoagulation(anticoag, [Source("MedicationRequest/apixaban", NOW - timedelta(days=200),
                                                          "active")] if anticoag != "none" else [],
                                        pre_existing=pre_existing)
    f.setting = Setting(None, imaging_first, imaging_first=imaging_first,
                        imaging_first_reason="inpatient" if imaging_first else "")
    for result, days in radiographs or []:
        t = NOW - timedelta(days=days)
        f.radiographs.append(Value(result, Source(f"Observation/xr-{days}", t, "final"), t))
    return f


# -- pathway cards (after assembly) --------------------------------------------------------------
def card(topic: str, tier: str, rules: list[str], *, suggest: Iterable[str] = (),
         not_suggested: dict[str, str] | None = None, on_record: Iterable[str] = (),
         guidelines: Iterable[str] = (), scores: dict | None = None,
         suggestions: list[Suggest] | None = None) -> CardDraft:
    c = CardDraft(topic=topic, tier=tier, rules=list(rules), guidelines=list(guidelines),
                  scores=dict(scores or {}))
    main = rules[0] if rules else topic
    c.suggestions = list(suggestions or []) + [Suggest(o, main, f"{o} wanted by {main}") for o in suggest]
    c.not_recommended = [NotSuggested(o, r) for o, r in (not_suggested or {}).items()]
    if on_record:
        c.meta["already_on_record"] = list(on_record)
    return c


def dvt_likely_card(tier: str = "emergency-same-day") -> CardDraft:
    """§6.3 L1 (V01/V26 chart): Wells 4, US none, scan within 4 h."""
    return card("dvt-pathway", tier, ["DVT-LIKELY-US4H"], suggest=["venous-duplex-us"],
                not_suggested={"d-dimer": "only if the scan is negative", "knee-xray": "once DVT is excluded",
                               "mri-knee": "once DVT is excluded", "popliteal-us": "once DVT is excluded"},
                guidelines=["ng158"], scores={"wellsDvt": {"min": 4, "max": 4, "class": "likely"}})


def triage(f: Facts | None = None, ds: list[DraftOrder] | None = None, hook: str = "order-sign",
           **state: Any) -> Triage:
    t = Triage(facts=f or facts(), hook=hook, drafts=list(ds or []))
    for key, value in state.items():
        setattr(t, key, value)
    return t
