"""One Observation, or one of its components, read like an Observation (terminology §1.3): the part
that holds code and value[x], with the time, status and flags of its resource."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from service.chart.facts import Source, Value

OBSERVATION_CODE = "Observation.code"
COMPONENT_CODE = "Observation.component.code"


class ObservationPart:
    __slots__ = ("res", "part", "element", "ref", "time", "issued", "status", "flags")

    def __init__(self, res: dict, part: dict, element: str, ref: str, time: datetime | None,
                 issued: datetime | None, status: str, flags: frozenset[str]):
        self.res = res                # the resource (parent for a component)
        self.part = part              # the resource itself, or the component
        self.element = element        # OBSERVATION_CODE | COMPONENT_CODE
        self.ref = ref
        self.time = time
        self.issued = issued
        self.status = status
        self.flags = flags

    def component(self, comp: dict) -> "ObservationPart":
        """A component of this Observation, with the Observation's time, status and flags."""
        return ObservationPart(self.res, comp, COMPONENT_CODE, self.ref, self.time, self.issued, self.status,
                               self.flags)

    def source(self, display: str, via: str = "") -> Source:
        return Source(self.ref, self.time, self.status, display, via)

    def value(self, value: Any, display: str, via: str = "", extra: Iterable[str] = ()) -> Value:
        return Value(value, Source(self.ref, self.time, self.status, display, via), self.time, self.issued,
                     self.flags.union(extra) if extra else self.flags)
