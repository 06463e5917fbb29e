"""Request bodies of ``/snapshots`` (Cinder's ``cinder/api/schemas/snapshots.py``): names and
descriptions of at most 255 characters, metadata as a volume's, ``force`` one of Cinder's booleans.
Unknown fields and wrong types are 400s."""

from __future__ import annotations

from pydantic import Field, StrictStr, model_validator

from volclone.api.schemas import CinderBool, Name, NoOptions, OneAction, Pairs, Strict, Text


class SnapshotCreate(Strict):
    #: Required, but null is allowed, as in Cinder's schema: no volume has it (404).
    volume_id: StrictStr | None = Field(min_length=1, max_length=255)
    name: Name | None = None
    description: Text | None = None
    display_name: Name | None = None
    display_description: Text | None = None
    force: CinderBool | None = Field(None, json_schema_extra={"type": ["boolean", "string"]})
    metadata: Pairs | None = None


class SnapshotCreateBody(Strict):
    snapshot: SnapshotCreate


class SnapshotUpdate(Strict):
    name: Name | None = None
    description: Text | None = None
    display_name: Name | None = None
    display_description: Text | None = None

    @model_validator(mode="after")
    def _something(self) -> SnapshotUpdate:
        if not self.model_fields_set:
            raise ValueError("give name, description, display_name or display_description")
        return self


class SnapshotUpdateBody(Strict):
    snapshot: SnapshotUpdate


class SnapshotResetStatus(Strict):
    status: StrictStr = Field(min_length=1, max_length=255)


class SnapshotUpdateStatus(Strict):
    """``os-update_snapshot_status``: the new status and, optionally, the progress ("80%")."""

    status: StrictStr = Field(min_length=1, max_length=255)
    progress: StrictStr | None = Field(None, max_length=255)


class SnapshotActionBody(OneAction):
    """``POST /snapshots/{id}/action``: exactly one of Cinder's snapshot actions."""

    os_reset_status: SnapshotResetStatus | None = Field(None, alias="os-reset_status")
    os_force_delete: NoOptions = Field(None, alias="os-force_delete")
    os_update_snapshot_status: SnapshotUpdateStatus | None = Field(None, alias="os-update_snapshot_status")
