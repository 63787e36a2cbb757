"""Card detail Markdown to HTML that chart text can never turn into markup.

CDS Hooks 2.0 (Card.detail): "Optional detailed information to display; if provided MUST be
represented in (GitHub Flavored) Markdown." Chart text (a display, a note) reaches the detail, so the
renderer runs with raw HTML off: markdown-it escapes every ``<``, ``&`` and quote it does not
produce itself, and its link validator refuses ``javascript:``, ``vbscript:``, ``file:`` and
``data:`` URLs. Escape first, then render — never the other way round.
"""
from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(text: object) -> Markup:
    if not isinstance(text, str) or not text:
        return Markup("")
    return Markup(_RENDERER.render(text))
