"""Structured logs: one JSON object per line, for log collectors.

Every line carries ``time``, ``level``, ``service`` (the program), ``logger`` and ``event``. Events
logged with :func:`event` add their identifier fields (``serviceId``, ``hookInstance``, ``status``,
``durationMs``, ``tier``, ``ruleIds``, ...); other lines carry their ``message``. JSON escaping
turns every control character of a message into ``\\uXXXX``, so a client-supplied string can never
start a line of its own. Exceptions are logged as their type and frames only: an exception's
message may quote chart text or a token.

What callers must pass: identifiers and decisions, never clinical free text, tokens or patient ids
(the same rule as the audit store, contract §11).
"""
from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import datetime, timezone
from typing import Any

PROGRAM = "knee-cds"
EVENT_FIELDS = "event_fields"
# one field never grows a line beyond this (a client can send a 5 MB hookInstance)
MAX_FIELD_CHARS = 256
ACCESS_LOGGER = "gunicorn.access"
# line breaks included: in text form too, one record is one line
_CONTROL = re.compile("[\x00-\x1f\x7f\u2028\u2029]")


def event(logger: logging.Logger, level: int, name: str, **fields: Any) -> None:
    """Log one structured event, e.g. ``event(log, INFO, "hook.call", serviceId=..., status=200)``.

    The text form (``KNEE_CDS_LOG_FORMAT=text``) shows ``name key=value ...``.
    """
    if not logger.isEnabledFor(level):
        return
    clean = {k: v for k, v in fields.items() if v is not None}
    logger.log(level, "%s", EventText(name, clean), extra={"event": name, EVENT_FIELDS: clean})


class EventText:
    """The message of an event: ``name key=value ...``, made only when a formatter asks for it (the
    JSON formatter writes the fields instead). Escaped, so that a client string with a line break
    cannot forge a line whatever handler the process has."""

    __slots__ = ("name", "fields")

    def __init__(self, name: str, fields: dict[str, Any]):
        self.name = name
        self.fields = fields

    def __str__(self) -> str:
        return _escape(" ".join([self.name] + [f"{k}={_bounded(v)}" for k, v in self.fields.items()]))


def _escape(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _bounded(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_FIELD_CHARS else value[:MAX_FIELD_CHARS] + "..."
    if isinstance(value, (list, tuple)):
        return [_bounded(v) for v in list(value)[:64]]
    return value


class JsonFormatter(logging.Formatter):
    """``logging.Formatter`` writing one JSON object per record (usable from dictConfig)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": PROGRAM,
            "logger": record.name,
            "event": getattr(record, "event", None) or "log",
        }
        fields = getattr(record, EVENT_FIELDS, None)
        if isinstance(fields, dict):
            out.update({k: _bounded(v) for k, v in fields.items()})
        elif record.name == ACCESS_LOGGER and isinstance(record.args, dict):
            out.update(_access_fields(record.args))
        else:
            out["message"] = _bounded_message(record)
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = {"type": record.exc_info[0].__name__,
                            "frames": traceback.format_tb(record.exc_info[2])[-10:]}
        return _LINE(out)


# ensure_ascii: every control character and non-ASCII character is escaped. Built once: json.dumps
# with these options would build an encoder for every line.
_LINE = json.JSONEncoder(ensure_ascii=True, default=str, separators=(",", ":")).encode


def _bounded_message(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad format string must not lose the line
        message = str(record.msg)
    return message if len(message) <= 4096 else message[:4096] + "..."


def _access_fields(atoms: dict[str, Any]) -> dict[str, Any]:
    """gunicorn's access log: its atoms, without the query string, the referer or the user agent."""
    def atom(key: str) -> Any:
        value = atoms.get(key, "-")
        # gunicorn's SafeAtoms escapes quotes for its own text format; JSON escapes them itself
        return value.replace('\\"', '"') if isinstance(value, str) else value

    status = atom("s")
    duration_us = atom("D")
    return {
        "event": "http.access",
        "method": _bounded(atom("m")),
        "path": _bounded(atom("U")),
        "status": int(status) if str(status).isdigit() else status,
        "durationMs": round(int(duration_us) / 1000.0, 3) if str(duration_us).isdigit() else None,
        "bytes": _bounded(atom("B")),
        "remote": _bounded(atom("h")),
    }


class TextFormatter(logging.Formatter):
    """Human-readable lines; control characters escaped here too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return _escape(super().format(record))


def formatter_for(fmt: str) -> logging.Formatter:
    return TextFormatter() if str(fmt) == "text" else JsonFormatter()


def configure(fmt: str = "json", level: str = "info") -> None:
    """Send every logger's records to stderr in ``fmt`` (``json`` or ``text``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def gunicorn_logconfig(fmt: str = "json", level: str = "info") -> dict[str, Any]:
    """A ``logconfig_dict`` for gunicorn: its own loggers and the app's through one formatter."""
    formatter = ({"()": "cds_hooks.jsonlog.TextFormatter"} if str(fmt) == "text"
                 else {"()": "cds_hooks.jsonlog.JsonFormatter"})
    handler = {"class": "logging.StreamHandler", "formatter": "knee_cds", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"knee_cds": formatter},
        "handlers": {"knee_cds": handler},
        "root": {"level": level.upper(), "handlers": ["knee_cds"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["knee_cds"], "propagate": False},
            ACCESS_LOGGER: {"level": "INFO", "handlers": ["knee_cds"], "propagate": False},
        },
    }
