"""Observations (clinical-rules §1.1–§1.5, §1.7–§1.9): each Observation and component becomes values of
the concepts it carries — a knee-assessment item, a vital sign, a lab, a D-dimer, a symptom or knee
complaint, pregnancy evidence, smoking status — or an imaging report (§7.7). Latest-wins comes after
(:mod:`service.chart.resolution`)."""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from service.chart import units
from service.chart.dates import parse_fhir_time, parse_time
from service.chart.facts import DDimer, ReportFact
from service.chart.fhir_json import as_dict, as_list, as_text, concept_label, first_code, resource_ref
from service.chart.ka_items import boolean_answer, has_value, mapped_codings, read_ka_item
from service.chart.observation_part import OBSERVATION_CODE, ObservationPart
from service.chart.orders import IMAGING_ORDERABLES
from service.chart.read_state import ReadState
from service.chart.windows import DDIMER_KEEP, within
from service.terminology.site_maps import LocalCode

OBS_COUNTED = frozenset({"final", "amended", "corrected", "preliminary"})     # §1.2

# set name -> Facts.vitals key
VITAL_SETS = {"body-temperature": "temperature", "heart-rate": "heart_rate",
              "respiratory-rate": "respiratory_rate", "oxygen-saturation": "spo2",
              "systolic-blood-pressure": "sbp"}
# set name -> Facts.labs key (windows: service.chart.windows.LABS)
LAB_SETS = {"crp": "crp", "crp-high-sensitivity": "crp_hs", "esr": "esr", "wbc": "wbc", "urate": "urate",
            "rheumatoid-factor": "rheumatoid_factor", "anti-ccp": "anti_ccp", "blood-culture": "blood_culture"}
DDIMER_SETS = ("d-dimer-feu", "d-dimer-ddu", "d-dimer-qualitative")
# code-set names of §1.8 symptoms and §2 knee complaints (public names, terminology.md)
SYMPTOM_SETS = ("dyspnoea", "chest-pain", "haemoptysis", "syncope", "fever", "leg-oedema")
KNEE_COMPLAINT_SETS = ("knee-pain", "knee-injury", "bakers-cyst", "calf-strain", "hamstring-strain",
                       "septic-arthritis")
_PRESENCE_SETS = frozenset(SYMPTOM_SETS + KNEE_COMPLAINT_SETS)
# clinical-rules §4.9 step 3a: positive interpretation codes (v3-ObservationInterpretation), also the
# "positive interpretation" of a pregnancy test (§1.9 item 1)
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
POSITIVE_INTERPRETATION = frozenset({"H", "HH", "HU", "A", "AA", "POS", "DET"})
NEGATIVE_INTERPRETATION = frozenset({"N", "NEG", "ND"})
EDD_TERM_DAYS = 280.0
_NO_FLAGS: frozenset[str] = frozenset()


def read_observation(r: ReadState, res: dict) -> None:
    status = as_text(res.get("status"))
    if status not in OBS_COUNTED:
        return                                                    # §1.2
    ref = resource_ref(res)
    t, flags = _effective_time(r, ref, res)
    if flags and "future-date" in flags:
        return                                                    # §1.1 item 2: ignored
    issued_time = parse_fhir_time(res.get("issued"))
    if t is None:
        flags.add("undated")
    if status == "preliminary":
        flags.add("preliminary")
    base = ObservationPart(res, res, OBSERVATION_CODE, ref, t, issued_time.point if issued_time else None,
                           status, frozenset(flags) if flags else _NO_FLAGS)
    _read_part(r, base)
    components = res.get("component")
    if components and isinstance(components, list):
        for comp in components:
            if isinstance(comp, dict):
                _read_part(r, base.component(comp))


def _effective_time(r: ReadState, ref: str, res: dict) -> tuple[datetime | None, set[str]]:
    """§1.1 item 3: effectiveDateTime / effectiveInstant / effectivePeriod.end (else .start), else issued."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if key in res:
            return r.read_time(ref, res.get(key), "effective time")
    if "effectivePeriod" in res:
        p = as_dict(res.get("effectivePeriod"))
        raw = p.get("end") or p.get("start")
        if raw:
            return r.read_time(ref, raw, "effective time")
    if "issued" in res:
        return r.read_time(ref, res.get("issued"), "issued")
    return None, set()


def _read_part(r: ReadState, obs: ObservationPart) -> None:
    code = obs.part.get("code")
    reading = r.terminology.read_code(obs.element, code)
    ka = reading.ka
    if ka is not None:
        # contract §3: a knee-assessment Observation is that item and nothing else (§7.7: a ka result
        # carrying an imaging LOINC is a result only)
        read_ka_item(r, obs, ka[0], ka[1])
        return
    match = reading.match
    local = reading.local
    sets = match.sets
    if sets:
        r.note_via(match.maps)
        _read_measurements(r, obs, sets, match.via, local)
    if obs.element == OBSERVATION_CODE:
        if not _PRESENCE_SETS.isdisjoint(sets) and _present(r, obs.part, local):
            for s in SYMPTOM_SETS:
                if s in sets:
                    r.symptom_obs.append((s, obs.source(concept_label(code) or s, match.via)))
            for s in KNEE_COMPLAINT_SETS:
                if s in sets:
                    r.complaint_obs.append((s, obs.source(concept_label(code) or s, match.via)))
        orderables = reading.orderables & IMAGING_ORDERABLES
        if orderables:      # §7.7: an imaging report Observation ("done"), never a ka result
            r.facts.reports.append(ReportFact(obs.source(concept_label(code), match.via), frozenset(orderables),
                                              obs.time))
    if sets:
        _read_pregnancy_and_smoking(r, obs, sets, match.via, local)


def _read_measurements(r: ReadState, obs: ObservationPart, sets: frozenset[str], via: str,
                       local: LocalCode | None) -> None:
    vitals, labs, ddimer = _measures_in(sets)
    for set_name, key in vitals:
        _add_measure(r, r.vital_values, key, set_name, obs, via, local)
    for set_name, key in labs:
        _add_measure(r, r.lab_values, key, set_name, obs, via, local)
    if ddimer:
        _add_ddimer(r, obs, ddimer, via, local)


@functools.lru_cache(maxsize=256)
def _measures_in(sets: frozenset[str]) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], str | None]:
    """(vital (set, key)s, lab (set, key)s, first D-dimer set) of a code's sets, in table order: a pure
    function of the set names, memoised (a chart's codes match a handful of set combinations)."""
    return (tuple((s, key) for s, key in VITAL_SETS.items() if s in sets),
            tuple((s, key) for s, key in LAB_SETS.items() if s in sets),
            next((s for s in DDIMER_SETS if s in sets), None))


def _read_pregnancy_and_smoking(r: ReadState, obs: ObservationPart, sets: frozenset[str], via: str,
                                local: LocalCode | None) -> None:
    code = obs.part.get("code")
    if "pregnancy-status" in sets:
        _add_pregnancy_status(r, obs, via, local)
    if "pregnancy-test" in sets:
        verdict = _pregnancy_test_verdict(obs.part)
        if verdict == "positive":
            r.preg_tests.append(obs.value(True, concept_label(code) or "pregnancy test positive", via))
        if obs.time is not None:
            # §7.7: a result within 24 h stops the test from being suggested again (either verdict)
            r.facts.pregnancy_tests.append(obs.value(verdict, concept_label(code) or "pregnancy test", via))
    if "gestational-age" in sets:
        _add_gestational_age(r, obs, via, local)
    if "estimated-delivery-date" in sets:
        _add_edd(r, obs, via)
    if "smoking-status" in sets:
        _add_smoking(r, obs, via)


def _interpretation_codes(part: dict) -> list[str]:
    """v3-ObservationInterpretation codes of the part, in order."""
    return [code for cc in as_list(part.get("interpretation")) for c in as_list(as_dict(cc).get("coding"))
            if as_text(as_dict(c).get("system")) == INTERPRETATION_SYSTEM
            and (code := as_text(as_dict(c).get("code")))]


def _pregnancy_test_verdict(part: dict) -> str | None:
    """§1.9 item 1 reads a positive interpretation (§4.9 step 3a codes); N/NEG/ND read as negative;
    anything else is a result without a verdict (None)."""
    codes = _interpretation_codes(part)
    if any(c in POSITIVE_INTERPRETATION for c in codes):
        return "positive"
    if any(c in NEGATIVE_INTERPRETATION for c in codes):
        return "negative"
    return None


def _present(r: ReadState, part: dict, local: LocalCode | None) -> bool:
    """§1.8 (b): a value that is not false / not in set:answer-no; no value = present."""
    if not has_value(part):
        return True
    return boolean_answer(r, part, local) is not False


# ---- vitals, labs, D-dimer ------------------------------------------------------------------------

def _add_measure(r: ReadState, bucket: dict[str, list], key: str, set_name: str, obs: ObservationPart,
                 via: str, local: LocalCode | None) -> None:
    part = obs.part
    extra: set[str] = set()
    if "valueQuantity" in part:
        result = units.read_quantity(set_name, part.get("valueQuantity"),
                                     default_unit=local.unit if local else None,
                                     unit_aliases=local.units if local else None)
        value: Any = result.quantity
        extra |= set(result.flags)
        if result.note:
            r.note(next(iter(result.flags)), f"{obs.ref}: {result.note}")
        shown = result.as_recorded
    elif "valueCodeableConcept" in part:
        value = first_code(part.get("valueCodeableConcept")) or concept_label(part.get("valueCodeableConcept")) \
            or None
        shown = concept_label(part.get("valueCodeableConcept"))
    elif "valueString" in part:
        value = as_text(part.get("valueString"))
        shown = value or ""
    else:
        value, shown = None, "no value"
    display = f"{key.replace('_', ' ')} {shown}".strip()
    bucket.setdefault(key, []).append(obs.value(value, display, via, extra))


def _add_ddimer(r: ReadState, obs: ObservationPart, set_name: str, via: str, local: LocalCode | None) -> None:
    """§4.9 items 1-2 reading (interpretation is the pathways'); kept 90 days, latest first."""
    if obs.time is not None and not within(obs.time, r.now, DDIMER_KEEP):
        return
    part = obs.part
    flags = set(obs.flags)
    quantity = None
    assay = "qualitative"
    coded = None
    if set_name != "d-dimer-qualitative" and "valueQuantity" in part:
        assay = "feu" if set_name == "d-dimer-feu" else "ddu"
        result = units.read_quantity(set_name, part.get("valueQuantity"),
                                     default_unit=local.unit if local else None,
                                     unit_aliases=local.units if local else None)
        quantity = result.quantity
        flags |= result.flags
        if result.note:
            r.note("unit", f"{obs.ref}: {result.note}")
        if result.assay_word and result.assay_word.lower() != assay:
            # terminology §13 D-dimer item 1: the unit's word contradicts the code's set
            flags.add("conflict")
            r.note("conflict", f"{obs.ref}: unit says {result.assay_word} but the code is a "
                               f"{assay.upper()} D-dimer; not used to rule out")
    # §4.9 item 2: a quantitative code with a coded/string value is "other" (qualitative)
    if "valueCodeableConcept" in part:
        coded = first_code(part.get("valueCodeableConcept")) or concept_label(part.get("valueCodeableConcept"))
    elif "valueString" in part:
        coded = as_text(part.get("valueString"))
    elif set_name == "d-dimer-qualitative" and "valueQuantity" in part:
        coded = units.read_quantity(set_name, part.get("valueQuantity")).as_recorded
    reference_high = None
    for rr in as_list(part.get("referenceRange")):
        high = as_dict(rr).get("high")
        if isinstance(high, dict) and assay in ("feu", "ddu"):
            reference_high = units.read_quantity(set_name, high, unit_aliases=local.units if local else None).quantity
            break
    shown = quantity.as_recorded if quantity else (coded or "D-dimer")
    r.facts.ddimers.append(DDimer(
        source=obs.source(f"D-dimer {shown}", via), time=obs.time, assay=assay, quantity=quantity,
        interpretation=_interpretation_codes(part), reference_high=reference_high, coded_value=coded,
        flags=frozenset(flags)))


# ---- pregnancy evidence, smoking ------------------------------------------------------------------

def _add_pregnancy_status(r: ReadState, obs: ObservationPart, via: str, local: LocalCode | None) -> None:
    sets = r.terminology.answer_sets(mapped_codings(obs.part, local), "pregnancy-status")
    if "pregnancy" in sets:
        value = "pregnant"
    elif "not-pregnant" in sets:
        value = "not-pregnant"
    else:
        value = None                     # pregnancy-status-unknown, or no usable answer: unknown
    r.preg_status.append(obs.value(value, f"pregnancy status: {value or 'unknown'}", via))


def _add_gestational_age(r: ReadState, obs: ObservationPart, via: str, local: LocalCode | None) -> None:
    if "valueQuantity" not in obs.part or obs.time is None:
        return
    q = units.read_quantity("gestational-age", obs.part.get("valueQuantity"),
                            default_unit=local.unit if local else None).quantity
    if q is None:
        r.note("unit", f"{obs.ref}: gestational age unit not recognised; not used")
        return
    days = q.value + (r.now - obs.time).total_seconds() / 86400
    r.ga_candidates.append((obs.time, days, obs.source(f"gestational age {q.as_recorded}", via)))


def _add_edd(r: ReadState, obs: ObservationPart, via: str) -> None:
    edd, _ = parse_time(obs.part.get("valueDateTime") or obs.part.get("valueDate"))
    if edd is None:
        return
    days = EDD_TERM_DAYS - (edd - r.now).total_seconds() / 86400
    r.ga_candidates.append((obs.time, days, obs.source(f"estimated delivery date {edd:%Y-%m-%d}", via)))


def _add_smoking(r: ReadState, obs: ObservationPart, via: str) -> None:
    sets = r.terminology.answer_sets(mapped_codings(obs.part, None), "smoking-status")
    value = next((s.replace("-smoker", "") for s in ("current-smoker", "former-smoker", "never-smoker")
                  if s in sets), None)
    r.smoking_values.append(obs.value(value, f"smoking status: {value or 'unknown'}", via))
