"""The clone-volumes use case: validate, start a persisted flow, report its progress."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from volclone.backends.base import (
    GroupSnapshotCapable,
    SnapshotReadable,
    VolumeImportable,
    supports_group_snapshots,
)
from volclone.config import DEFAULT_PREFIX
from volclone.db.repos import CloneTasks, Groups, Settings, Volumes
from volclone.domain import CLONEABLE, CloneProgress, CloneRequest, Principal, Volume
from volclone.errors import BadRequest, CapabilityMissing, InvalidVolume, NotFound
from volclone.flows.clone_volumes import CloneContext, build_flow
from volclone.flows.engine import FINISHED, FlowRunner
from volclone.flows.progress import read_progress
from volclone.naming import clone_names
from volclone.service.auth import AuthService
from volclone.service.volumes import Backends, VolumeTypeService, clone_mode

log = logging.getLogger(__name__)

PREFIX_KEY = "clone-name-prefix"
#: How a clone on another backend than its source is made: a copy of the snapshot's data.
CROSS_BACKEND_MODE = "copy"
#: The longest volume name (as in Cinder).
MAX_NAME = 255


class CloneService:
    def __init__(self, volumes: Volumes, tasks: CloneTasks, settings: Settings, types: VolumeTypeService,
                 backends: Backends, runner: FlowRunner, groups: Groups, max_volumes: int,
                 failpoints: tuple[str, ...] = ()) -> None:
        self.volumes = volumes
        self.tasks = tasks
        self.settings = settings
        self.types = types
        self.backends = backends
        self.runner = runner
        self.ctx = CloneContext(volumes, groups, self.driver_for, failpoints, backend_for=backends.get)
        self.max_volumes = max_volumes

    # -- settings ------------------------------------------------------------
    def prefix(self) -> str:
        return self.settings.get(PREFIX_KEY, DEFAULT_PREFIX)

    def set_prefix(self, prefix: str) -> None:
        self.settings.set(PREFIX_KEY, prefix)

    # -- clone ---------------------------------------------------------------
    def driver_for(self, backend: str) -> GroupSnapshotCapable:
        driver = self.backends.get(backend)
        if not supports_group_snapshots(driver):
            raise CapabilityMissing(f"backend {backend} cannot snapshot a group of volumes atomically")
        assert isinstance(driver, GroupSnapshotCapable)
        return driver

    def start(self, who: Principal, req: CloneRequest) -> str:
        """Validate the request, persist its flow and start it; returns the task id.

        Nothing is created unless every check passes.
        """
        AuthService.authorize(who, req.project_id)
        ids = req.volume_ids
        if not ids:
            raise BadRequest("volumes must name at least one volume")
        if len(set(ids)) != len(ids):
            raise BadRequest("volumes must not name a volume twice")
        if len(ids) > self.max_volumes:
            raise BadRequest(f"at most {self.max_volumes} volumes can be cloned in one request")
        found = self.volumes.get_many(ids)
        for vid in ids:
            vol = found.get(vid)
            if vol is None or vol.project_id != req.project_id:
                raise NotFound(f"volume {vid} could not be found")
            if vol.status not in CLONEABLE:
                raise InvalidVolume(f"volume {vid} is {vol.status.value}; only available or in-use "
                                    "volumes can be cloned")
        backends = {found[v].backend for v in ids}
        if len(backends) > 1:
            raise BadRequest("the volumes are on different backends "
                             f"({', '.join(sorted(backends))}); one consistent snapshot can't span them")
        backend = backends.pop()
        target = self.types.get(req.target_type_id, who) if req.target_type_id else None
        target_backend = self.backends.name_for(target) if target is not None else backend
        self.driver_for(backend)
        if target_backend != backend:
            self._check_cross_backend(backend, target_backend, [found[v] for v in ids])

        clone_ids = [str(uuid.uuid4()) for _ in ids]
        names = clone_names(self.prefix(), req.display_name, [found[v].name for v in ids], clone_ids)
        if any(len(n) > MAX_NAME for n in names):
            given = "display-name" if req.display_name else "the source volume's name"
            raise BadRequest(f"with the prefix {self.prefix()!r}, {given} makes a clone name longer than "
                             f"{MAX_NAME} characters")
        clone_types = {vid: target or self.types.get(found[vid].volume_type_id) for vid in ids}
        clones: list[dict[str, str | None]] = [
            {"source": vid, "id": cid, "name": name, "description": req.description,
             "volume_type_id": clone_types[vid].id, "mode": clone_mode(clone_types[vid])}
            for vid, cid, name in zip(ids, clone_ids, names, strict=True)
        ]
        if target_backend != backend:  # the copy is the clone: no full copy at the snapshot
            for c in clones:
                c.update(backend=target_backend, mode=CROSS_BACKEND_MODE)
        task_id = str(uuid.uuid4())
        store: dict[str, Any] = {"task_id": task_id, "project_id": req.project_id, "backend": backend,
                                 "source_ids": list(ids), "clones": clones}
        flow = build_flow(self.ctx, task_id)
        logbook_id, flow_id, engine = self.runner.create(task_id, flow, store)
        self.tasks.add(task_id, req.project_id, store, logbook_id, flow_id)
        self.runner.submit(flow_id, engine)
        log.info("clone task %s started: %s", task_id, ", ".join(ids))
        return task_id

    def _check_cross_backend(self, backend: str, target_backend: str, volumes: list[Volume]) -> None:
        """A clone onto another backend copies the snapshot's data: the source must read it
        out, the target take it in and hold volumes that big."""
        if not isinstance(self.backends.get(backend), SnapshotReadable):
            raise CapabilityMissing(f"backend {backend} cannot copy its volumes to another backend")
        target = self.backends.get(target_backend)
        if not isinstance(target, VolumeImportable):
            raise CapabilityMissing(f"backend {target_backend} cannot take volumes copied from another backend")
        too_big = [v.id for v in volumes if target.max_size_gib is not None and v.size > target.max_size_gib]
        if too_big:
            raise BadRequest(f"volumes {', '.join(too_big)} are larger than backend {target.name} can hold "
                             f"({target.max_size_gib} GiB)")

    def resume_interrupted(self) -> list[str]:
        """Continue flows a previous run left unfinished (every task is safe to repeat)."""
        resumed = []
        for row in self.tasks.list():
            detail = self.runner.flow_detail(row.flow_id)
            if detail is None or detail.state in FINISHED:
                continue
            needed = {row.request["backend"], *(c.get("backend") for c in row.request["clones"])} - {None}
            down = sorted(b for b in needed if b in self.backends.unavailable)
            if down:
                log.error("clone task %s waits for the next service start: backend %s is unavailable",
                          row.id, ", ".join(down))
                continue
            flow = build_flow(self.ctx, row.id)
            engine = self.runner.resume(row.logbook_id, row.flow_id, flow)
            self.runner.submit(row.flow_id, engine)
            resumed.append(row.id)
            log.warning("resuming clone task %s (was %s)", row.id, detail.state)
        return resumed

    def progress(self, who: Principal, project_id: str, task_id: str) -> CloneProgress:
        AuthService.authorize(who, project_id)
        row = self.tasks.get(task_id)
        if row is None or row.project_id != project_id:
            raise NotFound(f"clone task {task_id} could not be found")
        detail = self.runner.flow_detail(row.flow_id)
        if detail is None:
            raise NotFound(f"clone task {task_id} has no flow")
        clone_map = {c["source"]: c["id"] for c in row.request["clones"]}
        return read_progress(task_id, detail, clone_map)

    def wait(self, task_id: str, timeout: float | None = None) -> None:
        """Block until a flow of this process ends (for the CLI's serve-less tools and tests)."""
        row = self.tasks.get(task_id)
        if row is not None:
            self.runner.wait(row.flow_id, timeout)
