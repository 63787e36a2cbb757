"""Code sets as data: mappings/codesets.json and the matching rule (terminology.md §1.3).

:func:`default_terminology` reads the published sets once into an immutable :class:`Terminology`
(:func:`service.terminology.site_maps.load_terminology` adds the site maps ``KNEE_CDS_SITE_MAPS`` names).
Matching follows terminology §1.3 exactly: a coding matches a set when its (system, code), trimmed and
case-sensitive, is listed for an element the set reads (``readFrom``), or — ICD-10-CM only — the code
starts with one of the set's prefixes. Site maps (contract §10) only add: system aliases (incl. dotless
ICD-10-CM), local codes as knee-assessment items or set members, and value mappings.

No code value is written here: codes come from mappings/ only. The knee-assessment vocabulary below is
the contract §3 table (names of a public API, like set names), kept here because the site-map loader
validates against it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

from service.terminology.mapping_files import MAPPINGS_DIR, read_json_file

if TYPE_CHECKING:
    from service.terminology.site_maps import LocalCode, SiteMapInfo, SystemAlias

CODESETS_PATH: Traversable = MAPPINGS_DIR / "codesets.json"

CS_BASE = "http://knee-cds.example/fhir/CodeSystem/"
KA_SYSTEM = CS_BASE + "knee-assessment"
RESULT_SYSTEM = CS_BASE + "result"
INJURY_MECHANISM_SYSTEM = CS_BASE + "injury-mechanism"
ORDERABLE_SYSTEM = CS_BASE + "orderable"
# terminology §1.1: the one system whose codes are matched by prefix (§1.3)
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"

# contract §3: knee-assessment code -> kind of value[x]
BOOLEAN, QUANTITY, CODED, DATETIME = "boolean", "quantity", "coded", "dateTime"
KNEE_ASSESSMENT: Mapping[str, str] = MappingProxyType({
    **{code: BOOLEAN for code in (
        "posterior-knee-pain", "sudden-onset", "pain-limits-walking-or-sleep", "leg-swelling",
        "deep-vein-tenderness", "entire-leg-swollen", "pitting-edema", "collateral-superficial-veins",
        "alternative-diagnosis-as-likely", "bedridden-3-days", "lower-limb-immobilisation",
        "long-haul-travel", "leg-redness-warmth", "hot-swollen-joint", "joint-effusion", "knee-locking",
        "knee-giving-way", "bear-weight-4-steps", "knee-flexion-90", "isolated-patellar-tenderness",
        "fibular-head-tenderness", "knee-deformity", "popliteal-mass", "mass-enlarging", "night-pain",
        "exertional-calf-pain", "pulse-loss-on-provocation", "acute-limb-ischaemia",
        "synovitis-other-joints", "pe-suspicion-low", "pe-most-likely", "ultrasound-within-4h")},
    "symptom-side": CODED,
    "injury-mechanism": CODED,
    "venous-ultrasound-result": CODED,
    "knee-radiograph-result": CODED,
    "calf-circumference-difference": QUANTITY,
    "morning-stiffness": QUANTITY,
    "symptom-onset": DATETIME,
    "injury-date": DATETIME,
})
# contract §3: the answer codes of the project code systems, per coded item (symptom-side reads the
# side sets of codesets.json instead)
KA_CODED_ANSWERS: Mapping[str, tuple[str, frozenset[str]]] = MappingProxyType({
    "injury-mechanism": (INJURY_MECHANISM_SYSTEM, frozenset({"twist", "fall", "blunt", "none"})),
    "venous-ultrasound-result": (RESULT_SYSTEM, frozenset({"dvt-seen", "no-dvt-seen"})),
    "knee-radiograph-result": (RESULT_SYSTEM, frozenset(
        {"fracture", "osteoarthritis", "normal-or-effusion-only", "suspicious-lesion"})),
})
# terminology §1.3: the side sets answer the knee-assessment code in FHIR token form
SIDE_QUESTION = f"{KA_SYSTEM}|symptom-side"
YES_NO_QUESTION = "*"

# Elements of terminology §1.3 that a knee-assessment site-map entry is read from
KA_ELEMENTS = ("Observation.code", "Observation.component.code")
# Elements that hold codings of a medication (§1.3)
MEDICATION_ELEMENTS = ("MedicationRequest.medicationCodeableConcept",
                       "MedicationStatement.medicationCodeableConcept",
                       "Medication.code", "Medication.ingredient.itemCodeableConcept")
# terminology §4.1 rule 3: order of precedence between the three anticoagulant sets
ANTICOAGULANT_SETS = ("anticoagulants-therapeutic", "anticoagulants-prophylactic",
                      "anticoagulants-dose-dependent")


@dataclass(frozen=True)
class Match:
    """The sets one element's codings matched, and whether a site map was needed for it."""

    sets: frozenset[str]
    via: str = ""                        # site-map evidence note ("" when matched as published)
    maps: frozenset[str] = frozenset()   # site map labels used ("st-example-hospital 2026-03-01.1")


EMPTY_MATCH = Match(frozenset())
_NO_SETS: frozenset[str] = frozenset()


class CodeReading(NamedTuple):
    """What the terminology makes of one coded element of an Observation (or component): its
    knee-assessment item, the sets it matches, its site-map entry, the orderables it names."""

    ka: tuple[str, LocalCode | None] | None
    match: Match
    local: LocalCode | None
    orderables: frozenset[str]


# Lookups are memoised per element and (system, code) pairs: they are pure functions of those strings
# and of the immutable terminology, and a chart repeats a few dozen codes. Bounded: emptied when full.
_MEMO_LIMIT = 4096


def coding_key(system: Any, code: Any) -> tuple[str, str] | None:
    if type(system) is not str or type(code) is not str:
        return None
    s, c = system.strip(), code.strip()
    return (s, c) if s and c else None


def _remember(memo: dict, key: tuple[str, ...], answer: Any) -> Any:
    """Store ``answer`` in a bounded memo (emptied when full) and return it."""
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = answer
    return answer


def _memo_key(element: str, codings: Any) -> tuple[str, ...]:
    """``element`` and the system and code strings of ``codings`` in order, flat: all that matching
    reads of them (a coding whose system or code is not a string matches nothing)."""
    if type(codings) is dict and type(inner := codings.get("coding")) is list:
        if len(inner) == 1 and type(coding := inner[0]) is dict:      # the common shape: one coding
            system, code = coding.get("system"), coding.get("code")
            return (element, system, code) if type(system) is str and type(code) is str else (element,)
        items: list = inner         # a CodeableConcept: read without building a list
    else:
        items = _codings(codings)
    key = [element]
    for coding in items:
        if isinstance(coding, dict):
            system, code = coding.get("system"), coding.get("code")
            if type(system) is str and type(code) is str:
                key += (system, code)
    return tuple(key)


def _codings(codings: Any) -> list[dict[str, Any]]:
    """Accept a list of codings, a CodeableConcept, a single Coding or a list of CodeableConcepts."""
    # plain dict checks: typing.Mapping isinstance is slow on the hot path (chart layer < 1 ms)
    if isinstance(codings, dict):
        if "coding" in codings:
            inner = codings.get("coding")
            return [c for c in inner if isinstance(c, dict)] if isinstance(inner, list) else []
        return [codings]
    if isinstance(codings, list):
        out: list[dict[str, Any]] = []
        for item in codings:
            if isinstance(item, dict) and "coding" in item:
                out.extend(_codings(item))
            elif isinstance(item, dict):
                out.append(item)
        return out
    return []


class Terminology:
    """Immutable view of codesets.json plus loaded site maps. Build with :func:`default_terminology` or
    :func:`service.terminology.site_maps.load_terminology`."""

    __slots__ = ("_sets", "_members", "_prefixes", "_aliases", "_local", "_local_members",
                 "_orderable_by_code", "_orderables", "_anticoag", "site_maps", "_answer_to", "_matches",
                 "_readings")

    def __init__(self, data: Mapping[str, Any]):
        sets = {k: v for k, v in data.items() if k != "orderables" and isinstance(v, Mapping)}
        self._sets = MappingProxyType(sets)
        members: dict[tuple[str, str, str], set[str]] = {}
        # element -> first two characters -> ((prefix, set), ...): prefixes are >= 2 characters long
        prefixes: dict[str, dict[str, list[tuple[str, str]]]] = {}
        anticoag: dict[tuple[str, str], dict[str, Any]] = {}
        answer_to: dict[str, str] = {}
        for name, spec in sets.items():
            read_from = [e for e in spec.get("readFrom", []) if isinstance(e, str)]
            if isinstance(spec.get("answerTo"), str):
                answer_to[name] = spec["answerTo"]
            for entry in spec.get("codes", []):
                key = coding_key(entry.get("system"), entry.get("code"))
                if key is None:
                    continue
                for element in read_from:
                    members.setdefault((element, *key), set()).add(name)
                if name in ANTICOAGULANT_SETS:
                    meta = anticoag.setdefault(key, {"sets": []})
                    meta["sets"].append(name)
                    for item in ("ingredient", "unitDose", "concentration"):
                        if item in entry and item not in meta:
                            meta[item] = entry[item]
            for entry in spec.get("prefixes", []) or []:
                if entry.get("system") == ICD10CM and isinstance(entry.get("prefix"), str):
                    prefix = entry["prefix"].strip()
                    for element in read_from:
                        prefixes.setdefault(element, {}).setdefault(prefix[:2], []).append((prefix, name))
        self._members = MappingProxyType({k: frozenset(v) for k, v in members.items()})
        self._prefixes = MappingProxyType({
            k: MappingProxyType({p: tuple(v) for p, v in by2.items()}) for k, by2 in prefixes.items()})
        self._anticoag = MappingProxyType({k: MappingProxyType(v) for k, v in anticoag.items()})
        self._answer_to = MappingProxyType(answer_to)
        orderables = data.get("orderables", {}) or {}
        by_code: dict[tuple[str, str], set[str]] = {}
        for oid, spec in orderables.items():
            for entry in spec.get("codes", []):
                key = coding_key(entry.get("system"), entry.get("code"))
                if key:
                    by_code.setdefault(key, set()).add(oid)
        self._orderables = MappingProxyType(dict(orderables))
        self._orderable_by_code = MappingProxyType({k: frozenset(v) for k, v in by_code.items()})
        self._aliases: Mapping[str, SystemAlias] = MappingProxyType({})
        self._local: Mapping[tuple[str, str], LocalCode] = MappingProxyType({})
        self._local_members: Mapping[tuple[str, str, str], LocalCode] = MappingProxyType({})
        self.site_maps: tuple[SiteMapInfo, ...] = ()
        self._matches: dict[tuple[str, ...], Match] = {}           # _memo_key -> Match
        self._readings: dict[tuple[str, ...], CodeReading] = {}    # _memo_key -> CodeReading

    def with_site_maps(self, aliases: dict[str, SystemAlias], local: dict[tuple[str, str], LocalCode],
                        infos: list[SiteMapInfo]) -> "Terminology":
        """A copy with site maps merged (merge only adds, contract §10)."""
        clone = object.__new__(Terminology)
        for slot in Terminology.__slots__:
            object.__setattr__(clone, slot, getattr(self, slot))
        local_members: dict[tuple[str, str, str], LocalCode] = {}
        for key, entry in local.items():
            elements = entry.read_from if entry.set else frozenset(KA_ELEMENTS)
            for element in elements:
                local_members[(element, *key)] = entry
        clone._aliases = MappingProxyType(dict(aliases))
        clone._local = MappingProxyType(dict(local))
        clone._local_members = MappingProxyType(local_members)
        clone.site_maps = tuple(infos)
        clone._matches, clone._readings = {}, {}        # memos of the published sets alone do not hold
        return clone

    # ---- sets -------------------------------------------------------------------------------
    @property
    def set_names(self) -> frozenset[str]:
        return frozenset(self._sets)

    def set_read_from(self, name: str) -> frozenset[str]:
        return frozenset(self._sets.get(name, {}).get("readFrom", []))

    def answer_to(self, name: str) -> str | None:
        return self._answer_to.get(name)

    def set_codes(self, name: str) -> list[dict[str, Any]]:
        """The published codes of a set, as in codesets.json (system, code, display, ...)."""
        return [dict(c) for c in self._sets.get(name, {}).get("codes", [])]

    def canonical(self, coding: Mapping[str, Any]) -> tuple[tuple[str, str] | None, SystemAlias | None]:
        """(system, code) after site-map system aliasing (dotless ICD-10-CM gets its dot)."""
        key = coding_key(coding.get("system"), coding.get("code"))
        if key is None:
            return None, None
        alias = self._aliases.get(key[0])
        if alias is None:
            return key, None
        code = key[1]
        if alias.dotless and "." not in code and len(code) > 3:
            code = code[:3] + "." + code[3:]
        return (alias.same_as, code), alias

    def match(self, element: str, codings: Any) -> Match:
        """Sets that any coding of ``codings`` belongs to, read from ``element`` (terminology §1.3)."""
        key = _memo_key(element, codings)
        found = self._matches.get(key)
        return found if found is not None else _remember(self._matches, key, self._match(element, codings))

    def read_code(self, element: str, codings: Any) -> CodeReading:
        """Knee-assessment item, sets, site-map entry and orderables of an Observation code."""
        key = _memo_key(element, codings)
        found = self._readings.get(key)
        if found is not None:
            return found
        return _remember(self._readings, key, CodeReading(
            self.ka_code(codings), self.match(element, codings), self.local_entry(codings),
            self.orderables_for(codings)))

    def _match(self, element: str, codings: Any) -> Match:
        found: frozenset[str] | None = None
        via = ""
        maps: set[str] = set()
        prefixes = self._prefixes.get(element)
        for coding in _codings(codings):
            key, alias = self.canonical(coding)
            if key is None:
                continue
            system, code = key
            hit = self._members.get((element, system, code), _NO_SETS)
            if system == ICD10CM and prefixes:
                by_prefix = [name for prefix, name in prefixes.get(code[:2], ()) if code.startswith(prefix)]
                if by_prefix:
                    hit = hit.union(by_prefix)
            local = self._local_members.get((element, system, code)) if self._local_members else None
            if local is not None and local.set:
                hit = hit | {local.set}
                via = via or local.note
                maps.add(local.map_label)
            elif hit and alias is not None:
                raw = str(coding.get("code", "")).strip()
                via = via or f"local code {raw}, site map {alias.site} {alias.version}"
                maps.add(f"{alias.site} {alias.version}")
            if hit:
                found = hit if found is None else found | hit
        return Match(found, via, frozenset(maps)) if found else EMPTY_MATCH

    def sets_for(self, element: str, codings: Any) -> frozenset[str]:
        return self.match(element, codings).sets

    def in_set(self, name: str, element: str, codings: Any) -> bool:
        return name in self.match(element, codings).sets

    def answer_sets(self, codings: Any, question: str) -> frozenset[str]:
        """Answer sets (``answerTo``) matched by a coded answer to ``question`` (a set name, a
        knee-assessment token, or ``*`` for yes/no), terminology §1.3 Observation.valueCodeableConcept."""
        sets = self.match("Observation.valueCodeableConcept", codings).sets
        return frozenset(s for s in sets if self._answer_to.get(s) == question)

    def yes_no(self, codings: Any) -> bool | None:
        """clinical-rules §1.7: a coded answer in set:answer-yes / set:answer-no, else None."""
        sets = self.answer_sets(codings, YES_NO_QUESTION)
        if "answer-yes" in sets and "answer-no" not in sets:
            return True
        if "answer-no" in sets and "answer-yes" not in sets:
            return False
        return None

    # ---- knee assessment and site-map entries ----------------------------------------------
    def ka_code(self, codings: Any) -> tuple[str, LocalCode | None] | None:
        """The knee-assessment code of an Observation (or component) code, directly or via a site map."""
        local_hit = None
        for coding in _codings(codings):
            key, _alias = self.canonical(coding)
            if key is None:
                continue
            if key[0] == KA_SYSTEM and key[1] in KNEE_ASSESSMENT:
                return key[1], None
            local = self._local.get(key)
            if local is not None and local.knee_assessment and local_hit is None:
                local_hit = (local.knee_assessment, local)
        return local_hit

    def local_entry(self, codings: Any) -> LocalCode | None:
        """The site-map entry of the first coding that has one (value mapping: unit, units, answers)."""
        if not self._local:
            return None
        for coding in _codings(codings):
            key, _alias = self.canonical(coding)
            if key is not None and key in self._local:
                return self._local[key]
        return None

    # ---- orderables catalog (contract §5) --------------------------------------------------
    def orderables_for(self, codings: Any) -> frozenset[str]:
        found = _NO_SETS
        for coding in _codings(codings):
            key, _alias = self.canonical(coding)
            orderables = self._orderable_by_code.get(key) if key is not None else None
            if orderables:
                found = found | orderables if found else orderables
        return found

    @property
    def orderable_ids(self) -> tuple[str, ...]:
        return tuple(self._orderables)

    def orderable_codings(self, orderable: str) -> list[dict[str, str]]:
        """Every coding a ServiceRequest for ``orderable`` carries ({system, code, display})."""
        spec = self._orderables.get(orderable, {})
        return [{"system": c["system"], "code": c["code"], "display": c.get("display", "")}
                for c in spec.get("codes", [])]

    def orderable_display(self, orderable: str) -> str:
        spec = self._orderables.get(orderable)
        return spec.get("display", orderable) if spec else orderable

    # ---- anticoagulant metadata (terminology §4.1) -----------------------------------------
    def anticoagulant_info(self, coding: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """{"sets": [...], "ingredient", "unitDose", "concentration"} of one anticoagulant coding."""
        key, _alias = self.canonical(coding)
        return self._anticoag.get(key) if key else None



# ---- the published sets ----------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _published() -> Terminology:
    return Terminology(read_json_file(CODESETS_PATH))


def default_terminology() -> Terminology:
    """codesets.json alone (no site maps), loaded once per process and immutable."""
    return _published()
