"""Response cards: empty members are dropped at every depth, every card and suggestion carries a fresh
random uuid, and what the domain already named keeps its uuid."""
from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.cards_protocol import response_cards, strip_empty


def reference_strip(value):
    """The rule of contract §7 written plainly: null, "", [] and {} go, after their members went."""
    def empty(v):
        return v is None or (isinstance(v, (str, list, dict)) and not v)
    if isinstance(value, dict):
        stripped = {k: reference_strip(v) for k, v in value.items()}
        return {k: v for k, v in stripped.items() if not empty(v)}
    if isinstance(value, list):
        return [v for v in (reference_strip(v) for v in value) if not empty(v)]
    return value


class Text(str):
    """A str subclass: stripped by the same rule as str."""


LEAVES = st.none() | st.booleans() | st.integers(-2, 2) | st.floats(allow_nan=False) | st.sampled_from(
    ["", "a", Text(""), Text("b"), (), (1,)])
VALUES = st.recursive(LEAVES, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=3), c, max_size=4),
                      max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_strip_empty_follows_the_plain_rule(value):
    got = strip_empty(value)
    assert got == reference_strip(value)
    assert repr(got) == repr(reference_strip(value))  # same order, same types (False stays False)


def test_every_card_and_suggestion_gets_a_fresh_random_uuid():
    cards = [{"summary": "a", "suggestions": [{"label": "x"}, {"label": "y", "uuid": ""}]},
             {"summary": "b", "uuid": "kept", "suggestions": [{"label": "z", "uuid": "also-kept"}]},
             {"summary": "c", "detail": "", "links": []}]
    first, second = response_cards(cards), response_cards(cards)
    assert first[1]["uuid"] == "kept" and first[1]["suggestions"] == [{"label": "z", "uuid": "also-kept"}]
    assert list(first[0]["suggestions"][0]) == ["uuid", "label"]
    assert "uuid" not in first[0]["suggestions"][1]  # an empty uuid given by the domain is dropped, not replaced
    assert first[2] == {"summary": "c", "uuid": first[2]["uuid"]}
    fresh = [first[0]["uuid"], first[0]["suggestions"][0]["uuid"], first[2]["uuid"],
             second[0]["uuid"], second[0]["suggestions"][0]["uuid"], second[2]["uuid"]]
    assert len(set(fresh)) == len(fresh)
    assert all(uuid.UUID(u).version == 4 and str(uuid.UUID(u)) == u for u in fresh)
    assert cards[0] == {"summary": "a", "suggestions": [{"label": "x"}, {"label": "y", "uuid": ""}]}  # not changed
