"""Site maps (contract §10): a site's local codes, system aliases and value mappings, merged into the
published code sets. A site map only adds; any error in one stops the load with a :class:`SiteMapError`
naming the file and the entry (the service must not start on a map it cannot read).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from service.chart import units
from service.terminology.code_sets import (
    BOOLEAN,
    CODED,
    ICD10CM,
    KA_CODED_ANSWERS,
    KNEE_ASSESSMENT,
    SIDE_QUESTION,
    YES_NO_QUESTION,
    Terminology,
    coding_key,
    default_terminology,
)
from service.terminology.mapping_files import MAPPINGS_DIR, MappingFileError, read_json_file

SITES_DIR: Traversable = MAPPINGS_DIR / "sites"


@dataclass(frozen=True)
class SiteMapInfo:
    """One loaded site map, as readiness and the audit rows name it."""

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
class SystemAlias:
    """A site's system URI read as a published one (``dotless``: ICD-10-CM codes written without the dot)."""

    same_as: str
    dotless: bool
    site: str
    version: str


class SiteMapError(ValueError):
    """A site map cannot be loaded (contract §10 "Errors stop the load"); the service must not start."""

    def __init__(self, file: str, entry: str, problem: str):
        self.file, self.entry, self.problem = file, entry, problem
        super().__init__(f"site map {file}, {entry}: {problem}")


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
    aliases: dict[str, SystemAlias] = {}
    local: dict[tuple[str, str], LocalCode] = {}
    origin: dict[tuple[str, str], str] = {}
    infos: list[SiteMapInfo] = []
    for name in names:
        path = resolve_site_map_path(name.strip(), sites_dir)
        label = path.name
        try:
            doc = read_json_file(path)
        except MappingFileError as exc:
            raise SiteMapError(label, "file", exc.problem) from None
        info = _load_one(base, doc, label, aliases, local, origin)
        infos.append(info)
    return base.with_site_maps(aliases, local, infos)


def _load_one(base: Terminology, doc: Any, label: str, aliases: dict[str, SystemAlias],
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
        aliases[system] = SystemAlias(entry["sameAs"].strip(), dotless, site.strip(), version.strip())
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
    key = coding_key(entry.get("system"), entry.get("code"))
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
    coding = coding_key(target.get("system"), target.get("code")) if isinstance(target, Mapping) else None
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
