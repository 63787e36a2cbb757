"""MedicationRequests and MedicationStatements (clinical-rules §1.12): which medication, whether it is
counted (§1.2), its anticoagulant intensity (terminology §4.1), and current use of the classes the rules
read (§1.12 item 3), W1 cancer treatment (§4.1 W1)."""
from __future__ import annotations

from service.chart.anticoagulant_intensity import classify_intensity
from service.chart.facts import MedicationFact, Source
from service.chart.fhir_json import as_dict, as_list, as_text, coding_list, concept_label, resource_ref
from service.chart.read_state import ReadState
from service.chart.windows import SIX_MONTHS, within
from service.terminology.code_sets import ANTICOAGULANT_SETS

MR_COUNTED = frozenset({"active", "on-hold"})
MS_COUNTED = frozenset({"active", "intended"})
MEDICATION_CLASSES = ("antineoplastic-therapy", "oestrogen-therapy", "serm", "testosterone", "gout-medication")
# §1.12 item 3: sets whose Condition/Encounter reason codes count as current use (oestrogen, SERM)
LONG_TERM_USE_CLASSES = ("oestrogen-therapy", "serm")
_ANTICOAGULANTS = frozenset(ANTICOAGULANT_SETS)


class _Coded:
    """What a medication is: matched sets, its codings, a display, the site-map note, resolved or not."""

    __slots__ = ("sets", "codings", "display", "via", "resolved")

    def __init__(self, sets: frozenset[str], codings: list[dict], display: str, via: str, resolved: bool):
        self.sets, self.codings, self.display, self.via, self.resolved = sets, codings, display, via, resolved


_UNRESOLVED = _Coded(frozenset(), [], "", "", False)


def _resolve_reference(r: ReadState, res: dict) -> dict | None:
    """§1.12 item 1: a contained Medication (#id) first, then chart.medications["Medication/<id>"]."""
    ref = as_text(as_dict(res.get("medicationReference")).get("reference"))
    if not ref:
        return None
    if ref.startswith("#"):
        for c in as_list(res.get("contained")):
            if as_dict(c).get("resourceType") == "Medication" and str(as_dict(c).get("id")) == ref[1:]:
                return c
        return None
    parts = ref.rstrip("/").split("/")
    key = "/".join(parts[-2:]) if len(parts) >= 2 else ref
    meds = r.chart.medications if isinstance(r.chart.medications, dict) else {}
    med = meds.get(key) or meds.get(ref)
    return med if isinstance(med, dict) else None


def _medication_codes(r: ReadState, res: dict, kind: str) -> _Coded:
    if "medicationCodeableConcept" in res:
        cc = res.get("medicationCodeableConcept")
        m = r.terminology.match(f"{kind}.medicationCodeableConcept", cc)
        r.note_via(m.maps)
        return _Coded(m.sets, coding_list(cc), concept_label(cc), m.via, True)
    med = _resolve_reference(r, res)
    if med is None:
        return _UNRESOLVED
    code = as_dict(med.get("code"))
    ingredients = [as_dict(i).get("itemCodeableConcept") for i in as_list(med.get("ingredient"))
                   if isinstance(as_dict(i).get("itemCodeableConcept"), dict)]
    codings = coding_list(code) + [c for cc in ingredients for c in coding_list(cc)]
    if not codings:
        return _Coded(frozenset(), [], concept_label(code), "", False)   # a Medication without a code
    m1 = r.terminology.match("Medication.code", code)
    m2 = r.terminology.match("Medication.ingredient.itemCodeableConcept", ingredients)
    r.note_via(m1.maps | m2.maps)
    display = concept_label(code) or concept_label(ingredients[0] if ingredients else {})
    return _Coded(m1.sets | m2.sets, codings, display, m1.via or m2.via, True)


def read_medication_request(r: ReadState, res: dict) -> None:
    _read_medication(r, res, "MedicationRequest")


def read_medication_statement(r: ReadState, res: dict) -> None:
    _read_medication(r, res, "MedicationStatement")


def _read_medication(r: ReadState, res: dict, kind: str) -> None:
    status = as_text(res.get("status"))
    if status not in (MR_COUNTED if kind == "MedicationRequest" else MS_COUNTED):
        return                                                    # §1.2
    ref = resource_ref(res)
    coded = _medication_codes(r, res, kind)
    if kind == "MedicationRequest":
        start = r.read_time_of(ref, res, "authoredOn", "authoredOn")
        asserted = None
        dosage = as_list(res.get("dosageInstruction"))
    else:
        if "effectivePeriod" in res:
            start, _ = r.read_time(ref, as_dict(res.get("effectivePeriod")).get("start"), "effective start")
        else:
            start = r.read_time_of(ref, res, "effectiveDateTime", "effective time")
        asserted = r.read_time_of(ref, res, "dateAsserted", "dateAsserted") or start
        dosage = as_list(res.get("dosage"))
    intensity = None
    if not _ANTICOAGULANTS.isdisjoint(coded.sets):
        intensity = classify_intensity(r, coded.codings, coded.sets, dosage[0] if dosage else None, res)
    display = coded.display if coded.resolved else f"unknown medication ({ref})"
    fact = MedicationFact(source=Source(ref, start, status, display or ref, coded.via), kind=kind, status=status,
                          sets=coded.sets, display=display or ref, resolved=coded.resolved, start=start,
                          asserted=asserted, intensity=intensity)
    r.facts.medications.append(fact)
    if not coded.resolved:
        r.facts.unresolved_medications.append(fact)
        r.note("medication-unresolved", f"unknown medication ({ref}): its medication could not be resolved")


def medication_use(r: ReadState) -> None:
    """§1.12 item 3 (and §1.13 unknowns)."""
    f = r.facts
    for m in f.medications:
        for s in MEDICATION_CLASSES:
            if s in m.sets:
                f.medication_use.setdefault(s, []).append(m.source)
    for s in LONG_TERM_USE_CLASSES:
        for c in f.conditions:
            if s in c.sets and c.active:
                f.medication_use.setdefault(s, []).append(c.source)
        for e in f.encounters:
            if s in e.reason_sets and within(e.start, r.now, SIX_MONTHS):
                f.medication_use.setdefault(s, []).append(e.source)
    _cancer_treatment(r)
    meds_unreadable = {"MedicationRequest", "MedicationStatement"} & f.unreadable_types
    if meds_unreadable or f.unresolved_medications:
        for s in MEDICATION_CLASSES:
            if s not in f.medication_use:
                f.medication_use_unknown.add(s)


def _cancer_treatment(r: ReadState) -> None:
    """W1 "cancer treatment within 6 months": Procedure, Z51.- Condition (onset else recorded) or
    Encounter reasonCode in set:antineoplastic-therapy. A medication of the set is never cancer
    treatment on its own (§1.4, §4.1 W1): it qualifies only beside a cancer Condition, read from
    medication_use (low-dose methotrexate for rheumatoid arthritis is not cancer)."""
    f = r.facts
    for p in f.procedures:
        if "antineoplastic-therapy" in p.sets and within(p.time, r.now, SIX_MONTHS):
            f.cancer_treatment.append(p.source)
    for c in f.conditions:
        if "antineoplastic-therapy" in c.sets and within(c.onset or c.recorded, r.now, SIX_MONTHS):
            f.cancer_treatment.append(c.source)
    for e in f.encounters:
        if "antineoplastic-therapy" in e.reason_sets and within(e.start, r.now, SIX_MONTHS):
            f.cancer_treatment.append(e.source)
