"""Which backend a volume type sends its volumes to: ``volume_backend_name``, or the same key in
Cinder's ``capabilities:`` scope (Tempest's VolumeMultiBackendTest makes types both ways)."""

from __future__ import annotations

from typing import Any

import pytest

from volclone.backends.memory import MemoryDriver
from volclone.domain import VolumeType
from volclone.errors import BadRequest

from .conftest import Fast


@pytest.mark.parametrize(("specs", "backend"), [
    ({"volume_backend_name": "mem2"}, "mem2"),
    ({"capabilities:volume_backend_name": "mem2"}, "mem2"),
    ({"capabilities:volume_backend_name": " mem2 "}, "mem2"),
    ({"volume_backend_name": "local", "capabilities:volume_backend_name": "mem2"}, "local"),
    ({"capabilities:volume_backend_name": "<in> mem2"}, None),  # an operator: the capability check's
    ({"capabilities:storage_protocol": "memory"}, None),
    ({}, None),
])
def test_backend_name_reads_either_spelling(specs: dict[str, str], backend: str | None) -> None:
    assert VolumeType("t", "t", extra_specs=specs).backend_name == backend


@pytest.fixture
def two(make_fast: Any) -> Fast:
    fast: Fast = make_fast(drivers={"local": MemoryDriver("local"), "mem2": MemoryDriver("mem2")})
    return fast


def test_a_scoped_backend_name_places_the_volume_there(two: Fast) -> None:
    types = two.svc.types
    types.create(two.admin, "scoped", extra_specs={"capabilities:volume_backend_name": "mem2"})
    types.create(two.admin, "scoped-local", extra_specs={"capabilities:volume_backend_name": "local"})
    far = two.volume(1, volume_type="scoped")
    near = two.volume(1, volume_type="scoped-local")
    assert (two.get(far.id).backend, two.get(far.id).status.value) == ("mem2", "available")
    assert (two.get(near.id).backend, two.get(near.id).status.value) == ("local", "available")


def test_the_scoped_backend_name_of_a_type_in_use_cannot_change(two: Fast) -> None:
    types = two.svc.types
    vtype = types.create(two.admin, "scoped", extra_specs={"capabilities:volume_backend_name": "mem2"})
    two.volume(1, volume_type="scoped")
    with pytest.raises(BadRequest, match="in use cannot change"):
        types.set_extra_specs(two.admin, vtype.id, {"capabilities:volume_backend_name": "local"})
    with pytest.raises(BadRequest, match="in use cannot change"):
        types.unset_extra_spec(two.admin, vtype.id, "capabilities:volume_backend_name")
    # the same backend in the other spelling is no change; another spec is free to change
    types.set_extra_specs(two.admin, vtype.id, {"volume_backend_name": "mem2", "note": "x"})
    types.unset_extra_spec(two.admin, vtype.id, "capabilities:volume_backend_name")
    assert types.get(vtype.id).backend_name == "mem2"
