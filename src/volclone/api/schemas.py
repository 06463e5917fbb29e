"""Request bodies. Unknown fields and wrong types are 400s, never silently dropped."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

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
    volumes: list[StrictStr]
    target_volume_type_id: StrictStr | None = Field(None, alias="target-volume-type-id")


class CloneVolumesBody(Strict):
    clone_volumes: CloneVolumes = Field(alias="clone-volumes")
