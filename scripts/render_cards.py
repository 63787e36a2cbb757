"""Render every public vignette's cards into one Markdown file for clinical review.

Usage: python scripts/render_cards.py [--out docs/cards/vignette-cards.md] [--vignettes DIR] [--stats]

Each vignette (found at run time in ../shared/vignettes, or $KNEE_CDS_VIGNETTES) runs in process through
the same engine the HTTP service uses, at a fixed clock (2026-03-02 10:00 UTC, the contract's example
time) so that the file changes only when a card changes. One section per vignette: its hook, title,
expected tier and topics, then every card as a clinician sees it (summary, indicator, detail,
suggestions) with the machine fields (tier, rules, scores, flags) underneath.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The installed service wins (scripts/test.sh runs against the wheel); the checkout is only a fallback,
# appended, for a plain checkout.
if importlib.util.find_spec("service") is None:
    sys.path.append(str(REPO))

from cds_hooks.prefetch import FetchSettings, gather_chart  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.engine import KneeDomain  # noqa: E402
from service.tools import vignettes as vg  # noqa: E402

RENDER_NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)
DEFAULT_OUT = REPO / "docs" / "cards" / "vignette-cards.md"
EXTENSION_KEY = "example.knee-cds"
# detail lines a clinician sees before the "More detail" heading (docs/card-style-guide.md)
MORE_DETAIL_HEADING = "**More detail**"


@dataclass
class VignetteCards:
    vignette: dict[str, Any]
    cards: list[dict[str, Any]]
    problems: list[str]


def run_vignettes(vignette_dir: Path | None = None, now: datetime = RENDER_NOW) -> list[VignetteCards]:
    """Every vignette through KneeDomain.evaluate, in process, each with its own configuration."""
    paths = vg.vignette_paths(vignette_dir or vg.public_vignette_dir(REPO))
    domains: dict[tuple, KneeDomain] = {}
    out: list[VignetteCards] = []
    for path in paths:
        vignette = vg.load_vignette(path)
        env = {"KNEE_CDS_AUTH": "off", **(vignette.get("config") or {})}
        key = tuple(sorted(env.items()))
        if key not in domains:
            domains[key] = KneeDomain(load_settings(env, bind_host="127.0.0.1"))
        loaded = vg.prepare(vignette, now)
        service = vg.service_for(loaded.hook)
        request = vg.hook_request(vg.build_request(loaded), service)
        request.received_at = now
        result = domains[key].evaluate(request, gather_chart(request, FetchSettings()))
        response = {"cards": result.cards}
        problems = vg.check_expect(vignette["expect"], response) + vg.validate_cards(response)
        out.append(VignetteCards(vignette, result.cards, problems))
    return out


def detail_lines(detail: str) -> list[str]:
    """Non-blank lines of a card's detail Markdown (what a clinician scrolls through)."""
    return [line for line in detail.splitlines() if line.strip()]


def lines_before_more_detail(detail: str) -> int:
    """Non-blank detail lines above the "More detail" heading (all lines when there is none)."""
    lines = detail_lines(detail)
    for i, line in enumerate(lines):
        if line.strip() == MORE_DETAIL_HEADING:
            return i
    return len(lines)


def _expected(expect: dict[str, Any]) -> str:
    tier = expect.get("tier", "not checked") if "tier" in expect else "not checked"
    topics = ", ".join(f"`{t}`" for t in expect.get("topics", [])) or "none"
    return f"expected tier **{tier or 'no cards'}**, topics {topics}"


def _suggestion_lines(card: dict[str, Any]) -> list[str]:
    lines = []
    for s in card.get("suggestions", []):
        lines.append(f"- **{s['label']}**")
        for action in s.get("actions", []):
            if action["type"] == "create":
                r = action["resource"]
                period = r.get("occurrencePeriod")
                when = f", within {period['start']} – {period['end']}" if period else ""
                lines.append(f"  - create {r['code']['text']} ({r['priority']}{when})")
                lines.append(f"    - reason: {r['reasonCode'][0]['text']}")
                for note in r.get("note", []):
                    lines.append(f"    - note: {note['text']}")
            else:
                lines.append(f"  - {action['type']} {action.get('resourceId')}: {action.get('description', '')}")
    return lines


def render_card(card: dict[str, Any], n: int) -> str:
    ext = card["extension"][EXTENSION_KEY]
    topic = card["source"]["topic"]["code"]
    out = [f"### Card {n}: `{topic}` ({card['indicator']}, {ext['tier']})", "",
           f"> **{card['summary']}**", "",
           card["detail"], ""]
    suggestions = _suggestion_lines(card)
    if suggestions:
        out += ["**Suggested orders**", "", *suggestions, ""]
    machine = [f"rules `{', '.join(ext['rules'])}`"]
    if ext.get("scores"):
        machine.append(f"scores `{json.dumps(ext['scores'], sort_keys=True)}`")
    if ext.get("flags"):
        machine.append(f"flags `{', '.join(ext['flags'])}`")
    machine.append(f"knowledge {ext['knowledgeVersion']}")
    machine.append(f"{lines_before_more_detail(card['detail'])} detail lines before \"More detail\", "
                   f"{len(detail_lines(card['detail']))} in all")
    out += ["<sub>" + " · ".join(machine) + "</sub>", ""]
    return "\n".join(out)


def render_markdown(results: list[VignetteCards]) -> str:
    out = [
        "# knee-cds cards for every public vignette",
        "",
        "Generated by `scripts/render_cards.py` (do not edit by hand): every vignette of",
        "`../shared/vignettes` run in process at 2026-03-02 10:00 UTC. The wording standard these cards",
        "follow is `docs/card-style-guide.md`.",
        "",
    ]
    for r in results:
        v = r.vignette
        out += [f"## {v['id']}: {v.get('title', '')}", "",
                f"Hook `{v['hook']}`; {_expected(v.get('expect', {}))}.", ""]
        if r.problems:
            out += ["**Does not meet its expectation:**", *[f"- {p}" for p in r.problems], ""]
        if not r.cards:
            out += ["No cards.", ""]
        for i, card in enumerate(r.cards, 1):
            out.append(render_card(card, i))
    return "\n".join(out).rstrip() + "\n"


def line_stats(results: list[VignetteCards]) -> list[tuple[str, str, int, int]]:
    """(vignette, topic, lines before More detail, all detail lines) for every card."""
    return [(r.vignette["id"], c["source"]["topic"]["code"], lines_before_more_detail(c["detail"]),
             len(detail_lines(c["detail"]))) for r in results for c in r.cards]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--vignettes", type=Path, default=None)
    ap.add_argument("--stats", action="store_true", help="print detail lines per card")
    args = ap.parse_args(argv)
    results = run_vignettes(args.vignettes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(results), encoding="utf-8")
    if args.stats:
        for vid, topic, first, total in line_stats(results):
            print(f"{vid:6} {topic:28} {first:3} {total:3}")
    failing = [r.vignette["id"] for r in results if r.problems]
    print(f"wrote {args.out} ({len(results)} vignettes, {sum(len(r.cards) for r in results)} cards"
          + (f"; not meeting expect: {', '.join(failing)})" if failing else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
