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


# -- §6.1 / §7.2: an emergency-immediate PE card supersedes the DVT card -------------------------------
def _pe_and_dvt(pe_tier, carried=None, supersede_text="Leg vein ultrasound can support the diagnosis."):
    t = make_triage(make_facts(50), dvt_suspected=True, dvt_status="open")
    pe = t.add_card(CardDraft("pe-emergency", pe_tier, rules=["PE-RED-FLAG"], evidence=["PE symptom, chest pain"],
                              recommendation=["Call an ambulance."]))
    dvt = t.add_card(CardDraft("dvt-pathway", "emergency-same-day", rules=["DVT-LIKELY-US4H"]))
    t.pe_tier = pe_tier
    t.pe_supersede_text = supersede_text
    t.dvt_carried_by_pe = carried
    return t, pe, dvt


def test_a_same_day_pe_card_leaves_the_dvt_card_alone():
    t, pe, dvt = _pe_and_dvt("emergency-same-day", CardDraft("dvt-pathway", "urgent", scores={"wellsDvt": 1}))
    cards = assemble(t)
    assert dvt in cards and "DVT-SUPERSEDED-BY-PE" not in pe.rules and "wellsDvt" not in pe.scores


def test_an_immediate_pe_card_takes_over_what_the_dvt_pathway_recorded_once():
    carried = CardDraft("dvt-pathway", "emergency-same-day", scores={"wellsDvt": {"min": 3}, "dDimer": {"state": "none"}},
                        evidence=["Wells +1, calf swelling", "PE symptom, chest pain"], unknown=["Not recorded: x."],
                        flags=["not-documented"], guidelines=["rcog"], recommendation=["LMWH until VTE is excluded."])
    t, pe, dvt = _pe_and_dvt("emergency-immediate", carried)
    cards = assemble(t)
    assert dvt not in cards and cards[0] is pe
    assert pe.rules[:2] == ["PE-RED-FLAG", "DVT-SUPERSEDED-BY-PE"]
    assert pe.scores == {"wellsDvt": {"min": 3}, "dDimer": {"state": "none"}} and t.scores["wellsDvt"] == {"min": 3}
    assert pe.evidence[:2] == ["PE symptom, chest pain", "Wells +1, calf swelling"]     # no line twice
    assert pe.recommendation[:3] == ["Call an ambulance.", "Leg vein ultrasound can support the diagnosis.",
                                     "LMWH until VTE is excluded."]
    assert "not-documented" in pe.flags and "rcog" in pe.guidelines and "Not recorded: x." in pe.unknown


def test_a_superseding_pe_card_without_a_leg_scan_text_adds_none():
    t, pe, _dvt = _pe_and_dvt("emergency-immediate", None, supersede_text=None)
    assemble(t)
    assert "DVT-SUPERSEDED-BY-PE" in pe.rules and pe.recommendation[0] == "Call an ambulance."
    assert len([r for r in pe.recommendation if "ultrasound" in r]) == 0
