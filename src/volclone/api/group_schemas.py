"""Request bodies of ``/group_types`` and ``/groups`` (Cinder's ``cinder/api/schemas/group_types.py``,
``group_specs.py`` and ``groups.py``): names and descriptions of at most 255 characters,
``add_volumes``/``remove_volumes`` as comma-separated ids. Unknown fields and wrong types are 400s."""

from __future__ import annotations

from pydantic import Field, StrictStr, model_validator

from volclone.api.schemas import CinderBool, Key, Name, OneAction, Pairs, Strict, Text


class GroupTypeCreate(Strict):
    name: StrictStr = Field(min_length=1, max_length=255)
    description: Text | None = None
    is_public: CinderBool | None = Field(None, json_schema_extra={"type": ["boolean", "string"]})
    group_specs: Pairs = Field(default_factory=dict)


class GroupTypeCreateBody(Strict):
    group_type: GroupTypeCreate


class GroupTypeUpdate(Strict):
    name: Name | None = None
    description: Text | None = None
    is_public: CinderBool | None = Field(None, json_schema_extra={"type": ["boolean", "string"]})


class GroupTypeUpdateBody(Strict):
    group_type: GroupTypeUpdate


class GroupSpecsBody(Strict):
    group_specs: Pairs


class GroupCreate(Strict):
    group_type: StrictStr = Field(min_length=1, max_length=255)
    volume_types: list[Key] = Field(min_length=1, max_length=64)
    name: Name | None = None
    description: Text | None = None
    availability_zone: Name | None = None


class GroupCreateBody(Strict):
    group: GroupCreate


def id_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (Cinder strips and drops empty items)."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class GroupUpdate(Strict):
    name: Name | None = None
    description: Text | None = None
    add_volumes: StrictStr | None = Field(None, max_length=65535)
    remove_volumes: StrictStr | None = Field(None, max_length=65535)

    @model_validator(mode="after")
    def _something(self) -> GroupUpdate:
        if not self.model_fields_set:
            raise ValueError("give name, description, add_volumes or remove_volumes")
        return self


class GroupUpdateBody(Strict):
    group: GroupUpdate


class GroupDelete(Strict):
    delete_volumes: CinderBool | None = Field(None, alias="delete-volumes",
                                              json_schema_extra={"type": ["boolean", "string"]})


class GroupResetStatus(Strict):
    status: StrictStr = Field(min_length=1, max_length=255)


class GroupActionBody(OneAction):
    """``POST /groups/{id}/action``: Cinder's ``delete`` (with ``delete-volumes``) and, from 3.20,
    the admins' ``reset_status``. Replication actions (3.38) are unknown actions: 400."""

    delete: GroupDelete | None = Field(None, alias="delete")
    reset_status: GroupResetStatus | None = Field(None, alias="reset_status")


class GroupFromSource(Strict):
    """Cinder's ``create-from-src`` body (3.14): a group snapshot or a source group (exactly one;
    the service says which is missing or doubled), a name and a description."""

    group_snapshot_id: StrictStr | None = Field(None, min_length=1, max_length=255)
    source_group_id: StrictStr | None = Field(None, min_length=1, max_length=255)
    name: Name | None = None
    description: Text | None = None


class GroupsActionBody(OneAction):
    """``POST /groups/action``: Cinder's one collection action, ``create-from-src`` (3.14)."""

    create_from_src: GroupFromSource = Field(alias="create-from-src")


class GroupSnapshotCreate(Strict):
    """Cinder's ``group_snapshots.create`` body: the group, a name and a description."""

    group_id: StrictStr = Field(min_length=1, max_length=255)
    name: Name | None = None
    description: Text | None = None


class GroupSnapshotCreateBody(Strict):
    group_snapshot: GroupSnapshotCreate


class GroupSnapshotActionBody(OneAction):
    """``POST /group_snapshots/{id}/action``: Cinder's one action, the admins' ``reset_status`` (3.19)."""

    reset_status: GroupResetStatus = Field(alias="reset_status")
