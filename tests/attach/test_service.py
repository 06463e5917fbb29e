"""The attachment rules at the service layer, on a real SQLite database with small fake drivers
(no daemon): capabilities, failures of the backend, races with volume delete, the migration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect

from plain import PlainDriver
from volclone.backends.base import Attachable
from volclone.db import repos
from volclone.db.database import Database, alembic_config, make_engine, migrate
from volclone.domain import (
    Attachment,
    AttachMode,
    AttachStatus,
    Principal,
    VolumeStatus,
    attached_status,
    mode_conflict,
)
from volclone.errors import BackendError, CapabilityMissing, InvalidVolume
from volclone.service import AttachmentService, VolumeService, VolumeTypeService
from volclone.service.volumes import Backends

WHO = Principal("p1")




class ServingDriver(PlainDriver, Attachable):
    """Records what it serves; ``fail`` makes initialize_connection fail."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.served: dict[str, bool] = {}
        self.fail = False

    def initialize_connection(self, volume_id: str, writable: bool) -> dict[str, object]:
        if self.fail:
            raise BackendError("the daemon is gone")
        self.served[volume_id] = writable
        return {"driver_volume_type": "fake", "data": {"name": volume_id}}

    def terminate_connection(self, volume_id: str) -> None:
        self.served.pop(volume_id, None)


class Parts:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.plain, self.serving = PlainDriver("plain"), ServingDriver("serving")
        backends = Backends({"plain": self.plain, "serving": self.serving}, default="serving")
        self.types = VolumeTypeService(repos.VolumeTypes(db))
        self.types.ensure_default("serving")
        self.rows = repos.Attachments(db)
        self.volumes = VolumeService(repos.Volumes(db), repos.Groups(db), self.types, backends, self.rows)
        self.attachments = AttachmentService(self.rows, repos.Volumes(db), backends)

    def volume(self, backend: str = "serving", multiattach: bool = False) -> str:
        name = f"{backend}-multi" if multiattach else backend
        specs = {"volume_backend_name": backend, **({"multiattach": "<is> True"} if multiattach else {})}
        vtype = self.types.repo.by_name(name) or self.types.create(Principal("admin", True), name, extra_specs=specs)
        return self.volumes.create(WHO, "p1", 1, volume_type=vtype.id).id

    def status(self, volume_id: str) -> VolumeStatus:
        return self.volumes.get(WHO, "p1", volume_id).status


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    engine = make_engine(f"sqlite:///{tmp_path / 'volclone.db'}")
    migrate(engine)
    yield Parts(Database(engine))
    engine.dispose()


def test_a_backend_that_cannot_serve_refuses_and_records_nothing(parts):
    vid = parts.volume("plain")
    with pytest.raises(CapabilityMissing):
        parts.attachments.create(WHO, "p1", vid, connector={"host": "h"})
    assert parts.rows.list() == [] and parts.status(vid) is VolumeStatus.AVAILABLE


def test_a_failing_backend_leaves_no_attachment(parts):
    vid = parts.volume()
    parts.serving.fail = True
    with pytest.raises(BackendError):
        parts.attachments.create(WHO, "p1", vid, connector={"host": "h"})
    assert parts.rows.list() == [] and parts.status(vid) is VolumeStatus.AVAILABLE


def test_statuses_follow_the_attachments(parts):
    vid = parts.volume(multiattach=True)  # two instances: a multiattach volume (Cinder's rule)
    one = parts.attachments.create(WHO, "p1", vid, "i1", mode=AttachMode.RO)
    assert (one.status, parts.status(vid)) == (AttachStatus.RESERVED, VolumeStatus.RESERVED)
    assert parts.serving.served == {}
    parts.attachments.complete(WHO, "p1", one.id, {"host": "h1"})
    assert parts.status(vid) is VolumeStatus.IN_USE and parts.serving.served == {vid: False}
    two = parts.attachments.create(WHO, "p1", vid, "i2", {"host": "h2"}, AttachMode.RO)
    assert (two.status, parts.status(vid)) == (AttachStatus.ATTACHING, VolumeStatus.IN_USE)
    assert [a.id for a in parts.attachments.delete(WHO, "p1", one.id)] == [two.id]
    assert parts.status(vid) is VolumeStatus.ATTACHING and parts.serving.served == {vid: False}
    parts.attachments.delete(WHO, "p1", two.id)
    assert parts.status(vid) is VolumeStatus.AVAILABLE and parts.serving.served == {}


def test_restore_serves_what_is_recorded(parts):
    served, reserved = parts.volume(), parts.volume()
    parts.attachments.create(WHO, "p1", served, connector={"host": "h"}, mode=AttachMode.RO)
    parts.attachments.create(WHO, "p1", reserved)
    parts.serving.served.clear()  # as after a restart
    assert parts.attachments.restore() == 1
    assert parts.serving.served == {served: False}


def test_a_volume_delete_that_raced_an_attach_backs_off(parts):
    """The delete claimed ``deleting`` over an attach that committed between its check and
    its claim (possible with the claim's select-then-update): it sees the attachment after
    its claim, backs off, and the volume gets the status its attachments give it."""
    vid = parts.volume()
    a = parts.attachments.create(WHO, "p1", vid, connector={"host": "h"})
    parts.volumes.repo.set_status([vid], VolumeStatus.AVAILABLE)  # what the delete saw
    with pytest.raises(InvalidVolume, match="attached"):
        parts.volumes.delete(WHO, "p1", vid)
    assert parts.status(vid) is VolumeStatus.ATTACHING
    assert parts.rows.get(a.id) is not None and vid in parts.serving.volumes


def test_an_attach_after_a_delete_claimed_the_volume_is_refused(parts):
    vid = parts.volume()
    a = Attachment("a1", vid, "p1", None, AttachMode.RW, AttachStatus.RESERVED)
    parts.volumes.repo.set_status([vid], VolumeStatus.DELETING)
    assert not parts.rows.add(a, volume_in=frozenset({VolumeStatus.AVAILABLE}))
    assert parts.rows.list() == []


def _att(mode: str, status: str = "attached") -> Attachment:
    return Attachment("x", "v", "p", None, AttachMode(mode), AttachStatus(status))


@pytest.mark.parametrize("existing, mode, ok", [
    ([], "rw", True), ([], "ro", True), (["ro"], "ro", True), (["ro", "ro"], "ro", True),
    (["rw"], "rw", False), (["rw"], "ro", False), (["ro"], "rw", False),
])
def test_mode_rules(existing, mode, ok):
    assert (mode_conflict([_att(m) for m in existing], AttachMode(mode)) is None) is ok


@pytest.mark.parametrize("statuses, volume", [
    ([], "available"), (["reserved"], "reserved"), (["reserved", "attaching"], "attaching"),
    (["attaching", "attached", "reserved"], "in-use"),
])
def test_volume_status_from_attachments(statuses, volume):
    assert attached_status([_att("ro", s) for s in statuses]) is VolumeStatus(volume)


def test_migration_0002_goes_up_and_down(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0001")
    assert "attachments" not in inspect(engine).get_table_names()
    command.upgrade(cfg, "0002")
    columns: dict[str, Any] = {c["name"]: c for c in inspect(engine).get_columns("attachments")}
    assert {"id", "volume_id", "project_id", "instance_uuid", "mode", "status", "connector",
            "connection_info", "mountpoint", "attached_at"} <= set(columns)
    command.downgrade(cfg, "0001")
    assert "attachments" not in inspect(engine).get_table_names()
    engine.dispose()


def test_completing_a_reserved_attachment_that_cannot_be_served_keeps_it_reserved(parts):
    vid = parts.volume()
    a = parts.attachments.create(WHO, "p1", vid)
    parts.serving.fail = True
    with pytest.raises(BackendError):
        parts.attachments.complete(WHO, "p1", a.id)
    assert parts.rows.get(a.id).status is AttachStatus.RESERVED  # type: ignore[union-attr]
    assert parts.status(vid) is VolumeStatus.RESERVED
