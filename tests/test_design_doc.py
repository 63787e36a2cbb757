"""docs/DESIGN.md draws the layout of service/: every module there is named in the drawing."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DESIGN = REPO / "docs" / "DESIGN.md"
SERVICE = REPO / "service"


@pytest.mark.skipif(not SERVICE.is_dir() or not DESIGN.is_file(), reason="needs the source tree")
def test_every_service_module_is_in_the_design_drawing():
    drawing = DESIGN.read_text(encoding="utf-8")
    drawing = drawing[drawing.index("service/ "):drawing.index("mappings/ ")]
    modules = sorted(p.relative_to(SERVICE) for p in SERVICE.rglob("*.py")
                     if p.name != "__init__.py" and "mappings" not in p.parts and "__pycache__" not in p.parts)
    missing = [str(m) for m in modules if m.name not in drawing]
    assert not missing, f"modules of service/ that docs/DESIGN.md does not name: {missing}"
    packages = sorted({m.parts[0] for m in modules if len(m.parts) > 1})
    assert all(f"{package}/" in drawing for package in packages)
