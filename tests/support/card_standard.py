"""The card wording standard (docs/card-style-guide.md) as checks on rendered CDS Hooks cards.

Written independently of service/card_text.py (which shapes the text): these read a card as a
clinician would and report every place it breaks the standard. ``check_response`` returns a list of
problems, empty when every card meets it.
"""
from __future__ import annotations

import re
from typing import Any

EXT = "example.knee-cds"
ORDERABLE = "http://knee-cds.example/fhir/CodeSystem/orderable"
SUMMARY_MAX = 139
MORE_DETAIL = "**More detail**"
DVT_SCREEN_LINES = 20        # detail lines of a DVT card before "More detail"
DVT_SCREEN_LINES_MODIFIED = 22
DVT_MODIFIERS = {"DVT-ANTICOAGULATED", "DVT-IMAGING-FIRST", "DVT-BAKER-MIMIC", "DVT-PAEDIATRIC"}

REF = re.compile(r"\b(?:Observation|Condition|MedicationRequest|MedicationStatement|Procedure|ServiceRequest|"
                 r"Encounter|Patient|DiagnosticReport)/[A-Za-z0-9\-.]+")
RAW_UCUM = re.compile(r"10\*\d|\bu(?:g|mol)/(?:L|mL)\b|mm\[Hg\]|\[degF\]|\{(?:beats|breaths|cells)\}|\d\s?Cel\b")
BROKEN_CAPITAL = re.compile(r"\b[a-z][A-Z]{2,}")            # "dVT", "cRP": a lowered acronym
ACTION_WORDS = ("ultrasound", "scan", "d-dimer", "radiograph", "x-ray", "mri", "ctpa", "emergency", "refer",
                "review", "self-care", "examine", "aspirat", "order", "replace", "remove", "abi", "duplex",
                "antibiotic", "culture", "orthopaedic", "record", "see a doctor", "imaging", "pregnancy test",
                "stop", "call", "bloods", "rheumatology", "check", "assess", "confirm", "start", "treat")
SCORE_ITEM = re.compile(r"^(?:Wells PE|Wells|Ottawa|Pittsburgh|LEFt|Kocher) [+-]?\d*(?:\.\d+)?,")
CONDITIONAL = re.compile(r"^(?:if|unless|when|otherwise|(?:[\w-]+ )?(?:positive|negative))\b", re.IGNORECASE)
TEST_WORDS = {
    "venous-duplex-us": ("ultrasound", "scan", "duplex"), "popliteal-us": ("ultrasound", "scan"),
    "knee-xray": ("radiograph", "x-ray"), "mri-knee": ("mri",), "d-dimer": ("d-dimer",),
    "pregnancy-test": ("pregnancy test",), "cbc": ("fbc", "blood count"), "crp": ("crp",), "esr": ("esr",),
    "blood-culture": ("blood culture",), "arthrocentesis": ("aspirat",), "uric-acid": ("urate", "uric"),
    "rheumatoid-factor": ("rheumatoid factor", "rf"), "anti-ccp": ("anti-ccp",), "abi": ("abi", "ankle-brachial"),
    "arterial-duplex": ("duplex",), "ctpa": ("ctpa", "ct pulmonary"),
}
# "DVT excluded" said as a fact, not as a condition ("once DVT is excluded", "until …", "not yet excluded")
DVT_EXCLUDED = re.compile(r"(?<!once )(?<!until )(?<!not yet )\bDVT (?:is )?excluded\b(?! in this response)", re.I)


# -- reading a card ------------------------------------------------------------------------------
def ext(card: dict[str, Any]) -> dict[str, Any]:
    return card["extension"][EXT]


def suggested(card: dict[str, Any]) -> list[str]:
    out = []
    for s in card.get("suggestions", []):
        for a in s.get("actions", []):
            if a.get("type") == "create":
                out += [c["code"] for c in a["resource"]["code"]["coding"] if c["system"] == ORDERABLE]
    return out


def sections(detail: str) -> dict[str, list[str]]:
    """'**Title**' headings -> their '- ' lines (the headline paragraph is under '')."""
    out: dict[str, list[str]] = {"": []}
    current = ""
    for raw in detail.splitlines():
        line = raw.strip()
        m = re.match(r"^\*\*([^*]+)\*\*(?::.*)?$", line)
        if m and not line.startswith("**" + m.group(1) + ".**"):
            current = m.group(1).strip()
            out.setdefault(current, [])
            continue
        if line.startswith("- "):
            out.setdefault(current, []).append(line[2:])
        elif line and current == "":
            out[""].append(line)
    return out


def main_view(detail: str) -> str:
    return detail.split(MORE_DETAIL, 1)[0]


def screen_lines(detail: str) -> int:
    return sum(1 for line in main_view(detail).splitlines() if line.strip())


# -- the standard --------------------------------------------------------------------------------
def check_summary(summary: str) -> list[str]:
    problems = []
    if len(summary) > SUMMARY_MAX:
        problems.append(f"summary longer than {SUMMARY_MAX}: {len(summary)}")
    if BROKEN_CAPITAL.search(summary):
        problems.append(f"summary breaks a capital: {summary!r}")
    if RAW_UCUM.search(summary):
        problems.append(f"raw UCUM in summary: {summary!r}")
    clauses = [" ".join(c.lower().split()) for c in re.split(r"[;:—]|, ", summary)]
    clauses = [c.strip(" .…") for c in clauses if len(c.split()) >= 2]
    if len(clauses) != len(set(clauses)):
        problems.append(f"summary repeats a phrase: {summary!r}")
    if summary.endswith("…"):
        body = summary[:-1]
        if not body or body[-1] in " ,;:(—" or body.count("(") > body.count(")"):
            problems.append(f"summary clipped badly: {summary!r}")
    elif summary.rstrip()[-1:].isalpha() is False and summary.rstrip()[-1:] not in ")%0123456789":
        problems.append(f"summary ends oddly: {summary!r}")
    if not any(w in summary[:80].lower() for w in ACTION_WORDS):
        problems.append(f"summary does not lead with an action: {summary!r}")
    return problems


def _plain(lines: list[str]) -> list[str]:
    return [line for line in lines if not CONDITIONAL.match(line)]


def _names(line: str, orderable: str) -> bool:
    return any(re.search(rf"\b{re.escape(w)}", line.lower()) for w in TEST_WORDS.get(orderable, (orderable,)))


def check_recommendation(card: dict[str, Any], secs: dict[str, list[str]]) -> list[str]:
    rec = secs.get("Recommendation", [])
    tests = suggested(card)
    if not rec:
        return ["suggests tests but has no Recommendation"] if tests else []
    problems = []
    if CONDITIONAL.match(rec[0]):
        problems.append(f"Recommendation starts with a fallback: {rec[0][:80]!r}")
    if tests and not any(_names(line, o) for line in _plain(rec) for o in tests):
        problems.append(f"Recommendation never states the main action ({', '.join(tests)})")
    if len(rec) != len(set(rec)):
        problems.append("Recommendation repeats a line")
    return problems


def check_evidence(secs: dict[str, list[str]]) -> list[str]:
    problems = []
    seen: dict[frozenset, str] = {}
    for line in secs.get("Evidence", []):
        refs = frozenset(REF.findall(line))
        if not refs:
            continue
        if refs in seen and not (SCORE_ITEM.match(line) and SCORE_ITEM.match(seen[refs])):   # two scores may read one finding
            problems.append(f"evidence listed twice: {seen[refs][:60]!r} / {line[:60]!r}")
        seen[refs] = line
        if re.match(r"^(?:DVT suspected, )?S\d:", line):
            others = set().union(*(REF.findall(o) for o in secs["Evidence"] if o != line))
            if refs <= others:
                problems.append(f"suspicion line restates cited evidence: {line[:60]!r}")
    return problems


def check_flags(card: dict[str, Any], secs: dict[str, list[str]]) -> list[str]:
    quality = secs.get("Data quality", [])
    problems = []
    if "Unknown / not documented" not in secs and any("listed above" in line for line in quality):
        problems.append("Data quality points at items 'listed above' that the card does not list")
    for flag in ext(card).get("flags", []):
        if flag == "not-documented" and "Unknown / not documented" in secs:
            continue
        if not any(line.startswith(f"{flag}:") and len(line) > len(flag) + 5 for line in quality):
            problems.append(f"flag {flag} not explained in words on the card")
    return problems


def check_contradictions(card: dict[str, Any], secs: dict[str, list[str]]) -> list[str]:
    detail, e = card["detail"], ext(card)
    tests = suggested(card)
    problems = []
    # a branch ("Scan negative: …; Wells unlikely: DVT excluded") is not a statement that DVT is excluded
    stated = [line for lines in secs.values() for line in lines if not CONDITIONAL.match(line)]
    says_excluded = any(DVT_EXCLUDED.search(line) for line in stated + [card["summary"]])
    if says_excluded and ({"venous-duplex-us", "d-dimer"} & set(tests) or re.search(r"repeat (?:proximal )?scan", detail, re.I)):
        problems.append("says DVT excluded beside a scan or D-dimer still due")
    evidence = "\n".join(secs.get("Evidence", []) + secs.get("Score items that added no points", []))
    if re.search(r"no attestation", detail, re.I) and re.search(r"alternative diagnosis[^\n]*: (?:Observation|Condition)/", evidence):
        problems.append("says 'no attestation' beside the attestation it cites")
    if "Scan negative: D-dimer" in detail and {"DVT-ANTICOAGULATED", "DVT-IMAGING-FIRST"} & set(e["rules"]):
        problems.append("'Scan negative: D-dimer' where a repeat scan replaces the D-dimer step")
    if re.search(r"no D-dimer on record", detail, re.I) and re.search(r"^D-dimer [^\n]*Observation/", evidence, re.M):
        problems.append("says no D-dimer beside a D-dimer it cites")
    if re.search(r"draw the D-dimer first", detail, re.I) and re.search(r"^D-dimer [^\n]*Observation/", evidence, re.M):
        problems.append("says draw the D-dimer first beside a D-dimer on record")
    not_rec = "\n".join(secs.get("Not recommended", []))
    for o in tests:
        title = {"d-dimer": "D-dimer", "venous-duplex-us": "Leg-vein ultrasound", "ctpa": "CTPA",
                 "knee-xray": "Knee radiograph", "mri-knee": "Knee MRI"}.get(o)
        if title and re.search(rf"(?:^|, ){re.escape(title)}[,:]", not_rec, re.I | re.M):
            problems.append(f"{o} both suggested and not recommended")
    scores = e.get("scores", {})
    wells = scores.get("wellsDvt")
    m = re.search(r"Wells (-?\d+)(?:[–-](-?\d+))?\)", card["summary"])
    if wells and m and "Wells PE" not in card["summary"]:
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if (lo, hi) != (wells["min"], wells["max"]):
            problems.append(f"summary Wells {lo}–{hi} differs from scores {wells['min']}–{wells['max']}")
    klass = re.match(r"DVT (likely|unlikely)\b", card["summary"])
    if wells and klass and wells.get("class") not in (klass.group(1), None):
        problems.append(f"summary says DVT {klass.group(1)}, score class is {wells.get('class')}")
    if re.search(r"\bPERC (?:negative|positive|\d)", detail) and "perc" not in scores:
        problems.append("PERC computed in text but missing from scores")
    return problems


def check_card(card: dict[str, Any]) -> list[str]:
    secs = sections(card["detail"])
    problems = check_summary(card["summary"])
    if RAW_UCUM.search(card["detail"]):
        problems.append(f"raw UCUM in detail: {RAW_UCUM.search(card['detail']).group(0)!r}")
    problems += check_recommendation(card, secs)
    problems += check_evidence(secs)
    problems += check_flags(card, secs)
    problems += check_contradictions(card, secs)
    if card["source"]["topic"]["code"] == "dvt-pathway":
        # the common case fits the screen; a modifier (anticoagulated, imaging first, cyst, pregnancy)
        # adds its own required sentences (clinical-rules §1.10, §6.3) and may take a little more
        rules = ext(card)["rules"]
        modified = set(rules) & DVT_MODIFIERS or any(r.startswith("PREG-") for r in rules)
        limit = DVT_SCREEN_LINES_MODIFIED if modified else DVT_SCREEN_LINES
        if screen_lines(card["detail"]) > limit:
            problems.append(f"DVT card has {screen_lines(card['detail'])} lines before More detail (max {limit})")
    return problems


def check_response(response: dict[str, Any]) -> list[str]:
    cards = response.get("cards", [])
    problems = []
    for i, card in enumerate(cards):
        topic = card["source"]["topic"]["code"]
        problems += [f"card {i} ({topic}): {p}" for p in check_card(card)]
    all_text = "\n".join(c["summary"] + "\n" + c["detail"] for c in cards)
    rupture = any("DVT-BAKER-MIMIC" in ext(c)["rules"] for c in cards) or re.search(r"ruptur", all_text, re.I)
    if rupture and re.search(r"known Baker's cyst, unchanged", all_text, re.I):
        problems.append("'known Baker's cyst, unchanged' beside a suspected rupture")
    return problems
