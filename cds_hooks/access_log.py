"""gunicorn's logger with an access log that builds only the atoms knee-cds writes.

gunicorn's own ``atoms()`` copies every request header, response header and WSGI environ entry into
the record, formats the time and decodes any Basic credentials for each request, whatever the
format uses; with a few atoms in the format that was most of the cost of the access log line. The
line itself is unchanged: the same atoms, the same values (``logger_class`` in
deploy/gunicorn.conf.py).
"""
from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

# what cds_hooks.jsonlog writes of an access record (method, path, status, duration, bytes, remote)
# and the atoms of deploy/gunicorn.conf.py's text format
LEAN_ATOMS = frozenset({"h", "m", "U", "s", "b", "B", "D", "M"})
_ATOM = re.compile(r"%\(([^)]*)\)")


def format_atoms(access_log_format: str) -> set[str]:
    return set(_ATOM.findall(access_log_format))


class AccessLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        # another format (set on the command line) gets gunicorn's full set of atoms
        self.lean = format_atoms(cfg.access_log_format) <= LEAN_ATOMS

    def atoms(self, resp, req, environ, request_time) -> dict[str, Any]:
        if not self.lean:
            return super().atoms(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status,
            "b": sent is not None and str(sent) or "-",
            "B": sent,
            "D": request_time.seconds * 1_000_000 + request_time.microseconds,
            "M": request_time.seconds * 1000 + int(request_time.microseconds / 1000),
        }
