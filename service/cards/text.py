"""The wording standard every card is held to (docs/card-style-guide.md), as small pure functions.

The pathways decide what a card says; this module decides how it reads: one summary clipper, one
way to order the Recommendation, to group the Evidence, to name units and to explain data-quality
flags. ``service.cards`` applies it to every card, so a card that a pathway composes imperfectly
still reads right (the tests in tests/test_card_text.py and tests/test_card_standard.py hold it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from service.chart.units import humanise_units

SUMMARY_MAX = 139          # contract §4: summary ≤ 139 characters
ELLIPSIS = "…"

# A FHIR relative reference as cited on cards: "Observation/v01-obs-hr"
REFERENCE = re.compile(r"\b(?:Observation|Condition|MedicationRequest|MedicationStatement|Procedure|"
                       r"ServiceRequest|Encounter|Patient|DiagnosticReport|AllergyIntolerance)/[A-Za-z0-9\-.]{1,64}")


# -- summary ------------------------------------------------------------------------------------
def lower_first(text: str) -> str:
    """Lower-case the first letter for use inside a sentence, never an acronym ("DVT", "CRP", "MRI")."""
    first = text.split(" ", 1)[0]
    if not first or not first[0].isupper() or any(map(str.isupper, first[1:])):
        return text
    return text[:1].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


_CLAUSE_SPLIT = re.compile(r"(;\s+)")


def drop_repeated_clauses(text: str) -> str:
    """'DVT excluded; dVT excluded; knee pain …' -> 'DVT excluded; knee pain …' (case-insensitive)."""
    pieces = _CLAUSE_SPLIT.split(text)
    seen: set[str] = set()
    out: list[str] = []
    for i in range(0, len(pieces), 2):
        clause = pieces[i]
        key = " ".join(clause.lower().split()).strip(" .")
        if key and key in seen:
            continue
        seen.add(key)
        if out:
            out.append(pieces[i - 1])
        out.append(clause)
    return "".join(out)


def clip_at_word(text: str, limit: int) -> str:
    """At most ``limit`` characters: cut at the last word boundary that leaves room for "…"."""
    if len(text) <= limit:
        return text
    room = text[: limit - len(ELLIPSIS) + 1]        # +1: a space right after the cut is a boundary
    cut = room.rfind(" ")
    if cut <= 0:                                    # one enormous word: a hard cut is all there is
        return text[: limit - len(ELLIPSIS)] + ELLIPSIS
    head = room[:cut].rstrip(" ,;:—–-(")
    if head.count("(") > head.count(")"):           # do not leave a bracket open
        head = head[: head.rfind("(")].rstrip(" ,;:—–-")
    return head + ELLIPSIS


def clip_summary(text: str, limit: int = SUMMARY_MAX) -> str:
    """The one summary clipper: whitespace folded, repeated clauses dropped, units human-readable,
    first letter capital, clipped at a word boundary with "…" within ``limit`` characters."""
    text = " ".join(text.split())
    text = humanise_units(drop_repeated_clauses(text))
    return clip_at_word(upper_first(text), limit)


# -- recommendation -----------------------------------------------------------------------------
# A line that only says what to do if something else fails or happens; never the main action.
_CONDITIONAL = re.compile(r"^(?:if|unless|when|should|in case|otherwise|(?:[\w-]+ )?(?:positive|negative))\b",
                          re.IGNORECASE)
SUGGESTED_MARK = "(suggested)"

# Words by which a Recommendation line names a catalog test (contract §5 ids).
ORDERABLE_WORDS: dict[str, tuple[str, ...]] = {
    "venous-duplex-us": ("ultrasound", "scan", "duplex"),
    "popliteal-us": ("ultrasound", "scan"),
    "knee-xray": ("radiograph", "x-ray"),
    "mri-knee": ("mri",),
    "d-dimer": ("d-dimer",),
    "pregnancy-test": ("pregnancy test",),
    "cbc": ("fbc", "full blood count", "blood count"),
    "crp": ("crp",),
    "esr": ("esr",),
    "blood-culture": ("blood culture",),
    "arthrocentesis": ("aspirat",),
    "uric-acid": ("urate", "uric acid"),
    "rheumatoid-factor": ("rheumatoid factor", "rf"),
    "anti-ccp": ("anti-ccp",),
    "abi": ("abi", "ankle-brachial"),
    "arterial-duplex": ("arterial duplex", "duplex"),
    "ctpa": ("ctpa", "ct pulmonary"),
}


def is_conditional(line: str) -> bool:
    return bool(_CONDITIONAL.match(line.strip()))


@lru_cache(maxsize=256)
def _test_words(orderable: str) -> re.Pattern[str]:
    """Any of the orderable's words at the start of a word, as one pattern (compiled once per orderable)."""
    words = ORDERABLE_WORDS.get(orderable, (orderable,))
    return re.compile("|".join(rf"\b{re.escape(w)}" for w in words))


def names_test(line: str, orderable: str) -> bool:
    return _test_words(orderable).search(line.lower()) is not None


def states_main_action(lines: list[str], suggested: list[str]) -> bool:
    """The Recommendation leads with a plain instruction and, when the card suggests tests, a plain
    line names one of them (a fallback such as "If the scan cannot be obtained …" does not count)."""
    if not lines or is_conditional(lines[0]):
        return False
    plain = [line for line in lines if not is_conditional(line)]
    return not suggested or any(names_test(line, o) for line in plain for o in suggested)


def order_recommendation(lines: list[str], suggested: list[tuple[str, str]]) -> list[str]:
    """Main action first (docs/card-style-guide.md "Recommendation").

    ``suggested`` are (orderable id, human name) of the tests the card suggests. When no plain line
    names one of them, a line naming them as suggested leads; a conditional line ("If the scan cannot
    be obtained …") never comes first. Duplicates are dropped, the order is otherwise kept.
    """
    lines = [upper_first(line) for line in unique(lines)]
    conditional = list(map(is_conditional, lines))          # each line read once
    plain = [line for line, c in zip(lines, conditional) if not c]
    if suggested and not any(names_test(line, o) for line in plain for o, _ in suggested):
        lead = f"{upper_first(join_names([n for _, n in suggested]))} {SUGGESTED_MARK}."
        lines.insert(0, lead)
        conditional.insert(0, is_conditional(lead))
    if lines and conditional[0]:
        first_plain = next((i for i, c in enumerate(conditional) if not c), None)
        if first_plain is not None:
            lines.insert(0, lines.pop(first_plain))
    return lines


def join_names(names: list[str]) -> str:
    names = unique(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


# -- evidence -----------------------------------------------------------------------------------
_WELLS_ITEM = re.compile(r"^Wells ([+-]?\d+(?:\.\d+)?),")        # "Wells +1, …" (DVT items, not "Wells PE")
# a line for one item of a score, with its points: "Wells PE +1.5, …", "Ottawa +, …", "LEFt +1, …"
_SCORE_ITEM = re.compile(r"^(?:Wells PE|Wells|Ottawa|Pittsburgh|LEFt|Kocher) (?:[+-]\d*(?:\.\d+)?|\d+(?:\.\d+)?),")
_SUSPICION = re.compile(r"^(?:DVT suspected, )?S\d: ")           # §5 S1–S6 trigger lines
_PE_ITEM = re.compile("Wells PE")                                # a line of the PE card's score
_SCORE_TOTAL = re.compile("Wells DVT|Wells PE|LEFt")             # a line that shows a score
_NONE_RECORDED = re.compile(r"^Risk factors that do not score in Wells: none recorded\.?$")


@lru_cache(maxsize=4096)
def references(text: str) -> frozenset[str]:
    """The resources a line cites. Cached: layout and assembly ask again for the same lines."""
    return frozenset(REFERENCE.findall(text))


@dataclass
class EvidenceLayout:
    """Evidence split into what a clinician needs first and what goes under "More detail"."""

    main: list[str] = field(default_factory=list)
    score_detail: list[str] = field(default_factory=list)   # score items that did not change the score


def layout_evidence(lines: list[str]) -> EvidenceLayout:
    """Every finding once, grouped by what it supports.

    - A finding that a score item already cites (with its value) is not listed again beside it.
    - A §5 suspicion line ("S2: deep-vein tenderness: Observation/x") restates a finding that the score
      lines already cite: it is dropped when every resource it cites is cited by another line, or when
      it cites nothing and a score is shown (the work-up it names is itself on the card).
    - Score items that scored 0 go to the full breakdown under "More detail" (on a PE card, every Wells
      DVT item: the DVT score is secondary there); the items that scored, the totals and everything else
      stay in place, each line starting with a capital.
    """
    lines = unique(lines)
    # each line classified once (one regex pass per kind), then the rules below read the flags
    line_refs = list(map(references, lines))
    suspicion = list(map(_SUSPICION.match, lines))
    score_item = list(map(_SCORE_ITEM.match, lines))
    wells_item = list(map(_WELLS_ITEM.match, lines))
    pe_card = any(map(_PE_ITEM.match, lines))
    has_score = any(wells_item) or any(map(_SCORE_TOTAL.match, lines))
    # what the lines other than the suspicion lines cite (a suspicion line is checked against these)
    cited_by_findings = frozenset().union(*(r for r, s in zip(line_refs, suspicion) if s is None))
    score_refs = [r for r, s in zip(line_refs, score_item) if s is not None]
    layout = EvidenceLayout()
    labelled: list[bool] = []          # per main line: does it (still) carry a §5 label "S2: "
    # (a match object where the line matches, None where it does not)
    for line, refs, is_suspicion, is_score, wells in zip(lines, line_refs, suspicion, score_item, wells_item):
        if is_suspicion:
            if (refs and refs <= cited_by_findings) or (not refs and has_score):
                continue
        elif refs and score_refs and not is_score and any(refs <= s for s in score_refs):
            continue            # "Heart rate 112/min. Observation/hr" beside "Wells PE +1.5, heart rate …: Observation/hr"
        # on the PE card the DVT items are the secondary score: its total stays, the items go below
        if (wells is not None and (pe_card or float(wells.group(1)) == 0)) or _NONE_RECORDED.match(line):
            layout.score_detail.append(line)
            continue
        if is_suspicion:
            layout.main.append(line)
            labelled.append(True)
        else:
            text = upper_first(line)
            layout.main.append(text)
            # the capital can make a label of it ("s2: …" -> "S2: …"), as it reads from here on
            labelled.append(text != line and _SUSPICION.match(text) is not None)
    layout.main = _with_side(layout.main, labelled)
    return layout


_SIDE = re.compile(r"^(?:Left|Right) leg \([^)]*\)$")


def _with_side(main: list[str], labelled: list[bool]) -> list[str]:
    """The leg and its signs on one line, as in the contract's V01 card: "Left leg (Observation/side);
    leg swelling: Observation/swelling (…)". The §5 labels (S1…) are the rule's, not the clinician's:
    they are dropped, and a sign that stays on its own line reads as a finding (capital first)."""
    side = next((i for i, line in enumerate(main) if _SIDE.match(line)), None)
    signs = [i for i, line in enumerate(main) if labelled[i] and references(line)] if side is not None else []
    if signs:
        text = "; ".join(lower_first(_SUSPICION.sub("", main[i])) for i in signs)
        main[side] = f"{main[side]}; {text}"
        merged = set(signs)
        main = [line for i, line in enumerate(main) if i not in merged]
        labelled = [label for i, label in enumerate(labelled) if i not in merged]
    # every other line already starts with a capital
    return [upper_first(_SUSPICION.sub("", line)) if label else line for line, label in zip(main, labelled)]


# -- not recommended ----------------------------------------------------------------------------
_NEEDS_IT = re.compile(r"\bneeds it\.$")


def group_not_recommended(items: list[tuple[str, str]]) -> list[str]:
    """[(title, reason)] -> one line per reason: "Knee radiograph, knee MRI: <reason>" (contract §4)."""
    by_reason: dict[str, list[str]] = {}
    for title, reason in items:
        key = reason.strip()
        by_reason.setdefault(key, []).append(title)
    out = []
    for reason, titles in by_reason.items():
        names = unique([titles[0]] + [lower_first(t) for t in titles[1:]])
        if len(names) > 1:
            reason = _NEEDS_IT.sub("needs them.", reason)   # several tests share the reason
        out.append(f"{', '.join(names)}: {reason}")
    return out


# -- data quality -------------------------------------------------------------------------------
# clinical-rules §7.5: the data-quality flags a card may carry, each explained in words a clinician acts on.
FLAG_TEXT: dict[str, str] = {
    "conflict": "two records made at the same time disagree; the higher-risk value is used",
    "superseded": "an earlier value was replaced by a later, different one; the later value is used",
    "stale-condition": "a Condition recorded as active long ago, with nothing recent to confirm it; it is "
                       "not read as a current diagnosis",
    "not-documented": "history items of the score are not documented in the chart and were counted as absent "
                      "(Wells 2003 convention); ask about them",
    "preliminary": "a result used here is preliminary; it may still change",
    "undated": "a record has no usable date; it is used only where it raises risk",
    "partial-date": "a record has only a partial date; it is read as the middle of that period",
    "future-date": "a record is dated later than now; that date is treated as unknown",
    "unit": "a value has a unit that cannot be read; it is not used and is shown as recorded",
    "unit-assumed": "a value had no recognised unit; the unit was assumed from its range",
    "cancer-activity-unconfirmed": "a cancer is on record but its activity or treatment is not confirmed",
    "anticoagulation-uncertain": "whether the patient takes an anticoagulant now is uncertain (stale or "
                                 "unclear records); confirm with the patient",
    "medication-unresolved": "a medication on record could not be identified; confirm what the patient takes",
    "fetch-truncated": "only part of the chart could be read; older records may change this assessment",
    "ddimer-qualitative": "the D-dimer is qualitative; only a quantitative D-dimer can rule out",
    "ddimer-after-anticoagulation": "the D-dimer was taken on an anticoagulant; it may be falsely low and "
                                    "is not used to rule out",
    "ddimer-in-pregnancy": "the D-dimer is not used while pregnancy is not excluded",
    "ddimer-child": "the D-dimer is not validated under 18",
    "ddimer-uninterpretable": "the D-dimer result cannot be interpreted (unit, assay or value); it is not used",
    "injury-date-unknown": "the date of the injury is unknown",
}


CARD_FLAGS = frozenset(FLAG_TEXT)


def explains(flag: str, line: str) -> bool:
    """A Data quality line explains a flag when it is written "<flag>: <words>"."""
    return line.startswith(f"{flag}:") and len(line) > len(flag) + 3


def explain_flags(flags: list[str], quality: list[str], has_unknown_section: bool) -> list[str]:
    """The Data quality lines: the card's own, plus a plain-words line for any flag they leave unexplained.

    ``not-documented`` is already explained by the "Unknown / not documented" section when the card has
    one, so its stock line ("the history items listed above") is dropped there.
    """
    # "the history items listed above" points at the Unknown section: dropped when it is there (the
    # section explains the flag), reworded when it is not (a card that carries another card's lines)
    lines = [line for line in unique(quality) if not line.startswith("not-documented: the history items")]
    for flag in unique(flags):
        if flag == "not-documented" and has_unknown_section:
            continue
        if not any(explains(flag, line) for line in lines):
            lines.append(f"{flag}: {FLAG_TEXT.get(flag, 'see the evidence above')}.")
    return lines


# The catalog's tests as a card names them (contract §5 ids -> words).
ORDERABLE_TITLES: dict[str, str] = {
    "venous-duplex-us": "Leg-vein ultrasound",
    "popliteal-us": "Popliteal ultrasound",
    "knee-xray": "Knee radiograph",
    "mri-knee": "Knee MRI",
    "d-dimer": "D-dimer",
    "pregnancy-test": "Pregnancy test",
    "cbc": "Full blood count",
    "crp": "CRP",
    "esr": "ESR",
    "blood-culture": "Blood cultures",
    "arthrocentesis": "Knee aspiration",
    "uric-acid": "Serum urate",
    "rheumatoid-factor": "Rheumatoid factor",
    "anti-ccp": "Anti-CCP",
    "abi": "Ankle-brachial index",
    "arterial-duplex": "Arterial duplex",
    "ctpa": "CTPA",
}


def sentence(text: str) -> str:
    """'weight-bearing views' -> 'Weight-bearing views.' (a fragment joined to another sentence)."""
    text = text.strip()
    return upper_first(text) + ("" if not text or text[-1] in ".!?" else ".")


# -- generic ------------------------------------------------------------------------------------
def unique(items: list[str]) -> list[str]:
    """Each item once, at its first place (a dict keeps insertion order)."""
    return list(dict.fromkeys(items))
