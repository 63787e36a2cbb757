"""Assembly (clinical-rules §7.2, §7.3, §7.7)."""
from datetime import timedelta

from service.cards.assembly import assemble, on_record
from service.cards.draft import CardDraft, NotSuggested, Suggest
from service.chart.facts import OrderFact
from tests.support.msk_facts import NOW, make_facts, make_triage, q, reading, src


def order(orderable, status="active", hours=2):
    t = NOW - timedelta(hours=hours)
    return OrderFact(src(f"ServiceRequest/{orderable}", t, status), status, frozenset({orderable}), t, None)


def test_open_duplex_order_within_24h_suppresses_but_not_after():
    facts = make_facts(50)
    facts.orders = [order("venous-duplex-us", hours=23)]
    assert "requested" in on_record(facts, "venous-duplex-us", None)
    facts.orders = [order("venous-duplex-us", hours=25)]
    assert on_record(facts, "venous-duplex-us", None) is None


def test_resulted_crp_within_24h_is_shown_instead_of_suggested():
    facts = make_facts(50, labs={"crp": reading("Observation/crp", q(180, "mg/L", as_recorded="180 mg/L"),
                                                time=NOW - timedelta(hours=1))})
    t = make_triage(facts)
    card = t.add_card(CardDraft("septic-arthritis", "emergency-same-day",
                                suggestions=[Suggest("crp", "SEPTIC-ADULT", "baseline"),
                                             Suggest("esr", "SEPTIC-ADULT", "baseline")]))
    assemble(t)
    assert [s.orderable for s in card.suggestions] == ["esr"]
    assert any("180 mg/L" in line for line in card.evidence)
    assert card.meta["already_on_record"] == ["crp"]


def test_scheduled_repeat_is_never_suppressed():
    facts = make_facts(50)
    facts.orders = [order("venous-duplex-us", hours=1)]
    t = make_triage(facts, dvt_suspected=True, dvt_status="open")
    card = t.add_card(CardDraft("dvt-pathway", "urgent",
                                suggestions=[Suggest("venous-duplex-us", "DVT-LIKELY-US-NEG-DDIMER-POS-REPEAT",
                                                     "repeat", repeat=True)]))
    assemble(t)
    assert [s.orderable for s in card.suggestions] == ["venous-duplex-us"]


def test_more_urgent_not_suggested_wins_and_equal_tier_not_suggested_wins():
    t = make_triage(make_facts(50))
    urgent = t.add_card(CardDraft("paes", "urgent", suggestions=[Suggest("abi", "PAES-SUSPECTED", "x")]))
    t.add_card(CardDraft("popliteal-mass", "urgent", not_recommended=[NotSuggested("abi", "not now")]))
    assemble(t)
    assert urgent.suggestions == []


def test_cards_sorted_by_tier_then_topic_order():
    t = make_triage(make_facts(50))
    for topic, tier in (("paes", "urgent"), ("septic-arthritis", "emergency-same-day"),
                        ("popliteal-mass", "urgent")):
        t.add_card(CardDraft(topic, tier))
    assert [c.topic for c in assemble(t)] == ["septic-arthritis", "popliteal-mass", "paes"]
