"""A clone request's plan (``POST /clone-volumes?dry_run=true``): what a real request with the
same body would make, and how, found without making anything.

The request is validated by the same code as a real one (:meth:`CloneService.plan
<volclone.service.clones.CloneService.plan>`); this module only describes the validated
clones. Per clone, in request order::

    {"source_id": "...", "name": "clone-demo-1", "size": 10,
     "volume_type": {"id": "...", "name": "gold"}, "backend": "local",
     "method": "full", "bytes_to_copy": 1073741824,
     "estimate": {"copy_seconds": 3.4, "bytes_per_second": 314572800, "rate_from": "default"},
     "consistency_method": "qmp-transaction"}

``method`` is one of :class:`~volclone.backends.base.CloneMethod`; ``bytes_to_copy`` is 0 for
the methods that share data (linked, reflink, rbd-cow) and the data the source holds now for
the copies (the backend measures it: ``ClonePlannable.allocated_bytes``). The estimate is of
the copying only (the flow's own steps add a fraction of a second) and is no better than its
rate: a documented default per method (:data:`DEFAULT_RATES`, from the figures measured on the
development VM), never a promise. It is rounded to two significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from volclone.backends.base import CloneMethod
from volclone.domain import Volume, VolumeType
from volclone.flows.model import CloneSpec

MIB = 1024**2
#: Copy rates (bytes per second) a plan assumes, per method that copies. From docs/measurements.md
#: and docs/measurements-issue3.md (local full clones, POST to SUCCESS: 298-426 MiB/s) and
#: docs/ceph-dev.md (10 deep copies of 64 MiB in ~2.7 s, ~230 MiB/s; RBD to the local pool
#: ~175 MiB/s), each rounded down: one disk, one OSD, 2 cores. Other machines differ.
DEFAULT_RATES: Mapping[CloneMethod, int] = {
    CloneMethod.FULL: 300 * MIB,
    CloneMethod.RBD_DEEP_COPY: 200 * MIB,
    CloneMethod.CROSS_BACKEND_COPY: 150 * MIB,
}
#: The name of a clone whose name is made of its own id (the real request picks the id).
ID_NAME_PATTERN = "volume-{clone_id}"


@dataclass(frozen=True)
class PlannedClone:
    """One clone of the plan, in the request's order."""

    source_id: str
    #: The clone's name; None when it is made of the clone's id (see :attr:`name_pattern`).
    name: str | None
    size: int
    volume_type: VolumeType
    backend: str
    method: CloneMethod
    bytes_to_copy: int
    copy_seconds: float
    bytes_per_second: int | None
    consistency_method: str

    @property
    def name_pattern(self) -> str | None:
        return ID_NAME_PATTERN if self.name is None else None


@dataclass(frozen=True)
class ClonePlan:
    clones: list[PlannedClone]
    #: The sources' backend and how it takes their one point in time.
    backend: str
    consistency_method: str

    @property
    def totals(self) -> dict[str, Any]:
        """The set: how many clones, their GiB, the bytes copied, and the copying's time (the
        clones of one method are copied side by side at that method's rate, methods in turn)."""
        by_method: dict[CloneMethod, int] = {}
        for c in self.clones:
            by_method[c.method] = by_method.get(c.method, 0) + c.bytes_to_copy
        seconds = sum(copy_seconds(n, DEFAULT_RATES.get(m)) for m, n in by_method.items())
        return {"volumes": len(self.clones), "gigabytes": sum(c.size for c in self.clones),
                "bytes_to_copy": sum(c.bytes_to_copy for c in self.clones),
                "copy_seconds": round_estimate(seconds)}


def round_estimate(seconds: float) -> float:
    """Two significant digits: an estimate, not a measurement."""
    if seconds <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(seconds))
    return float(round(seconds, digits))


def copy_seconds(nbytes: int, rate: int | None) -> float:
    return nbytes / rate if nbytes and rate else 0.0


def plan(clones: Sequence[CloneSpec], sources: Mapping[str, Volume], types: Mapping[str, VolumeType],
         methods: Mapping[str, CloneMethod], allocated: Mapping[str, int], backend: str,
         consistency_method: str) -> ClonePlan:
    """The plan of validated ``clones``: ``methods`` and ``allocated`` (bytes) by source id,
    ``types`` by volume type id."""
    planned = []
    for c in clones:
        method = methods[c.source]
        nbytes = allocated.get(c.source, 0) if method.copies else 0
        rate = DEFAULT_RATES.get(method)
        planned.append(PlannedClone(
            source_id=c.source, name=None if c.name == ID_NAME_PATTERN.format(clone_id=c.id) else c.name,
            size=sources[c.source].size, volume_type=types[c.volume_type_id], backend=c.backend, method=method,
            bytes_to_copy=nbytes, copy_seconds=round_estimate(copy_seconds(nbytes, rate)),
            bytes_per_second=rate if method.copies else None, consistency_method=consistency_method))
    return ClonePlan(planned, backend, consistency_method)
