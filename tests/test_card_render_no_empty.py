"""A rendered card never holds null, "", [] or {} anywhere (contract §7), whatever the draft holds:
the renderer leaves such members out where it builds them, so stripping the card changes nothing."""
from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.cards_protocol import strip_empty
from service.cards.draft import AdviceSuggestion, CardDraft, NotSuggested, Suggest
from service.cards.render import CardRenderer
from service.terminology.code_sets import default_terminology
from service.vocabulary import Tier, Topic
from tests.support.msk_facts import NOW, make_facts

TERMINOLOGY = default_terminology()
RENDERER = CardRenderer(TERMINOLOGY)

# empty and blank text on purpose, beside ordinary words and references
text = st.sampled_from(["", " ", "  \n", "x", "DVT excluded", "S2: leg swelling: Observation/s", "10*9/L"]) | st.text(max_size=12)
orderable = st.sampled_from(sorted(TERMINOLOGY.orderable_ids)) | st.sampled_from(["", "not-in-the-catalog"])
empty_json = st.sampled_from([None, "", [], {}])
score_value = st.recursive(empty_json | st.integers(-2, 9) | st.booleans() | text,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                           max_leaves=8)
window = st.none() | st.tuples(st.integers(0, 120), st.integers(1, 240)).map(
    lambda m: (NOW + timedelta(minutes=m[0], seconds=7), NOW + timedelta(minutes=m[0] + m[1])))
suggest = st.builds(Suggest, orderable, text, text, label=text, note=text, period=window,
                    priority=st.none() | st.sampled_from(["", "urgent", "stat"]))
advice = st.builds(AdviceSuggestion, text, text, deletes=st.lists(text, max_size=2),
                   creates=st.lists(suggest, max_size=2), reason=text)
draft = st.builds(
    CardDraft, st.sampled_from(list(Topic)), st.sampled_from(list(Tier)),
    rules=st.lists(text, max_size=3), summary=text, headline=text, evidence=st.lists(text, max_size=4),
    unknown=st.lists(text, max_size=2), recommendation=st.lists(text, max_size=3),
    not_recommended=st.lists(st.builds(NotSuggested, orderable, text), max_size=2),
    suggestions=st.lists(suggest, max_size=2), advice=st.lists(advice, max_size=2),
    scores=st.dictionaries(text, score_value, max_size=3), flags=st.lists(text, max_size=3),
    quality=st.lists(text, max_size=2), guidelines=st.lists(st.sampled_from(["ng158", "acr", "unknown-key", ""]), max_size=2),
    safety_net=st.booleans(), extra=st.lists(st.tuples(text, st.lists(text, max_size=2)), max_size=2))


@settings(max_examples=300, deadline=None)
@given(draft, st.sampled_from(["p1", ""]))
def test_a_rendered_card_has_nothing_to_strip(d, pid):
    facts = make_facts(pid=pid)
    if not pid:
        facts.patient_ref = ""
    card = RENDERER.render(d, facts)
    assert strip_empty(card) == card


def test_a_draft_with_nothing_to_say_still_renders_without_empty_members():
    card = RENDERER.render(CardDraft(Topic.SELF_CARE, Tier.SELF_CARE, summary="  ", rules=[""]), make_facts())
    assert strip_empty(card) == card
    assert {"uuid", "indicator", "source", "links", "extension"} <= card.keys()
