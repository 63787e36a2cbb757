"""service/vocabulary.py: the named states carry exactly the values the contract and the data name."""
import json
from importlib import resources

import pytest

from service.vocabulary import Orderable, RequestPriority, Tier, Topic, more_urgent


def test_orderables_are_the_catalog_of_the_code_sets():
    catalog = json.loads((resources.files("service.mappings") / "codesets.json").read_text("utf-8"))["orderables"]
    assert {o.value for o in Orderable} == set(catalog)


def test_members_are_their_strings_in_json():
    assert json.dumps({"tier": Tier.URGENT, "topic": Topic.DVT_PATHWAY}) == '{"tier": "urgent", "topic": "dvt-pathway"}'


def test_tier_rank_and_indicator_follow_contract_order():
    assert [t.value for t in sorted(Tier, key=lambda t: t.rank)] == [
        "emergency-immediate", "emergency-same-day", "urgent", "routine", "self-care"]
    assert [t.indicator for t in Tier] == ["critical", "critical", "warning", "info", "info"]


def test_more_urgent_keeps_the_more_urgent_and_ignores_absent():
    assert more_urgent("routine", "urgent") is Tier.URGENT
    assert more_urgent(None, "self-care") is Tier.SELF_CARE
    assert more_urgent("emergency-immediate", None) is Tier.EMERGENCY_IMMEDIATE
    assert more_urgent(None, None) is None


def test_of_finds_the_member_for_a_member_or_its_string():
    assert Tier.of("urgent") is Tier.URGENT and Tier.of(Tier.ROUTINE) is Tier.ROUTINE
    assert RequestPriority.of("stat") is RequestPriority.STAT
    with pytest.raises(ValueError):
        Tier.of("soon")
    with pytest.raises(ValueError):
        more_urgent("soon", "urgent")
