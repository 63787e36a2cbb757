"""The data files of ``mappings/`` (code sets, site maps, bundled examples), read one way.

They are found through the package, never through a path into the source tree: the wheel installs the
repository's ``mappings/`` folder as the package ``service.mappings`` (pyproject.toml).
"""
from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

MAPPINGS_DIR: Traversable = resources.files("service.mappings")


class MappingFileError(ValueError):
    """A data file that is missing or not JSON."""

    def __init__(self, file: str, problem: str):
        self.file, self.problem = file, problem
        super().__init__(f"{file}: {problem}")


def read_json_file(item: Traversable | Path) -> Any:
    """The JSON document in ``item``; :class:`MappingFileError` when it is missing or unreadable."""
    try:
        with item.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise MappingFileError(item.name, "not found") from None
    except (OSError, ValueError) as exc:
        raise MappingFileError(item.name, f"not readable JSON ({exc})") from None
