"""Request bodies. Unknown fields and wrong types are 400s, never silently dropped."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

#: Cinder's largest size (``cinder.api.validation.parameter_types.volume_size``: DB_MAX_INT GiB).
MAX_SIZE_GIB = 0x7FFFFFFF


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


# -- volume types -------------------------------------------------------------
class VolumeTypeCreate(Strict):
    name: StrictStr = Field(min_length=1, max_length=255)
    description: StrictStr | None = None
    os_volume_type_access_is_public: StrictBool = Field(True, alias="os-volume-type-access:is_public")
    is_public: StrictBool | None = None
    extra_specs: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class VolumeTypeCreateBody(Strict):
    volume_type: VolumeTypeCreate


class ExtraSpecsBody(Strict):
    extra_specs: dict[StrictStr, StrictStr]


# -- volumes ------------------------------------------------------------------
class VolumeCreate(Strict):
    size: StrictInt = Field(ge=1, le=MAX_SIZE_GIB)
    name: StrictStr | None = Field(None, max_length=255)
    description: StrictStr | None = None
    volume_type: StrictStr | None = None
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    availability_zone: StrictStr | None = None


class VolumeCreateBody(Strict):
    volume: VolumeCreate


class VolumeUpdate(Strict):
    name: StrictStr | None = Field(None, max_length=255)
    description: StrictStr | None = None
    display_name: StrictStr | None = Field(None, max_length=255)
    display_description: StrictStr | None = None
    metadata: dict[StrictStr, StrictStr] | None = None


class VolumeUpdateBody(Strict):
    volume: VolumeUpdate


class MetadataBody(Strict):
    metadata: dict[StrictStr, StrictStr]


class MetaItemBody(Strict):
    meta: dict[StrictStr, StrictStr]


# -- clone-volumes (hyphenated keys, exactly the spec's body) ----------------
class CloneVolumes(Strict):
    display_name: StrictStr | None = Field(None, alias="display-name", max_length=255)
    description: StrictStr | None = None
    # Documented only (the service checks them, with its own messages); at most VOLCLONE_MAX_CLONE_VOLUMES.
    volumes: list[StrictStr] = Field(json_schema_extra={"minItems": 1, "uniqueItems": True})
    target_volume_type_id: StrictStr | None = Field(None, alias="target-volume-type-id")


class CloneVolumesBody(Strict):
    clone_volumes: CloneVolumes = Field(alias="clone-volumes")


# -- attachments (Cinder v3, microversion 3.27) and the older volume actions --------
#: A connector describes the consumer (host, ip, initiator, mountpoint, mode...): any JSON object.
Connector = dict[StrictStr, Any]


class AttachmentCreate(Strict):
    volume_uuid: StrictStr = Field(min_length=1, max_length=36)
    instance_uuid: StrictStr | None = Field(None, max_length=255)
    connector: Connector | None = None
    mode: Literal["rw", "ro"] | None = None


class AttachmentCreateBody(Strict):
    attachment: AttachmentCreate


class AttachmentUpdate(Strict):
    connector: Connector | None = None


class AttachmentUpdateBody(Strict):
    attachment: AttachmentUpdate


class AttachmentActionBody(Strict):
    """``POST /attachments/{id}/action``: ``{"os-complete": <anything, e.g. the id>}``."""

    os_complete: Any = Field(alias="os-complete")


class OsInitializeConnection(Strict):
    connector: Connector


class OsAttach(Strict):
    instance_uuid: StrictStr | None = Field(None, max_length=255)
    mountpoint: StrictStr = Field(min_length=1, max_length=255)
    mode: Literal["rw", "ro"] | None = None


class OsDetach(Strict):
    attachment_id: StrictStr | None = Field(None, max_length=36)


class OsTerminateConnection(Strict):
    connector: Connector


class Flatten(Strict):
    """``{"os-flatten": {}}``: no options."""


class VolumeActionBody(Strict):
    """``POST /volumes/{id}/action``: exactly one action."""

    os_initialize_connection: OsInitializeConnection | None = Field(None, alias="os-initialize_connection")
    os_attach: OsAttach | None = Field(None, alias="os-attach")
    os_detach: OsDetach | None = Field(None, alias="os-detach")
    os_terminate_connection: OsTerminateConnection | None = Field(None, alias="os-terminate_connection")
    os_flatten: Flatten | None = Field(None, alias="os-flatten")

    @model_validator(mode="before")
    @classmethod
    def _one_known_action(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = sorted(f.alias for f in cls.model_fields.values() if f.alias)
            unknown = sorted(set(data) - set(known))
            if unknown:
                raise ValueError(f"there is no action {', '.join(unknown)}; volclone knows {', '.join(known)}")
            if len(data) != 1:
                raise ValueError("the body must name exactly one action")
        return data
