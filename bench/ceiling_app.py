"""The ceiling of bench/http_load.py: an empty CDS endpoint that does only what every call must do.

It parses the same JSON body and answers ``{"cards": []}``; run under the same gunicorn
configuration as knee-cds, its throughput is the most any Flask service could serve there.

    gunicorn -c deploy/gunicorn.conf.py --pythonpath bench 'ceiling_app:create_app()'
"""
from __future__ import annotations

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/cds-services")
    def discovery():
        return jsonify({"services": []})

    @app.post("/cds-services/<service_id>")
    def invoke(service_id: str):
        body = request.get_json(force=True)
        if not isinstance(body, dict):
            return jsonify({"error": "Body must be a JSON object."}), 400
        return jsonify({"cards": []})

    return app
