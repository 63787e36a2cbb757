"""terminology §1.3 matching rule, answer sets, orderables, anticoagulant metadata."""
import json

import pytest

from service.terminology.code_sets import (
    CODESETS_PATH,
    ICD10CM,
    SIDE_QUESTION,
    default_terminology,
)
from service.terminology.site_maps import load_terminology

T = default_terminology()
DATA = json.loads(CODESETS_PATH.read_text())


def first_code(set_name, system=None):
    for c in DATA[set_name]["codes"]:
        if system is None or c["system"] == system:
            return c["system"], c["code"]
    raise LookupError(set_name)


def first_prefix(set_name):
    p = DATA[set_name]["prefixes"][0]
    return p["system"], p["prefix"]


def coding(system, code):
    return [{"system": system, "code": code}]


def test_loaded_once_and_immutable():
    assert default_terminology() is T
    assert load_terminology([]) is T
    with pytest.raises(AttributeError):
        T.foo = 1  # __slots__: no new state


def test_exact_match_on_listed_elements_only():
    system, code = first_code("active-cancer")
    assert "active-cancer" in T.sets_for("Condition.code", coding(system, code))
    assert "active-cancer" in T.sets_for("Encounter.reasonCode", {"coding": coding(system, code)})
    assert "active-cancer" not in T.sets_for("Observation.code", coding(system, code))


def test_trimmed_and_case_sensitive():
    system, code = first_code("active-cancer", ICD10CM)
    assert T.sets_for("Condition.code", coding(f" {system} ", f" {code} "))
    assert not T.sets_for("Condition.code", coding(system, code.lower()))


def test_icd10cm_prefix_match():
    system, prefix = first_prefix("active-cancer")
    assert "active-cancer" in T.sets_for("Condition.code", coding(system, prefix + ".912"))
    # prefixes never apply to another system
    assert not T.sets_for("Condition.code", coding("http://hl7.org/fhir/sid/icd-10", prefix + ".912"))


def test_text_and_display_never_match():
    system, code = first_code("active-cancer")
    assert not T.sets_for("Condition.code", {"text": "cancer", "coding": [{"display": "cancer"}]})


def test_answer_sets_respect_answer_to():
    system, code = first_code("side-left")
    assert T.answer_sets(coding(system, code), SIDE_QUESTION) == {"side-left"}
    yes = first_code("answer-yes")
    no = first_code("answer-no")
    assert T.yes_no(coding(*yes)) is True and T.yes_no(coding(*no)) is False
    assert T.yes_no(coding(system, code)) is None
    assert not T.answer_sets(coding(*first_code("not-pregnant")), "smoking-status")


def test_orderables_catalog():
    for oid in T.orderable_ids:
        codings = T.orderable_codings(oid)
        assert codings and all({"system", "code", "display"} <= set(c) for c in codings)
        assert oid in T.orderables_for(codings[-1:])
    assert T.orderable_display("knee-xray") == DATA["orderables"]["knee-xray"]["display"]


def test_anticoagulant_metadata():
    for name in ("anticoagulants-therapeutic", "anticoagulants-prophylactic", "anticoagulants-dose-dependent"):
        for c in DATA[name]["codes"]:
            info = T.anticoagulant_info(c)
            assert info is not None and name in info["sets"] and info["ingredient"] == c["ingredient"]


def test_set_codes_for_cards():
    assert [c["code"] for c in T.set_codes("override-reason")] == [c["code"] for c in DATA["override-reason"]["codes"]]


def test_mapping_files_are_read_one_way_and_say_what_is_wrong(tmp_path):
    from service.terminology.mapping_files import MappingFileError, read_json_file

    assert read_json_file(CODESETS_PATH) == DATA
    with pytest.raises(MappingFileError, match="missing.json: not found"):
        read_json_file(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(MappingFileError, match="broken.json: not readable JSON"):
        read_json_file(tmp_path / "broken.json")
