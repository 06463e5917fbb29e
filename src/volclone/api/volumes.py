"""/v3/{project_id}/volumes: create, list, show, update, metadata, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from volclone.api import listing, metadata_etags, views
from volclone.api.deps import enforce, principal, rule, service, volume_shape
from volclone.api.faults import fault
from volclone.api.schemas import MetadataBody, MetaItemBody, VolumeCreateBody, VolumeUpdateBody
from volclone.api.versions import fmt
from volclone.domain import Principal, Volume
from volclone.errors import BadRequest, CapabilityMissing, NotFound

router = APIRouter(prefix="/v3/{project_id}/volumes")
#: ``DELETE /volumes/{id}?force=true`` (Cinder's ``VOLUME_DELETE_FORCE``), under os-force_delete's rule.
DELETE_FORCE_VERSION = (3, 23)
FORCE_DELETE_RULE = "volume_extension:volume_admin_actions:force_delete"
#: From 3.53 an update must change something, and a create's unknown fields are a 400 (Cinder's
#: ``SUPPORT_VOLUME_SCHEMA_CHANGES``).
SCHEMA_CHANGES_VERSION = (3, 53)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _version(request: Request) -> tuple[int, int]:
    version: tuple[int, int] = getattr(request.state, "api_version", (3, 0))
    return version


def _detail(request: Request, who: Principal, vols: list[Volume], extended: bool = True) -> list[dict[str, Any]]:
    """Volume records as ``who`` may see them; ``extended=False`` for a create's or an update's answer."""
    names = {t.id: t.name for t in service(request).types.list()}
    shape = volume_shape(request, extended)
    return [views.volume(_base(request), v, names.get(v.volume_type_id), shape) for v in vols]


def _list(request: Request, who: Principal, project_id: str, collection: str,
          show: Callable[[list[Volume]], list[dict[str, Any]]]) -> dict[str, Any]:
    """One page of volumes, with ``volumes_links`` (a ``next`` link) when the page is full and,
    at 3.45 with ``with_count``, ``count``: how many volumes the filters select in all."""
    parsed = listing.volume_list(request.query_params.multi_items(), _version(request), who.is_admin)
    svc = service(request).volumes
    vols = svc.page(who, project_id, parsed.query, parsed.all_projects)
    body: dict[str, Any] = {"volumes": show(vols)}
    body.update(listing.paging_links(request, "volumes", f"/v3/{project_id}/{collection}", vols, parsed.limit))
    if parsed.with_count:
        body["count"] = svc.count(who, project_id, parsed.query, parsed.all_projects)
    return body


@router.get("")
@rule("volume:get_all")
def list_volumes(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    base = _base(request)
    return _list(request, who, project_id, "volumes", lambda vols: [views.volume_summary(base, v) for v in vols])


@router.get("/detail")
@rule("volume:get_all")
def list_volumes_detail(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, "volumes/detail", lambda vols: _detail(request, who, vols))


@router.get("/summary")
@rule("volume:get_all")
def volumes_summary(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """Cinder's 3.12 summary: how many volumes, their GiB, and (3.36) each metadata key's values.
    Like Cinder it reads ``all_tenants`` only; below 3.12 it is a 404, as a version-gated method is."""
    version = _version(request)
    if version < listing.SUMMARY_VERSION:
        raise NotFound(f"API version {fmt(version)} is not supported on this method; the volume summary needs "
                       f"microversion {fmt(listing.SUMMARY_VERSION)} or later")
    q = request.query_params
    all_projects = listing.boolean("all_tenants", q["all_tenants"]) if "all_tenants" in q else False
    s = service(request).volumes.summary(who, project_id, all_projects)
    summary: dict[str, Any] = {"total_size": s.total_size, "total_count": s.total_count}
    if version >= listing.SUMMARY_METADATA_VERSION:
        summary["metadata"] = s.metadata
    return {"volume-summary": summary}


@router.post("", status_code=202)
@rule("volume:create")
def create_volume(project_id: str, body: VolumeCreateBody, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    """An empty volume, one from a snapshot (``snapshot_id``), or (``source_volid``) a clone of a
    volume made by the clone-volumes flow: that one answers ``creating`` and becomes ``available``
    when its flow ends."""
    v = body.volume
    if v.model_extra and _version(request) >= SCHEMA_CHANGES_VERSION:
        # From 3.53 Cinder's create schema is strict; below it, unknown fields were ignored.
        raise BadRequest("invalid request: " + "; ".join(f"volume.{k}: Extra inputs are not permitted"
                                                         for k in sorted(v.model_extra)))
    name = v.name if v.name is not None else v.display_name
    description = v.description if v.description is not None else v.display_description
    svc = service(request)
    group = None
    if v.group_id is not None and _version(request) >= views.GROUP_VOLUME:  # Cinder reads it from 3.13
        if svc.groups is None:
            raise CapabilityMissing("this service has no groups")
        group = svc.groups.get(who, project_id, v.group_id)
    if v.availability_zone is not None and v.availability_zone != views.AVAILABILITY_ZONE:
        raise BadRequest(f"Availability zone '{v.availability_zone}' is invalid.")
    if v.source_volid is not None:
        if group is not None:
            raise BadRequest("group_id with source_volid is not served: add the clone to the group after")
        vol = svc.clones.create_volume(who, project_id, v.source_volid, v.size, name, description,
                                       v.volume_type, v.metadata or {}, bootable=v.bootable)
    else:
        vol = svc.volumes.create(who, project_id, v.size, name, description, v.volume_type,
                                 v.metadata or {}, snapshot_id=v.snapshot_id, bootable=v.bootable, group=group)
    return {"volume": _detail(request, who, [vol], extended=False)[0]}


# ``/volumes/`` names no volume: a 404, as Cinder answers a show, an update or a delete of the
# empty id (without these routes the router would redirect to the list, or refuse the method).
_NO_ID = "Volume could not be found: the path names no volume id."


@router.get("/", include_in_schema=False)
@rule("volume:get")
def show_no_volume(project_id: str) -> None:
    raise NotFound(_NO_ID)


@router.put("/", include_in_schema=False)
@rule("volume:update")
def update_no_volume(project_id: str) -> None:
    raise NotFound(_NO_ID)


@router.delete("/", include_in_schema=False)
@rule("volume:delete")
def delete_no_volume(project_id: str) -> None:
    raise NotFound(_NO_ID)


@router.get("/{volume_id}")
@rule("volume:get")
def show_volume(project_id: str, volume_id: str, request: Request,
                who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volume": _detail(request, who, [service(request).volumes.get(who, project_id, volume_id)])[0]}


@router.put("/{volume_id}")
@rule("volume:update")
def update_volume(project_id: str, volume_id: str, body: VolumeUpdateBody, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    u = body.volume
    fields: dict[str, Any] = {}
    if u.name is not None or u.display_name is not None:
        fields["name"] = u.name if u.name is not None else u.display_name
    if u.description is not None or u.display_description is not None:
        fields["description"] = u.description if u.description is not None else u.display_description
    if u.metadata is not None:
        fields["metadata"] = u.metadata
    if not fields:
        if _version(request) < SCHEMA_CHANGES_VERSION:
            # Below 3.53 Cinder answers an update that changes nothing with the volume as it is.
            return {"volume": _detail(request, who, [service(request).volumes.get(who, project_id, volume_id)],
                                      extended=False)[0]}
        raise BadRequest("nothing to update: give name, description or metadata")
    vol = service(request).volumes.update(who, project_id, volume_id, **fields)
    return {"volume": _detail(request, who, [vol], extended=False)[0]}


@router.delete("/{volume_id}", status_code=202)
@rule("volume:delete")
def delete_volume(project_id: str, volume_id: str, request: Request,
                  who: Principal = Depends(principal)) -> Response:
    """``?cascade=true`` deletes the volume's snapshots first (a volume with snapshots is a 400 without);
    from 3.23 ``?force=true`` deletes it whatever its status, as os-force_delete does (and under its rule)."""
    q = request.query_params
    cascade = listing.boolean("cascade", q["cascade"]) if "cascade" in q else False
    force = _version(request) >= DELETE_FORCE_VERSION and "force" in q and listing.boolean("force", q["force"])
    if force:
        enforce(request, FORCE_DELETE_RULE, project_id)
    service(request).volumes.delete(who, project_id, volume_id, force=force, cascade=cascade)
    return Response(status_code=202)


@router.get("/{volume_id}/metadata")
@rule("volume:get_volume_metadata")
def show_metadata(project_id: str, volume_id: str, request: Request, response: Response,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    metadata = service(request).volumes.get(who, project_id, volume_id).metadata
    if _version(request) >= metadata_etags.ETAGS_VERSION:
        response.headers["Etag"] = metadata_etags.etag(metadata)
    return {"metadata": metadata}


def _stale(request: Request, who: Principal, project_id: str, volume_id: str) -> JSONResponse | None:
    """From 3.15, the 412 of a metadata PUT whose ``If-Match`` names metadata that has changed."""
    if _version(request) < metadata_etags.ETAGS_VERSION:
        return None
    if metadata_etags.matches(request, service(request).volumes.get(who, project_id, volume_id).metadata):
        return None
    return fault(412, f"the metadata of volume {volume_id} changed since its Etag was read (If-Match)")


@router.post("/{volume_id}/metadata")
@rule("volume:create_volume_metadata")
def add_metadata(project_id: str, volume_id: str, body: MetadataBody, request: Request,
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"metadata": service(request).volumes.set_metadata(who, project_id, volume_id, body.metadata)}


@router.put("/{volume_id}/metadata")
@rule("volume:update_volume_metadata")
def replace_metadata(project_id: str, volume_id: str, body: MetadataBody, request: Request,
                     who: Principal = Depends(principal)) -> Any:
    stale = _stale(request, who, project_id, volume_id)
    if stale is not None:
        return stale
    return {"metadata": service(request).volumes.set_metadata(who, project_id, volume_id, body.metadata,
                                                              replace=True)}


@router.get("/{volume_id}/metadata/{key}")
@rule("volume:get_volume_metadata")
def show_meta_item(project_id: str, volume_id: str, key: str, request: Request,
                   who: Principal = Depends(principal)) -> dict[str, Any]:
    meta = service(request).volumes.get(who, project_id, volume_id).metadata
    if key not in meta:
        raise NotFound(f"volume {volume_id} has no metadata key {key}")
    return {"meta": {key: meta[key]}}


@router.put("/{volume_id}/metadata/{key}")
@rule("volume:update_volume_metadata")
def set_meta_item(project_id: str, volume_id: str, key: str, body: MetaItemBody, request: Request,
                  who: Principal = Depends(principal)) -> Any:
    stale = _stale(request, who, project_id, volume_id)
    if stale is not None:
        return stale
    if list(body.meta) != [key]:
        raise BadRequest("the body's meta must hold exactly the key named in the URL")
    service(request).volumes.set_metadata(who, project_id, volume_id, body.meta)
    return {"meta": body.meta}


@router.delete("/{volume_id}/metadata/{key}")
@rule("volume:delete_volume_metadata")
def delete_meta_item(project_id: str, volume_id: str, key: str, request: Request,
                     who: Principal = Depends(principal)) -> Response:
    service(request).volumes.delete_metadata(who, project_id, volume_id, key)
    return Response(status_code=200)
