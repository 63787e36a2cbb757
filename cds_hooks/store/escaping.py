"""Client strings on their way to a log line or a database column.

- Logs: every control character (C0, DEL, C1, and the Unicode line/paragraph separators) is
  escaped, so a client cannot start a forged log line; long values are cut.
- Audit columns: U+0000 cannot be stored in PostgreSQL text, and a NUL must not cost an audit row,
  so it is kept escaped as the six characters ``\\u0000`` (the same on SQLite, so both stores hold
  the same row). Feedback refuses NUL instead (400 naming the field): a clinician's words are stored
  as sent or not at all.
"""
from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
NUL = "\x00"
NUL_ESCAPED = "\\u0000"


def log_safe(value: object, limit: int = 200) -> str:
    """repr-like, single-line, bounded text of a client value for a log message."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def storable(value: str | None, max_length: int | None = None) -> str | None:
    """An audit string as a column can hold it: NUL escaped, cut to the column's length."""
    if value is None:
        return None
    if NUL in value:
        value = value.replace(NUL, NUL_ESCAPED)
    if max_length is not None and len(value) > max_length:
        value = value[:max_length]
    return value
