"""Generic card plumbing for the hook response (CDS Hooks 2.0 §Card), no clinical content.

Contract §7: a response never carries null or empty fields, except ``"cards": []``. Every card and
every suggestion gets a ``uuid`` (fresh per response) so that feedback can name them.
"""
from __future__ import annotations

import uuid
from typing import Any

def _is_empty(value: Any) -> bool:
    # False and 0 are values, and stay
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def strip_empty(value: Any) -> Any:
    """Drop null, "", [] and {} members, recursively (after stripping, so {"a": [null]} goes too)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                item = strip_empty(item)
            if not _is_empty(item):
                out[key] = item
        return out
    if isinstance(value, list):
        kept = []
        for item in value:
            if isinstance(item, (dict, list)):
                item = strip_empty(item)
            if not _is_empty(item):
                kept.append(item)
        return kept
    return value


def with_uuids(card: dict[str, Any]) -> dict[str, Any]:
    """The card with a uuid on itself and on each suggestion (existing ones are kept)."""
    card = dict(card)
    card.setdefault("uuid", str(uuid.uuid4()))
    if card.get("suggestions"):
        card["suggestions"] = [{"uuid": str(uuid.uuid4()), **s} if not s.get("uuid") else s
                               for s in card["suggestions"]]
    return card


def response_cards(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [strip_empty(with_uuids(card)) for card in cards]


def suggestion_uuids(card: dict[str, Any]) -> list[str]:
    return [s["uuid"] for s in card.get("suggestions", []) if isinstance(s, dict) and s.get("uuid")]
