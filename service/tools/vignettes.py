"""Acceptance vignettes (contract §9): loading, times, ids, requests, and the expect checker.

Used by ``knee-cds vignettes`` and by the test suite::

    vignette = load_vignette(path)
    loaded = prepare(vignette, now, prefix="r1a2b-")         # times rendered, ids prefixed
    body = build_request(loaded)                             # prefetch filled from the service templates
    body = build_server_request(loaded, base)                # loaded into a FHIR server, no prefetch
    problems = check_expect(vignette["expect"], response_json) + validate_cards(response_json)

Requests are built by :mod:`service.tools.local_request` (the same builder as the examples, the
preview page and ``knee-cds triage``); times are rendered by :mod:`service.tools.examples`.
"""
from __future__ import annotations

import copy
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import requests

from cds_hooks.domain import HookRequest, ServiceDefinition

from service.tools.examples import render_times
from service.tools.examples import service_for_hook as service_for
from service.cards.render import EXTENSION_KEY
from service.terminology.code_sets import ORDERABLE_SYSTEM
from service.tools.local_request import (
    ORDER_HOOKS,
    build_context,
    evaluate_template,
    visit_encounter,
)
from service.vocabulary import Tier

FHIR_JSON = "application/fhir+json"


class LoadError(RuntimeError):
    """The FHIR server refused a vignette's resources."""


def public_vignette_dir(checkout: Path | str) -> Path:
    """The public cases for a script of a checkout: ``$KNEE_CDS_VIGNETTES``, else the ``shared/vignettes``
    folder beside the checkout (contract §9: the folder grows, so it is read at run time)."""
    return Path(os.environ.get("KNEE_CDS_VIGNETTES") or Path(checkout).parent / "shared" / "vignettes")


def vignette_paths(folder: Path | str) -> list[Path]:
    return sorted(Path(folder).glob("*.json"))


def load_vignette(path: Path | str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# ---- ids ------------------------------------------------------------------------------------------


def _rewrite_refs(value: Any, rename: Callable[[str], str | None]) -> Any:
    """Rewrite every ``reference`` string that names a loaded resource."""
    if isinstance(value, dict):
        out = {k: _rewrite_refs(v, rename) for k, v in value.items()}
        if isinstance(value.get("reference"), str):
            out["reference"] = rename(value["reference"]) or value["reference"]
        return out
    if isinstance(value, list):
        return [_rewrite_refs(v, rename) for v in value]
    return value


def prefix_ids(resources: list[dict], prefix: str) -> tuple[list[dict], Callable[[str], str | None]]:
    """Prefix top-level ids, rewrite references to them; returns (resources, rename function).

    ``rename`` maps "Type/id" or a bare id of a loaded resource to its new form, else None. Contained
    resources keep their local ids ("#x" references are untouched).
    """
    ids = {(r["resourceType"], r["id"]) for r in resources}
    bare = {rid for _, rid in ids}

    def rename(text: str) -> str | None:
        if "/" in text:
            rtype, _, rid = text.rpartition("/")
            return f"{rtype}/{prefix}{rid}" if (rtype, rid) in ids else None
        return f"{prefix}{text}" if text in bare else None

    out = []
    for resource in resources:
        copied = _rewrite_refs(resource, rename)
        copied["id"] = prefix + resource["id"]
        out.append(copied)
    return out, rename


def _rewrite_context(value: Any, rename: Callable[[str], str | None]) -> Any:
    if isinstance(value, str):
        return rename(value) or value
    if isinstance(value, list):
        return [_rewrite_context(v, rename) for v in value]
    if isinstance(value, dict):
        return _rewrite_refs(value, rename)
    return value


@dataclass
class LoadedVignette:
    """A vignette as one test run sees it: times rendered, ids prefixed."""

    vignette: dict[str, Any]
    now: datetime
    prefix: str
    resources: list[dict[str, Any]]      # the chart (what a FHIR server holds)
    draft_orders: list[dict[str, Any]]   # the hook's draftOrders (never loaded into the chart)
    context_overrides: dict[str, Any]

    @property
    def hook(self) -> str:
        return self.vignette["hook"]

    @property
    def patient(self) -> dict[str, Any]:
        return next(r for r in self.resources if r["resourceType"] == "Patient")

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["resourceType"] == resource_type]


def prepare(vignette: dict[str, Any], now: datetime, prefix: str = "") -> LoadedVignette:
    rendered = render_times(copy.deepcopy(vignette), now)
    resources = rendered.get("resources") or []
    drafts = rendered.get("draftOrders") or []
    renamed, rename = prefix_ids(resources + drafts, prefix)
    context = {k: _rewrite_context(v, rename) for k, v in (rendered.get("context") or {}).items()}
    return LoadedVignette(vignette, now, prefix, renamed[:len(resources)], renamed[len(resources):], context)


# ---- the request ----------------------------------------------------------------------------------


# ---- the request ----------------------------------------------------------------------------------


def build_request(loaded: LoadedVignette, fhir_server: str | None = None, prefetch: bool = True,
                  service: ServiceDefinition | None = None) -> dict[str, Any]:
    """The hook request body; with ``prefetch`` every template key is filled from the loaded resources."""
    service = service or service_for(loaded.hook)
    drafts = loaded.draft_orders if loaded.hook in ORDER_HOOKS else []
    context = build_context(loaded.hook, loaded.patient["id"], visit_encounter(loaded.resources), drafts,
                            loaded.context_overrides)
    body: dict[str, Any] = {"hook": loaded.hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if fhir_server:
        body["fhirServer"] = fhir_server
    if prefetch:
        body["prefetch"] = {key: evaluate_template(template, context, loaded.resources)
                            for key, template in service.prefetch.items()}
    return body


def hook_request(body: dict[str, Any], service: ServiceDefinition, access_token: str | None = None) -> HookRequest:
    """The HookRequest the protocol layer would build from ``body`` (for direct gather_chart calls)."""
    auth = {"access_token": access_token, "token_type": "Bearer"} if access_token else None
    return HookRequest(service=service, hook=body["hook"], hook_instance=body["hookInstance"],
                       context=body["context"], fhir_server=body.get("fhirServer"), fhir_authorization=auth,
                       prefetch=body.get("prefetch"))


# ---- a FHIR server as the source --------------------------------------------------------------------


def load_into_server(loaded: LoadedVignette, base: str) -> None:
    """PUT the chart (not the draftOrders) at its own (prefixed) ids; the Patient first."""
    ordered = sorted(loaded.resources, key=lambda r: r["resourceType"] != "Patient")
    with requests.Session() as http:
        for resource in ordered:
            url = f"{base.rstrip('/')}/{resource['resourceType']}/{resource['id']}"
            response = http.put(url, json=resource, timeout=30,
                                headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON})
            if response.status_code not in (200, 201):
                raise LoadError(f"PUT {url} -> HTTP {response.status_code}: {response.text[:500]}")


def build_server_request(loaded: LoadedVignette, base: str, load: bool = True) -> dict[str, Any]:
    """Load the vignette into the server at ``base`` and build the request without prefetch."""
    if load:
        load_into_server(loaded, base)
    return build_request(loaded, fhir_server=base, prefetch=False)


# ---- checking a response -------------------------------------------------------------------------------

# contract §4: the tiers, most urgent first, and the card indicator each tier carries
TIER_ORDER = [str(tier) for tier in Tier]
INDICATOR = {str(tier): tier.indicator for tier in Tier}


def _extension(card: dict[str, Any]) -> dict[str, Any]:
    ext = card.get("extension")
    inner = ext.get(EXTENSION_KEY) if isinstance(ext, dict) else None
    return inner if isinstance(inner, dict) else {}


def overall_tier(response: dict[str, Any]) -> str | None:
    cards = response.get("cards") or []
    return _extension(cards[0]).get("tier") if cards else None


def suggested_orderables(response: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for card in response.get("cards") or []:
        for suggestion in card.get("suggestions") or []:
            for action in suggestion.get("actions") or []:
                resource = action.get("resource") or {}
                if action.get("type") != "create" or resource.get("resourceType") != "ServiceRequest":
                    continue
                for coding in (resource.get("code") or {}).get("coding") or []:
                    if coding.get("system") == ORDERABLE_SYSTEM and coding.get("code"):
                        found.add(coding["code"])
    return found


def _scores_union(response: dict[str, Any]) -> dict[str, Any]:
    union: dict[str, Any] = {}
    for card in response.get("cards") or []:
        scores = _extension(card).get("scores")
        if isinstance(scores, dict):
            union.update(scores)
    return union


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def score_matches(expected: Any, actual: Any) -> bool:
    """Numbers compare numerically; {"min","max"} ranges on min/max (extra keys in actual are fine)."""
    if _number(expected):
        if isinstance(actual, dict) and {"min", "max"} <= set(actual):
            return _number(actual["min"]) and actual["min"] == actual["max"] == expected
        return _number(actual) and float(actual) == float(expected)
    if isinstance(expected, dict):
        if {"min", "max"} <= set(expected) and _number(actual):
            return score_matches(expected["min"], actual) and score_matches(expected["max"], actual)
        if not isinstance(actual, dict):
            return False
        return all(k in actual and score_matches(v, actual[k]) for k, v in expected.items())
    return expected == actual


def fired_rules(response: dict[str, Any]) -> set[str]:
    """Every rule id in the ``rules`` of any card of the response (contract §9 ``rules``)."""
    fired: set[str] = set()
    for card in response.get("cards") or []:
        rules = _extension(card).get("rules")
        if isinstance(rules, list):
            fired.update(r for r in rules if isinstance(r, str))
    return fired


def check_expect(expect: dict[str, Any], response: dict[str, Any]) -> list[str]:
    """Problems with ``response`` against a vignette's ``expect`` (contract §9); [] when it passes."""
    problems: list[str] = []
    if "rules" in expect:
        wanted = expect["rules"]
        if not (isinstance(wanted, list) and all(isinstance(r, str) for r in wanted)):
            problems.append(f"expect.rules must be a list of rule ids, got {wanted!r}")
        else:
            fired = fired_rules(response)
            for rule in wanted:
                if rule not in fired:
                    problems.append(f"rules: {rule} is in no card's rules (fired: {sorted(fired) or 'none'})")
    if "tier" in expect and overall_tier(response) != expect["tier"]:
        problems.append(f"tier: expected {expect['tier']!r}, got {overall_tier(response)!r}")
    if "topics" in expect:
        topics = {((c.get("source") or {}).get("topic") or {}).get("code") for c in response.get("cards") or []}
        if topics != set(expect["topics"]):
            problems.append(f"topics: expected {sorted(expect['topics'])}, got {sorted(map(str, topics))}")
    wanted_scores = dict(expect.get("scores") or {})
    for shorthand in ("wellsDvt", "wellsPe"):
        if shorthand in expect:
            wanted_scores[shorthand] = expect[shorthand]
    union = _scores_union(response)
    for key, expected in wanted_scores.items():
        if key not in union:
            problems.append(f"scores.{key}: expected {expected!r}, not in any card")
        elif not score_matches(expected, union[key]):
            problems.append(f"scores.{key}: expected {expected!r}, got {union[key]!r}")
    ordered = suggested_orderables(response)
    for test in expect.get("mustOrder") or []:
        if test not in ordered:
            problems.append(f"mustOrder: {test} not suggested (suggested: {sorted(ordered)})")
    for test in expect.get("mustNotOrder") or []:
        if test in ordered:
            problems.append(f"mustNotOrder: {test} suggested")
    return problems


# ---- card structure (CDS Hooks 2.0 + contract §4) --------------------------------------------------------


def _empty_fields(value: Any, where: str) -> list[str]:
    """Null or empty fields anywhere (contract §7: never null or empty fields, except cards: [])."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None or item == "" or item == [] or item == {}:
                out.append(f"{where}.{key} is null or empty")
            else:
                out += _empty_fields(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if item is None or item == "" or item == [] or item == {}:
                out.append(f"{where}[{i}] is null or empty")
            else:
                out += _empty_fields(item, f"{where}[{i}]")
    return out


_RELATIVE_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


def _check_action(action: Any, where: str) -> list[str]:
    if not isinstance(action, dict):
        return [f"{where} is not an object"]
    kind = action.get("type")
    if kind not in ("create", "update", "delete"):
        return [f"{where}.type {kind!r} is not create|update|delete"]
    if not isinstance(action.get("description"), str):
        return [f"{where}.description missing"]
    if kind in ("create", "update") and not (isinstance(action.get("resource"), dict)
                                            and action["resource"].get("resourceType")):
        return [f"{where}.resource missing for {kind}"]
    if kind == "delete" and not action.get("resourceId"):
        return [f"{where}.resourceId missing for delete"]
    if kind == "delete" and not (isinstance(action["resourceId"], str) and _RELATIVE_REF.match(action["resourceId"])):
        # CDS Hooks 2.0 Action: resourceId is a *string*, a relative reference (contract §4)
        return [f"{where}.resourceId {action['resourceId']!r} is not one relative reference 'Type/id'"]
    resource = action.get("resource")
    if kind == "create" and resource.get("resourceType") == "ServiceRequest":
        # contract §4: reasonCode and note both present, both carrying why
        return [f"{where}.resource.{key} missing" for key in ("reasonCode", "note") if not resource.get(key)]
    return []


def _check_suggestions(card: dict[str, Any], where: str, uuids: list[str]) -> list[str]:
    out: list[str] = []
    suggestions = card.get("suggestions")
    if suggestions is None:
        return out
    if not isinstance(suggestions, list):
        return [f"{where}.suggestions is not a list"]
    if card.get("selectionBehavior") not in ("any", "at-most-one"):
        out.append(f"{where}.selectionBehavior must be any|at-most-one when there are suggestions")
    for i, suggestion in enumerate(suggestions):
        here = f"{where}.suggestions[{i}]"
        if not isinstance(suggestion, dict) or not isinstance(suggestion.get("label"), str):
            out.append(f"{here}.label missing")
            continue
        if suggestion.get("uuid"):
            uuids.append(suggestion["uuid"])
        for j, action in enumerate(suggestion.get("actions") or []):
            out += _check_action(action, f"{here}.actions[{j}]")
    return out


def _check_card(card: Any, i: int, uuids: list[str], knowledge_version: str | None = None) -> list[str]:
    where = f"cards[{i}]"
    if not isinstance(card, dict):
        return [f"{where} is not an object"]
    out: list[str] = []
    if not isinstance(card.get("uuid"), str):
        out.append(f"{where}.uuid missing")
    else:
        uuids.append(card["uuid"])
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary:
        out.append(f"{where}.summary missing")
    elif len(summary) > 139:
        out.append(f"{where}.summary is {len(summary)} characters (max 139)")
    ext = _extension(card)
    rules = ext.get("rules")
    if not (isinstance(rules, list) and rules and all(isinstance(r, str) for r in rules)):
        out.append(f"{where}.extension.rules is not a non-empty list of rule ids")
    version = ext.get("knowledgeVersion")
    if not isinstance(version, str):
        out.append(f"{where}.extension.knowledgeVersion missing")
    elif knowledge_version is not None and version != knowledge_version:
        out.append(f"{where}.extension.knowledgeVersion is {version!r}, the rules are {knowledge_version!r}")
    tier = ext.get("tier")
    if tier not in INDICATOR:
        out.append(f"{where}: tier {tier!r} is not one of {TIER_ORDER}")
    elif card.get("indicator") != INDICATOR[tier]:
        out.append(f"{where}.indicator {card.get('indicator')!r} does not match tier {tier} ({INDICATOR[tier]})")
    source = card.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("label"), str) or not source["label"]:
        out.append(f"{where}.source.label missing")
    out += _check_suggestions(card, where, uuids)
    for j, link in enumerate(card.get("links") or []):
        if not isinstance(link, dict) or link.get("type") not in ("absolute", "smart") or not link.get("url"):
            out.append(f"{where}.links[{j}] malformed")
    return out + _empty_fields(card, where)


def validate_cards(response: Any, knowledge_version: str | None = None) -> list[str]:
    """CDS Hooks 2.0 card structure plus contract §4 rules; [] when every card is well-formed.

    Every card carries ``extension["example.knee-cds"].knowledgeVersion`` (clinical-rules §7.5); with
    ``knowledge_version`` given it must equal it (the suite passes the spec's version)."""
    if not isinstance(response, dict) or not isinstance(response.get("cards"), list):
        return ["response has no cards list"]
    problems: list[str] = []
    uuids: list[str] = []
    tiers = []
    for i, card in enumerate(response["cards"]):
        problems += _check_card(card, i, uuids, knowledge_version)
        if isinstance(card, dict):
            tiers.append(_extension(card).get("tier"))
    duplicates = sorted({u for u in uuids if uuids.count(u) > 1})
    if duplicates:
        problems.append(f"uuids not unique: {duplicates}")
    ranks = [TIER_ORDER.index(t) for t in tiers if t in TIER_ORDER]
    if ranks and ranks != sorted(ranks):
        problems.append(f"cards are not most urgent first: {tiers}")
    return problems


def make_now() -> datetime:
    """The run's 'now', whole seconds (times in vignettes render to seconds)."""
    return datetime.now(timezone.utc).replace(microsecond=0)
