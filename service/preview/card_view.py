"""A card as the page shows it: the CDS Hooks JSON read into plain display fields."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from service.cards.render import EXTENSION_KEY
from service.preview.markdown import render_markdown
from service.terminology.code_sets import ORDERABLE_SYSTEM

# CDS Hooks 2.0 Card.indicator, most urgent first
INDICATORS = ("critical", "warning", "info")


@dataclass(frozen=True)
class ActionView:
    kind: str            # create / update / delete
    description: str
    order: str           # what the action creates, or which resource it deletes


@dataclass(frozen=True)
class SuggestionView:
    label: str
    recommended: bool
    actions: list[ActionView]


@dataclass
class CardView:
    summary: str
    indicator: str
    tier: str
    topic: str
    detail: Markup
    source_label: str
    source_url: str | None
    suggestions: list[SuggestionView] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    override_reasons: list[str] = field(default_factory=list)
    scores: list[tuple[str, str]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    knowledge_version: str = ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _order(action: dict[str, Any]) -> str:
    resource = action.get("resource") if isinstance(action.get("resource"), dict) else {}
    code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
    codings = code.get("coding") if isinstance(code.get("coding"), list) else []
    orderable = next((c.get("code") for c in codings
                      if isinstance(c, dict) and c.get("system") == ORDERABLE_SYSTEM), None)
    if action.get("type") == "delete":
        target = action.get("resourceId")
        return ", ".join(target) if isinstance(target, list) else _text(target)
    parts = [_text(code.get("text")) or _text(orderable)]
    if orderable:
        parts.append(f"[{orderable}]")
    if resource.get("priority"):
        parts.append(f"priority {resource['priority']}")
    return " ".join(p for p in parts if p)


def _suggestion(suggestion: dict[str, Any]) -> SuggestionView:
    actions = [a for a in suggestion.get("actions") or [] if isinstance(a, dict)]
    return SuggestionView(
        label=_text(suggestion.get("label")), recommended=bool(suggestion.get("isRecommended")),
        actions=[ActionView(_text(a.get("type")), _text(a.get("description")), _order(a)) for a in actions])


def card_view(card: dict[str, Any]) -> CardView:
    ext = ((card.get("extension") or {}).get(EXTENSION_KEY) or {}) if isinstance(card.get("extension"), dict) else {}
    source = card.get("source") if isinstance(card.get("source"), dict) else {}
    topic = source.get("topic") if isinstance(source.get("topic"), dict) else {}
    scores = ext.get("scores") if isinstance(ext.get("scores"), dict) else {}
    return CardView(
        summary=_text(card.get("summary")),
        indicator=card.get("indicator") if card.get("indicator") in INDICATORS else "info",
        tier=_text(ext.get("tier")),
        topic=_text(topic.get("display")) or _text(topic.get("code")),
        detail=render_markdown(card.get("detail")),
        source_label=_text(source.get("label")),
        source_url=_text(source.get("url")) or None,
        suggestions=[_suggestion(s) for s in card.get("suggestions") or [] if isinstance(s, dict)],
        links=[(_text(link.get("label")), _text(link.get("url"))) for link in card.get("links") or []
               if isinstance(link, dict) and _text(link.get("url")).startswith(("https://", "http://"))],
        override_reasons=[_text(r.get("display")) or _text(r.get("code")) for r in card.get("overrideReasons") or []
                          if isinstance(r, dict)],
        scores=[(key, json.dumps(value, separators=(", ", ": "))) for key, value in scores.items()],
        rules=[r for r in ext.get("rules") or [] if isinstance(r, str)],
        flags=[f for f in ext.get("flags") or [] if isinstance(f, str)],
        knowledge_version=_text(ext.get("knowledgeVersion")),
    )


def card_views(cards: list[dict[str, Any]]) -> list[CardView]:
    return [card_view(c) for c in cards if isinstance(c, dict)]


def overall_tier(cards: list[dict[str, Any]]) -> str | None:
    """The response's tier: the first card's (cards come most urgent first, clinical-rules §7)."""
    for card in cards:
        tier = ((card.get("extension") or {}).get(EXTENSION_KEY) or {}).get("tier")
        if isinstance(tier, str):
            return tier
    return None
