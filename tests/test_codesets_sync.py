"""mappings/codesets.json is a copy of the published code sets (terminology.md, ../shared/spec):
never edited here alone. Byte-for-byte, so a set added or changed in the spec (for example the
chronic-kidney-disease, heart-failure and peptic-ulcer-gi-bleeding sets of knowledge 1.1.0) fails
this test until it is copied."""
from __future__ import annotations

import json
import re

from service.terminology.code_sets import default_terminology
from tests.support.vignettes import REPO, SPEC_DIR

LOCAL = REPO / "mappings" / "codesets.json"
PUBLISHED = SPEC_DIR / "codesets.json"
ORDERABLE_SYSTEM = "http://knee-cds.example/fhir/CodeSystem/orderable"
SYSTEMS = {"LOINC": "http://loinc.org", "CPT": "http://www.ama-assn.org/go/cpt"}


def test_codesets_is_an_exact_copy_of_the_published_sets():
    assert PUBLISHED.is_file(), f"published code sets not found at {PUBLISHED}"
    assert LOCAL.read_bytes() == PUBLISHED.read_bytes(), (
        "mappings/codesets.json differs from the published codesets.json: copy it (mappings/README.md)")


def test_every_published_set_and_orderable_is_loaded():
    published = json.loads(PUBLISHED.read_text())
    terminology = default_terminology()
    sets = {k for k, v in published.items() if k != "orderables" and isinstance(v, dict)}
    assert sets <= set(terminology.set_names)
    assert {"chronic-kidney-disease", "heart-failure", "peptic-ulcer-gi-bleeding"} <= set(terminology.set_names)
    assert set(terminology.orderable_ids) == set(published["orderables"])


def _contract_catalog() -> dict[str, set[tuple[str, str]]]:
    """contract §5's table: orderable id -> {(system, code)} (LOINC and CPT as written there)."""
    text = (SPEC_DIR / "contract.md").read_text()
    section = text.split("## 5. Orderables catalog", 1)[1].split("\n## ", 1)[0]
    out: dict[str, set[tuple[str, str]]] = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([a-z0-9-]+)` \| [^|]+ \| (.+) \|$", line)
        if not m:
            continue
        codes = {(ORDERABLE_SYSTEM, m.group(1))}
        for part in m.group(2).split(";"):
            name, _, listed = part.strip().partition(" ")
            codes |= {(SYSTEMS[name], c.strip()) for c in listed.split(",") if c.strip()}
        out[m.group(1)] = codes
    return out


def test_catalog_codes_equal_contract_section_5():
    catalog = _contract_catalog()
    assert "pregnancy-test" in catalog and len(catalog) >= 17
    terminology = default_terminology()
    assert set(terminology.orderable_ids) == set(catalog)
    for orderable, codes in catalog.items():
        got = {(c["system"], c["code"]) for c in terminology.orderable_codings(orderable)}
        assert got == codes, orderable


def test_pregnancy_test_orderable_is_recognised_on_a_draft():
    terminology = default_terminology()
    for system, code in (("http://loinc.org", "2106-3"), ("http://loinc.org", "2118-8"),
                         ("http://www.ama-assn.org/go/cpt", "84703"), ("http://www.ama-assn.org/go/cpt", "81025")):
        assert terminology.orderables_for([{"system": system, "code": code}]) == {"pregnancy-test"}
