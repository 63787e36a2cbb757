"""Knowledge 1.1.0 ("Changes in 1.1.0" of clinical-rules.md): each change at its boundary, through the
pathways (hand-built Facts) and the whole pipeline (run_triage), never through a vignette's answer."""
from __future__ import annotations

from datetime import timedelta

from service.engine import _load_pathways, run_triage
from service.triage import KNOWLEDGE_VERSION
from tests.support.msk_facts import NOW, make_facts, make_triage, q, src

PATHWAYS = _load_pathways()
CHEST = {"chest-pain": [src("Condition/cp")]}
REASSURING = {"posterior-knee-pain": True, "leg-swelling": False, "symptom-onset": NOW - timedelta(days=3)}


def run(facts, not_pregnant=True):
    if not_pregnant and facts.pregnancy.state == "unknown":
        facts.pregnancy.state = "not-pregnant"
    t = make_triage(facts)
    t.triggers = []
    return t, run_triage(t, PATHWAYS)


def all_rules(cards):
    return [r for c in cards for r in c.rules]


def test_knowledge_version_is_1_1_0():
    assert KNOWLEDGE_VERSION == "1.1.0"


# -- a computed PERC is on a card (§4.11, §6.1 P1) -------------------------------------------------
def test_perc_that_excluded_pe_is_in_the_scores_of_the_most_urgent_card():
    ka = {**REASSURING, "pe-suspicion-low": True}
    facts = make_facts(40, ka=ka, gender="male", symptoms=CHEST,
                       vitals={"heart_rate": q(80, "/min"), "spo2": q(98, "%")})
    _t, cards = run(facts)
    assert [c.topic for c in cards] == ["self-care"]
    assert "PE-PERC-NEG" in cards[0].rules and cards[0].scores.get("perc") == "negative"


def test_perc_on_the_review_card_when_that_is_the_most_urgent():
    ka = {**REASSURING, "pe-suspicion-low": True, "pain-limits-walking-or-sleep": True}
    facts = make_facts(40, ka=ka, gender="male", symptoms=CHEST,
                       vitals={"heart_rate": q(80, "/min"), "spo2": q(98, "%")})
    _t, cards = run(facts)
    top = cards[0]
    assert top.topic == "chronic-knee-pain-imaging"
    assert "PE-PERC-NEG" in top.rules and top.scores.get("perc") == "negative"
    assert sum("perc" in c.scores for c in cards) == 1
