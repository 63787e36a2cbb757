"""Popliteal artery entrapment, clinical-rules §6.11 (V08-like facts)."""
import pytest

from service.pathways import paes
from tests.support.msk_facts import condition, days_ago, make_facts, make_triage, not_suggested, suggested


def run(ka, age=25, **kw):
    dvt = kw.pop("dvt", False)
    t = make_triage(make_facts(age, ka=ka, **kw), dvt_suspected=dvt, dvt_status="open" if dvt else "not-suspected")
    paes.evaluate(t)
    return t.card("paes")


def test_v08_like():
    card = run({"exertional-calf-pain": True, "pulse-loss-on-provocation": True, "leg-swelling": False,
                "acute-limb-ischaemia": False, "symptom-onset": days_ago(245)})
    assert card.tier == "urgent" and card.rules == ["PAES-SUSPECTED", "PAES-PULSE-LOSS"]
    assert suggested(card) == ["abi", "arterial-duplex"]
    assert {"d-dimer", "venous-duplex-us", "knee-xray", "mri-knee"} <= set(not_suggested(card))
    assert card.suggestions[0].done_since == days_ago(245)
    assert any("cold, pale, pulseless or numb" in line for line in card.recommendation)
    assert "acr" in card.guidelines and len(card.summary) <= 139


@pytest.mark.parametrize("ka", [{"exertional-calf-pain": True}, {"pulse-loss-on-provocation": True}])
def test_either_sign_suffices(ka):
    assert run(ka) is not None


def test_pulse_loss_rule_only_with_pulse_loss():
    assert run({"exertional-calf-pain": True}).rules == ["PAES-SUSPECTED"]


def test_paes_condition():
    c = condition("Condition/paes", {"paes"}, onset=days_ago(100))
    assert run({}, conditions=[c]).rules == ["PAES-SUSPECTED"]


def test_acute_limb_ischaemia_excludes():
    assert run({"exertional-calf-pain": True, "acute-limb-ischaemia": True}) is None


def test_dvt_suspected_keeps_venous_tests_open():
    card = run({"exertional-calf-pain": True}, dvt=True)
    assert not {"d-dimer", "venous-duplex-us"} & set(not_suggested(card))


def test_atherosclerotic_text_from_40():
    card = run({"exertional-calf-pain": True}, age=40)
    assert any("Age 40 or over" in line for line in card.recommendation)


def test_no_sign_no_card():
    assert run({"exertional-calf-pain": False}) is None
