"""Cards for a terminal: what ``knee-cds triage`` prints.

One block per card, most urgent first: the tier (in colour on a TTY) and summary, the detail as plain
text (its sections carry the evidence behind each score and what is unknown), the scores, the orders
each suggestion would create or delete, and the rule ids.
"""
from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from service.cards.render import EXTENSION_KEY
from service.terminology.code_sets import ORDERABLE_SYSTEM
from service.vocabulary import Tier

WIDTH = 100
# ANSI colours per tier (clinical-rules §0 tier rank): red, magenta, yellow, cyan, green
TIER_COLOURS = {Tier.EMERGENCY_IMMEDIATE: "1;31", Tier.EMERGENCY_SAME_DAY: "1;35", Tier.URGENT: "1;33",
                Tier.ROUTINE: "1;36", Tier.SELF_CARE: "1;32"}
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _plain(text: str) -> str:
    """Markdown emphasis removed, and no control character from chart text reaches the terminal."""
    return _CONTROL.sub("?", _BOLD.sub(r"\1", text))


def _paint(text: str, code: str | None, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def _ext(card: dict[str, Any]) -> dict[str, Any]:
    ext = card.get("extension")
    return ext.get(EXTENSION_KEY) or {} if isinstance(ext, dict) else {}


def _order(action: dict[str, Any]) -> str:
    if action.get("type") == "delete":
        target = action.get("resourceId")
        return "delete " + (", ".join(target) if isinstance(target, list) else str(target))
    resource = action.get("resource") if isinstance(action.get("resource"), dict) else {}
    code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
    orderable = next((c.get("code") for c in code.get("coding") or []
                      if isinstance(c, dict) and c.get("system") == ORDERABLE_SYSTEM), "")
    priority = f", {resource['priority']}" if resource.get("priority") else ""
    return f"{action.get('type', 'create')} {code.get('text') or orderable} [{orderable}{priority}]"


def _wrap(line: str, indent: str) -> list[str]:
    bullet = line.startswith("- ")
    body = line[2:] if bullet else line
    first, rest = (indent + "- ", indent + "  ") if bullet else (indent, indent)
    return textwrap.wrap(body, WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False) or [indent]


def format_card(card: dict[str, Any], colour: bool) -> list[str]:
    ext = _ext(card)
    tier = str(ext.get("tier") or card.get("indicator") or "")
    out = [_paint(f"[{tier}]", TIER_COLOURS.get(tier), colour) + " " + _plain(str(card.get("summary", "")))]
    for line in _plain(str(card.get("detail", ""))).splitlines():
        out.extend(_wrap(line, "    ") if line.strip() else [""])
    scores = ext.get("scores")
    if isinstance(scores, dict) and scores:
        out.append("    Scores: " + "; ".join(f"{k} {json.dumps(v, separators=(',', ':'))}" for k, v in scores.items()))
    for suggestion in card.get("suggestions") or []:
        if not isinstance(suggestion, dict):
            continue
        mark = " (recommended)" if suggestion.get("isRecommended") else ""
        out.append(f"    Suggestion: {_plain(str(suggestion.get('label', '')))}{mark}")
        for action in suggestion.get("actions") or []:
            if isinstance(action, dict):
                out.append(f"      -> {_plain(_order(action))}")
    if ext.get("rules"):
        out.append("    Rules: " + ", ".join(str(r) for r in ext["rules"]))
    return out


def format_response(body: dict[str, Any], colour: bool = False) -> str:
    cards = body.get("cards") if isinstance(body.get("cards"), list) else []
    if not cards:
        return "No cards: nothing to say about this chart for this hook.\n"
    blocks = ["\n".join(format_card(c, colour)) for c in cards if isinstance(c, dict)]
    return "\n\n".join(blocks) + "\n"


def outcome_reason(body: dict[str, Any]) -> str:
    """One line from an OperationOutcome: the diagnostics of its issues."""
    issues = body.get("issue") if isinstance(body.get("issue"), list) else []
    texts = [str(i.get("diagnostics", "")) for i in issues if isinstance(i, dict)]
    return _plain("; ".join(t for t in texts if t) or "the service refused the request").replace("\n", " ")
