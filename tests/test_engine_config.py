"""The knee domain at start: site maps stop the service on error and are recorded when loaded."""
import subprocess
import sys

import pytest

from service.config import ConfigError, load_settings
from service.engine import KneeDomain


def test_bad_site_map_stops_the_domain_with_the_file_named():
    with pytest.raises(ConfigError, match="nope.json"):
        KneeDomain(load_settings({"KNEE_CDS_AUTH": "off", "KNEE_CDS_SITE_MAPS": "nope.json"}, bind_host="127.0.0.1"))


def test_loaded_site_map_versions_are_reported_for_the_audit():
    domain = KneeDomain(load_settings({"KNEE_CDS_AUTH": "off", "KNEE_CDS_SITE_MAPS": "st-example-hospital.json"},
                                      bind_host="127.0.0.1"))
    assert domain.terminology_versions() == ["st-example-hospital 2026-03-01.1"]


def test_serve_refuses_to_start_with_a_bad_site_map(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
                          env={"KNEE_CDS_SITE_MAPS": "nope.json", "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "nope.json" in proc.stderr and "Traceback" not in proc.stderr
