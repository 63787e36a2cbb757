"""Code sets as data: mappings/codesets.json plus site maps (terminology.md §1.3, contract §10).

:func:`load_terminology` reads the published sets once into an immutable :class:`Terminology`; the
service builds it at start (``KNEE_CDS_SITE_MAPS`` names the site maps). Matching follows terminology
§1.3 exactly: a coding matches a set when its (system, code), trimmed and case-sensitive, is listed for
an element the set reads (``readFrom``), or — ICD-10-CM only — the code starts with one of the set's
prefixes. Site maps (contract §10) only add: system aliases (incl. dotless ICD-10-CM), local codes as
knee-assessment items or set members, and value mappings. Any error in a site map stops the load with a
:class:`SiteMapError` naming the file and the entry.

No code value is written here: codes come from mappings/ only. The knee-assessment vocabulary below is
the contract §3 table (names of a public API, like set names), kept here because the site-map loader
validates against it.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from service.chart import units

# Found through the package, never through a path into the source tree: the wheel installs the
# repository's mappings/ folder as the package service.mappings (pyproject.toml).
MAPPINGS_DIR: Traversable = resources.files("service.mappings")
CODESETS_PATH: Traversable = MAPPINGS_DIR / "codesets.json"
SITES_DIR: Traversable = MAPPINGS_DIR / "sites"

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


class SiteMapError(ValueError):
    """A site map cannot be loaded (contract §10 "Errors stop the load"); the service must not start."""

    def __init__(self, file: str, entry: str, problem: str):
        self.file, self.entry, self.problem = file, entry, problem
        super().__init__(f"site map {file}, {entry}: {problem}")


@dataclass(frozen=True)
class SiteMapInfo:
    site: str
    version: str
    file: str
    entries: int

    @property
    def label(self) -> str:
        return f"{self.site} {self.version}"


@dataclass(frozen=True)
class LocalCode:
    """One site-map ``codes`` entry (contract §10)."""

    system: str
    code: str
    display: str
    site: str
    version: str
    knee_assessment: str | None
    set: str | None
    read_from: frozenset[str]
    unit: str | None = None
    units: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    answers: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def note(self) -> str:
        """The evidence note contract §10 asks for."""
        return f"local code {self.code}, site map {self.site} {self.version}"

    @property
    def map_label(self) -> str:
        return f"{self.site} {self.version}"

    def answer_for(self, key: Any) -> tuple[bool, Any]:
        """(found, mapped value) for a local coded answer's code or a string answer (trimmed, any case)."""
        if not isinstance(key, str):
            return False, None
        k = key.strip()
        if k in self.answers:
            return True, self.answers[k]
        lowered = {a.strip().lower(): v for a, v in self.answers.items()}
        if k.lower() in lowered:
            return True, lowered[k.lower()]
        return False, None


@dataclass(frozen=True)
class _Alias:
    same_as: str
    dotless: bool
    site: str
    version: str


@dataclass(frozen=True)
class Match:
    """The sets one element's codings matched, and whether a site map was needed for it."""

    sets: frozenset[str]
    via: str = ""                        # site-map evidence note ("" when matched as published)
    maps: frozenset[str] = frozenset()   # site map labels used ("st-example-hospital 2026-03-01.1")


EMPTY_MATCH = Match(frozenset())


def _key(system: Any, code: Any) -> tuple[str, str] | None:
    if type(system) is not str or type(code) is not str:
        return None
    s, c = system.strip(), code.strip()
    return (s, c) if s and c else None


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
    """Immutable view of codesets.json plus loaded site maps. Build with :func:`load_terminology`."""

    __slots__ = ("_sets", "_members", "_prefixes", "_aliases", "_local", "_local_members",
                 "_orderable_by_code", "_orderables", "_anticoag", "site_maps", "_answer_to")

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
                key = _key(entry.get("system"), entry.get("code"))
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
                key = _key(entry.get("system"), entry.get("code"))
                if key:
                    by_code.setdefault(key, set()).add(oid)
        self._orderables = MappingProxyType(dict(orderables))
        self._orderable_by_code = MappingProxyType({k: frozenset(v) for k, v in by_code.items()})
        self._aliases: Mapping[str, _Alias] = MappingProxyType({})
        self._local: Mapping[tuple[str, str], LocalCode] = MappingProxyType({})
        self._local_members: Mapping[tuple[str, str, str], LocalCode] = MappingProxyType({})
        self.site_maps: tuple[SiteMapInfo, ...] = ()

    def _with_site_maps(self, aliases: dict[str, _Alias], local: dict[tuple[str, str], LocalCode],
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

    def canonical(self, coding: Mapping[str, Any]) -> tuple[tuple[str, str] | None, _Alias | None]:
        """(system, code) after site-map system aliasing (dotless ICD-10-CM gets its dot)."""
        key = _key(coding.get("system"), coding.get("code"))
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
        found: set[str] = set()
        via = ""
        maps: set[str] = set()
        for coding in _codings(codings):
            key, alias = self.canonical(coding)
            if key is None:
                continue
            hit = set(self._members.get((element, *key), ()))
            if key[0] == ICD10CM:
                for prefix, name in self._prefixes.get(element, {}).get(key[1][:2], ()):
                    if key[1].startswith(prefix):
                        hit.add(name)
            local = self._local_members.get((element, *key))
            if local is not None and local.set:
                hit.add(local.set)
                via = via or local.note
                maps.add(local.map_label)
            elif hit and alias is not None:
                raw = str(coding.get("code", "")).strip()
                via = via or f"local code {raw}, site map {alias.site} {alias.version}"
                maps.add(f"{alias.site} {alias.version}")
            found |= hit
        return Match(frozenset(found), via, frozenset(maps)) if found else EMPTY_MATCH

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
        found: set[str] = set()
        for coding in _codings(codings):
            key, _alias = self.canonical(coding)
            if key is not None:
                found |= self._orderable_by_code.get(key, frozenset())
        return frozenset(found)

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


# ---- loading ---------------------------------------------------------------------------------

def _read_json(path: Traversable, label: str) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise SiteMapError(label, "file", "not found") from None
    except (OSError, ValueError) as exc:
        raise SiteMapError(label, "file", f"not readable JSON ({exc})") from None


@functools.lru_cache(maxsize=1)
def _published() -> Terminology:
    with CODESETS_PATH.open(encoding="utf-8") as fh:
        return Terminology(json.load(fh))


def default_terminology() -> Terminology:
    """codesets.json alone (no site maps), loaded once per process and immutable."""
    return _published()


def resolve_site_map_path(name: str, sites_dir: Traversable = SITES_DIR) -> Traversable:
    """A site map named in KNEE_CDS_SITE_MAPS: a file name in mappings/sites/ (of the installed
    package) or a path."""
    candidate = Path(name)
    if candidate.is_absolute() or "/" in name or "\\" in name:
        return candidate
    if not name.endswith(".json"):
        name += ".json"
    return sites_dir / name


def load_terminology(site_maps: Iterable[str] = (), sites_dir: Traversable = SITES_DIR) -> Terminology:
    """codesets.json plus the named site maps (contract §10). Raises :class:`SiteMapError`."""
    base = default_terminology()
    names = [s for s in site_maps if isinstance(s, str) and s.strip()]
    if not names:
        return base
    aliases: dict[str, _Alias] = {}
    local: dict[tuple[str, str], LocalCode] = {}
    origin: dict[tuple[str, str], str] = {}
    infos: list[SiteMapInfo] = []
    for name in names:
        path = resolve_site_map_path(name.strip(), sites_dir)
        label = path.name
        doc = _read_json(path, label)
        info = _load_one(base, doc, label, aliases, local, origin)
        infos.append(info)
    return base._with_site_maps(aliases, local, infos)


def _load_one(base: Terminology, doc: Any, label: str, aliases: dict[str, _Alias],
              local: dict[tuple[str, str], LocalCode], origin: dict[tuple[str, str], str]) -> SiteMapInfo:
    if not isinstance(doc, Mapping):
        raise SiteMapError(label, "file", "not a JSON object")
    site, version = doc.get("site"), doc.get("version")
    if not isinstance(site, str) or not site.strip():
        raise SiteMapError(label, "site", "required string missing")
    if not isinstance(version, str) or not version.strip():
        raise SiteMapError(label, "version", "required string missing")
    if "description" in doc and not isinstance(doc["description"], str):
        raise SiteMapError(label, "description", "must be a string")
    for i, entry in enumerate(doc.get("systemAliases") or []):
        where = f"systemAliases[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("system"), str) \
                or not isinstance(entry.get("sameAs"), str):
            raise SiteMapError(label, where, "needs string 'system' and 'sameAs'")
        dotless = entry.get("dotless", False)
        if not isinstance(dotless, bool):
            raise SiteMapError(label, where, "'dotless' must be true or false")
        if dotless and entry["sameAs"].strip() != ICD10CM:
            raise SiteMapError(label, where, "'dotless' applies to ICD-10-CM only")
        system = entry["system"].strip()
        if system in aliases:
            raise SiteMapError(label, where, f"system {system} is aliased twice")
        aliases[system] = _Alias(entry["sameAs"].strip(), dotless, site.strip(), version.strip())
    codes = doc.get("codes")
    if not isinstance(codes, list):
        raise SiteMapError(label, "codes", "required list missing")
    for i, entry in enumerate(codes):
        where = f"codes[{i}]"
        if isinstance(entry, Mapping) and isinstance(entry.get("code"), str):
            where = f"codes[{i}] ({entry.get('code')})"
        parsed = _parse_entry(base, entry, label, where, site.strip(), version.strip())
        key = (parsed.system, parsed.code)
        if key in local:
            raise SiteMapError(label, where, f"second entry for the coding {key[0]}|{key[1]} "
                                             f"(first in {origin[key]})")
        local[key] = parsed
        origin[key] = f"{label} {where}"
    return SiteMapInfo(site.strip(), version.strip(), label, len(codes))


def _parse_entry(base: Terminology, entry: Any, label: str, where: str, site: str,
                 version: str) -> LocalCode:
    if not isinstance(entry, Mapping):
        raise SiteMapError(label, where, "not an object")
    key = _key(entry.get("system"), entry.get("code"))
    if key is None:
        raise SiteMapError(label, where, "needs string 'system' and 'code'")
    ka, set_name = entry.get("knee-assessment"), entry.get("set")
    targets = [t for t in (ka, set_name) if t is not None]
    if len(targets) != 1:
        raise SiteMapError(label, where, "needs exactly one target ('knee-assessment' or 'set')"
                           if not targets else "has two targets ('knee-assessment' and 'set')")
    read_from: frozenset[str] = frozenset()
    if ka is not None:
        if not isinstance(ka, str) or ka not in KNEE_ASSESSMENT:
            raise SiteMapError(label, where, f"unknown knee-assessment code {ka!r}")
        if "readFrom" in entry:
            raise SiteMapError(label, where, "'readFrom' applies to set entries only")
        concept = ka
    else:
        if not isinstance(set_name, str) or set_name not in base.set_names:
            raise SiteMapError(label, where, f"unknown set {set_name!r}")
        listed = base.set_read_from(set_name)
        if "readFrom" in entry:
            rf = entry["readFrom"]
            if not isinstance(rf, list) or not rf or not all(isinstance(e, str) for e in rf):
                raise SiteMapError(label, where, "'readFrom' must be a non-empty list of elements")
            extra = [e for e in rf if e not in listed]
            if extra:
                raise SiteMapError(label, where, f"readFrom {extra} not listed by set {set_name}")
            read_from = frozenset(rf)
        else:
            read_from = listed
        concept = set_name
    unit, unit_map = _parse_units(entry, concept, label, where)
    answers = _parse_answers(base, entry, ka, set_name, label, where)
    display = entry.get("display") if isinstance(entry.get("display"), str) else ""
    return LocalCode(key[0], key[1], display, site, version, ka, set_name, read_from, unit,
                     MappingProxyType(unit_map), MappingProxyType(answers))


def _parse_units(entry: Mapping[str, Any], concept: str, label: str,
                 where: str) -> tuple[str | None, dict[str, str]]:
    """contract §10 "unit"/"units": every unit must be an accepted unit of terminology §13."""
    accepted = units.accepted_units(concept)
    unit = entry.get("unit")
    if unit is not None:
        if not isinstance(unit, str) or units.match_accepted(concept, unit) is None:
            raise SiteMapError(label, where, f"unit {unit!r} is not accepted for {concept} "
                                             f"(terminology §13: {sorted(accepted) or 'no units'})")
        unit = units.match_accepted(concept, unit)
    unit_map: dict[str, str] = {}
    raw = entry.get("units")
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise SiteMapError(label, where, "'units' must map local unit strings to accepted units")
        for local_unit, target in raw.items():
            if not isinstance(target, str) or units.match_accepted(concept, target) is None:
                raise SiteMapError(label, where, f"unit {target!r} (for {local_unit!r}) is not accepted "
                                                 f"for {concept} (terminology §13)")
            unit_map[str(local_unit)] = units.match_accepted(concept, target) or target
    return unit, unit_map


def _parse_answers(base: Terminology, entry: Mapping[str, Any], ka: str | None, set_name: str | None,
                   label: str, where: str) -> dict[str, Any]:
    """contract §10 "answers": true/false/null for a boolean item, a Coding for a coded item."""
    raw = entry.get("answers")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SiteMapError(label, where, "'answers' must be an object")
    out: dict[str, Any] = {}
    for answer, target in raw.items():
        problem = _answer_problem(base, ka, set_name, target)
        if problem:
            raise SiteMapError(label, where, f"answer {answer!r}: {problem}")
        out[str(answer).strip()] = dict(target) if isinstance(target, Mapping) else target
    return out


def _answer_problem(base: Terminology, ka: str | None, set_name: str | None, target: Any) -> str:
    is_bool = target is None or isinstance(target, bool)
    coding = _key(target.get("system"), target.get("code")) if isinstance(target, Mapping) else None
    if ka is not None:
        kind = KNEE_ASSESSMENT[ka]
        if kind == BOOLEAN:
            return "" if is_bool else f"{ka} is a boolean item: answer must be true, false or null"
        if kind == CODED:
            if coding is None:
                return f"{ka} is a coded item: answer must be a Coding {{system, code}}"
            if ka == "symptom-side":
                ok = bool(base.answer_sets([dict(system=coding[0], code=coding[1])], SIDE_QUESTION))
            else:
                system, allowed = KA_CODED_ANSWERS[ka]
                ok = coding[0] == system and coding[1] in allowed
            return "" if ok else f"{coding[0]}|{coding[1]} is not an answer of {ka}"
        return f"{ka} takes a {kind} value: coded or string answers cannot be mapped"
    if is_bool:
        # a yes/no item: symptom and complaint Observations (clinical-rules §1.8) read by Observation.code
        if "Observation.code" in base.set_read_from(set_name or ""):
            return ""
        return f"set {set_name} is not read from an Observation code: no yes/no answer"
    if coding is not None:
        sets = base.match("Observation.valueCodeableConcept", [dict(system=coding[0], code=coding[1])]).sets
        if any(base.answer_to(s) in (set_name, YES_NO_QUESTION) for s in sets):
            return ""
        return f"{coding[0]}|{coding[1]} is not a standard answer to set {set_name}"
    return "answer must be true, false, null or a Coding {system, code}"
