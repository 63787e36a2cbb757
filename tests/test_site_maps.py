"""contract §10 site maps: the shipped example loads; every error of "Errors stop the load" raises."""
import copy
import json

import pytest

from service.terminology.code_sets import default_terminology
from service.terminology.site_maps import SITES_DIR, SiteMapError, load_terminology

EXAMPLE = json.loads((SITES_DIR / "st-example-hospital.json").read_text())
FS = "http://st-example.org/fhir/flowsheet"
NOTE = "local code FS-2232, site map st-example-hospital 2026-03-01.1"


def write(tmp_path, doc, name="site.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def with_entry(**entry):
    doc = copy.deepcopy(EXAMPLE)
    doc["codes"].append({"system": FS, "code": "X-1", **entry})
    return doc


def test_example_loads_and_adds_only():
    t = load_terminology(["st-example-hospital"])
    assert [(m.site, m.version, m.entries) for m in t.site_maps] == [("st-example-hospital", "2026-03-01.1", 5)]
    assert t.ka_code([{"system": FS, "code": "FS-2232"}])[0] == "deep-vein-tenderness"
    assert t.local_entry([{"system": FS, "code": "FS-2232"}]).note == NOTE
    m = t.match("Observation.code", [{"system": FS, "code": "FS-0815"}])
    assert m.sets == {"syncope"} and m.via.startswith("local code FS-0815")
    # readFrom subset: DDIM-F is read from Observation.code only
    lab = [{"system": "http://st-example.org/lab", "code": "DDIM-F"}]
    assert t.sets_for("Observation.code", lab) == {"d-dimer-feu"}
    assert not t.sets_for("Observation.component.code", lab)
    # dotless ICD-10-CM alias reaches prefixes too
    assert "vte-history" in t.sets_for("Condition.code", [{"system": "urn:oid:2.16.840.1.113883.6.90", "code": "Z86718"}])
    # the published sets are unchanged, and the default terminology knows nothing of the site
    assert not default_terminology().ka_code([{"system": FS, "code": "FS-2232"}])
    assert t.set_codes("syncope") == default_terminology().set_codes("syncope")


def test_path_form_and_file_name_form(tmp_path):
    t = load_terminology([write(tmp_path, EXAMPLE)])
    assert t.site_maps[0].file == "site.json"


@pytest.mark.parametrize("entry, words", [
    ({"set": "no-such-set"}, "unknown set"),
    ({"knee-assessment": "no-such-item"}, "unknown knee-assessment"),
    ({}, "exactly one target"),
    ({"set": "syncope", "knee-assessment": "leg-swelling"}, "two targets"),
    ({"set": "d-dimer-feu", "readFrom": ["Condition.code"]}, "not listed by set"),
    ({"knee-assessment": "calf-circumference-difference", "unit": "inch"}, "not accepted"),
    ({"knee-assessment": "morning-stiffness", "units": {"hrs": "days"}}, "not accepted"),
    ({"knee-assessment": "leg-swelling", "answers": {"Y": "yes"}}, "boolean item"),
    ({"knee-assessment": "symptom-side", "answers": {"L": True}}, "coded item"),
    ({"knee-assessment": "symptom-side", "answers": {"L": {"system": "http://snomed.info/sct", "code": "1"}}},
     "not an answer"),
    ({"knee-assessment": "injury-mechanism", "answers": {"T": {"system": "x", "code": "twist"}}}, "not an answer"),
    ({"knee-assessment": "symptom-onset", "answers": {"X": True}}, "dateTime"),
])
def test_entry_errors_name_file_and_entry(tmp_path, entry, words):
    path = write(tmp_path, with_entry(**entry))
    with pytest.raises(SiteMapError) as err:
        load_terminology([path])
    assert words in str(err.value)
    assert "site.json" in str(err.value) and "codes[5] (X-1)" in str(err.value)


def test_two_entries_for_same_coding(tmp_path):
    doc = copy.deepcopy(EXAMPLE)
    doc["codes"].append(dict(doc["codes"][1]))
    with pytest.raises(SiteMapError, match="second entry"):
        load_terminology([write(tmp_path, doc)])


def test_same_coding_across_two_maps(tmp_path):
    other = {"site": "other", "version": "1", "codes": [EXAMPLE["codes"][0]]}
    with pytest.raises(SiteMapError, match="second entry"):
        load_terminology(["st-example-hospital", write(tmp_path, other, "other.json")])


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.pop("site"), "site"),
    (lambda d: d.pop("version"), "version"),
    (lambda d: d.pop("codes"), "codes"),
    (lambda d: d["systemAliases"].append({"system": "urn:x", "sameAs": "http://snomed.info/sct", "dotless": True}),
     "ICD-10-CM only"),
])
def test_document_errors(tmp_path, mutate, words):
    doc = copy.deepcopy(EXAMPLE)
    mutate(doc)
    with pytest.raises(SiteMapError, match=words):
        load_terminology([write(tmp_path, doc)])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(SiteMapError, match="not found"):
        load_terminology(["no-such-site"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SiteMapError, match="bad.json"):
        load_terminology([str(bad)])
