"""details.manifest: the set a clone task made, in request order, with each source as the
consistency point found it, and the source's metadata copied onto its clone."""

from __future__ import annotations

from typing import Any

from volclone.domain import AttachMode

from .conftest import Fast


def attach(fast: Fast, volume_id: str, instance: str, mode: AttachMode = AttachMode.RW) -> None:
    att = fast.svc.attachments.create(fast.who, "p1", volume_id, instance_uuid=instance,
                                      connector={"host": f"h-{instance}", "mode": mode.value})
    fast.svc.attachments.complete(fast.who, "p1", att.id)


def test_the_manifest_lists_the_set_in_request_order(fast: Fast) -> None:
    # attached to two servers: a multiattach volume (Cinder's rule)
    fast.svc.types.create(fast.admin, "multi", extra_specs={"multiattach": "<is> True"})
    data = fast.volume(2, "data", metadata={"app": "db", "tier": "gold"}, volume_type="multi")
    logs = fast.volume(1, "logs")
    boot = fast.volume(1, "boot")
    fast.svc.volumes.set_bootable(fast.who, "p1", boot.id, True)
    attach(fast, data.id, "vm-1", AttachMode.RO)
    attach(fast, data.id, "vm-2", AttachMode.RO)
    attach(fast, logs.id, "vm-1")
    ids = [logs.id, data.id, boot.id]
    task = fast.clone(ids, display_name="set")
    fast.wait(task)
    body = fast.body(task)
    entries: list[dict[str, Any]] = body["details"]["manifest"]
    assert [e["source_id"] for e in entries] == ids
    results = body["details"]["results"]
    assert [e["clone_id"] for e in entries] == [results[i] for i in ids]
    by_source = {e["source_id"]: e for e in entries}
    assert by_source[data.id]["size"] == 2 and by_source[logs.id]["size"] == 1
    assert [e["bootable"] for e in entries] == [False, False, True]
    assert [(a["instance_uuid"], a["attach_mode"], a["attach_order"])
            for a in by_source[data.id]["attachments"]] == [("vm-1", "ro", 1), ("vm-2", "ro", 2)]
    assert [(a["instance_uuid"], a["attach_mode"]) for a in by_source[logs.id]["attachments"]] == [("vm-1", "rw")]
    assert by_source[boot.id]["attachments"] == []
    # The source's user metadata is copied onto its clone, with the clone keys added.
    clone = fast.get(results[data.id])
    assert by_source[data.id]["metadata"] == clone.metadata
    assert clone.metadata == {"app": "db", "tier": "gold", "clone_source_volume_id": data.id,
                              "clone_task_id": task}
    assert by_source[data.id]["name"] == clone.name
    assert by_source[data.id]["volume_type_id"] == clone.volume_type_id
    assert fast.body(task) == body, "the manifest reads the same every time"


def test_a_reverted_task_has_no_manifest(make_fast: Any) -> None:
    fast = make_fast(failpoints=("set_clones_available",))
    task = fast.clone([fast.volume().id])
    assert fast.wait(task).flow_state.value == "REVERTED"
    assert "manifest" not in fast.body(task)["details"]
