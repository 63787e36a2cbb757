"""Generic card plumbing for the hook response (CDS Hooks 2.0 §Card), no clinical content.

Contract §7: a response never carries null or empty fields, except ``"cards": []``. Every card and
every suggestion gets a ``uuid`` (fresh per response) so that feedback can name them.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any


def strip_empty(value: Any) -> Any:
    """Drop null, "", [] and {} members, recursively (after stripping, so {"a": [null]} goes too).
    False and 0 are values, and stay.

    Exact types are tested first and the leaves inline: a card is mostly text, and this runs on
    every member of every card of every response."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            cls = item.__class__
            if cls is str:
                if item:
                    out[key] = item
            elif cls is dict or cls is list or isinstance(item, (dict, list)):
                item = strip_empty(item)
                if item:
                    out[key] = item
            elif item is not None and not (isinstance(item, str) and not item):
                out[key] = item
        return out
    if isinstance(value, list):
        kept = []
        for item in value:
            cls = item.__class__
            if cls is str:
                if item:
                    kept.append(item)
            elif cls is dict or cls is list or isinstance(item, (dict, list)):
                item = strip_empty(item)
                if item:
                    kept.append(item)
            elif item is not None and not (isinstance(item, str) and not item):
                kept.append(item)
        return kept
    return value


def fresh_uuids(count: int) -> Iterator[str]:
    """``count`` random (version 4) UUIDs from one read of the OS's random source: unpredictable as
    ``uuid.uuid4()``, without a system call (and a release of the interpreter lock) per UUID."""
    random = os.urandom(16 * count)
    return (str(uuid.UUID(bytes=random[i:i + 16], version=4)) for i in range(0, 16 * count, 16))


def _with_uuids(card: dict[str, Any], uuids: Iterator[str]) -> dict[str, Any]:
    """The card with a uuid on itself and on each suggestion (existing ones are kept), taken from
    ``uuids`` (one per card and suggestion at most)."""
    card = dict(card)
    if "uuid" not in card:
        card["uuid"] = next(uuids)
    if card.get("suggestions"):
        card["suggestions"] = [{"uuid": next(uuids), **s} if not s.get("uuid") else s
                               for s in card["suggestions"]]
    return card


def response_cards(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    uuids = fresh_uuids(sum(1 + len(card.get("suggestions") or ()) for card in cards))
    return [strip_empty(_with_uuids(card, uuids)) for card in cards]


def suggestion_uuids(card: dict[str, Any]) -> list[str]:
    return [s["uuid"] for s in card.get("suggestions", []) if isinstance(s, dict) and s.get("uuid")]
