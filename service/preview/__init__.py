"""The card preview page (``GET /preview``): the service's cards as an EHR shows them, offline.

Integrators and clinical safety officers pick a bundled example patient, or paste / upload a FHIR
Bundle or a whole CDS Hooks request, choose the hook (and for the order hooks the draft orders), and
see the cards: indicator colour, summary, the detail Markdown rendered safely, suggestions with the
orders they would create or delete, links, override reasons, scores, rule ids and the raw JSON. The
"what if" form changes knee-assessment answers and runs the request again.

Every run is local (:mod:`service.local_run`): the page never reads a FHIR server, writes no audit
row and needs no client JWT. Served HTML only, one small script, no CDN: it works offline.
"""
from __future__ import annotations

from flask import Blueprint, Flask, Response

from service.preview.views import register_views

bp = Blueprint("preview", __name__, template_folder="templates", static_folder="static",
               static_url_path="/preview/static")
register_views(bp)

# no script or style from anywhere but the service itself; the page cannot be framed
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def init_preview(app: Flask) -> None:
    app.register_blueprint(bp)
