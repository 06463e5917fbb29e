"""The query of ``GET /volumes[/detail]`` as Cinder reads it: filters, sort, paging, per microversion.

:func:`volume_list` turns the query parameters into a :class:`~volclone.domain.VolumeQuery` (the
database does the filtering, the order and the page) without touching the service, so each rule
can be tested on its own. What it follows (Cinder's ``cinder/api/v3/volumes.py``,
``cinder/api/common.py`` and ``etc/cinder/resource_filters.json``):

- ``marker``, ``limit`` and ``offset`` as :func:`page_params` reads them for every list (a
  ``limit`` above :data:`MAX_LIMIT`, or none, is :data:`MAX_LIMIT`), and
  ``sort=key[:dir],...`` or the older ``sort_key``/``sort_dir`` (not both): the order ends with
  ``created_at`` then ``id`` in the first key's direction, newest first by default.
- A user's filters: below 3.33 those outside :data:`USER_FILTERS_BEFORE_3_33` are ignored; from
  3.33 (resource filters) those outside :data:`USER_FILTERS` are a 400 naming them; from 3.34
  ``name~`` and ``description~`` match a part of the name or description, in any case.
- An admin's filters may name any field of a volume; a key that names none matches no volume
  (Cinder hands an admin's keys to its database, which finds nothing for them).
- Values are Python literals where Cinder reads them so (``metadata={"k": "v"}``, ``size=1``);
  a name is taken as it is.
- ``all_tenants`` (admins: every project's), and from 3.45 ``with_count``, are booleans as
  oslo reads them (``1``, ``true``, ``yes``, ``on``, ...; anything else is a 400).
- From 3.60 ``created_at``/``updated_at`` compare times (``gt:2026-01-01T00:00:00,lt:...``; the
  operators are :data:`TIME_OPERATORS`), for users too (Cinder's default resource filters have them).
- From 3.65 ``consumes_quota`` (a boolean): every volclone volume consumes quota.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from starlette.requests import Request

from volclone.domain import VolumeQuery
from volclone.errors import BadRequest

Version = tuple[int, int]

#: The most volumes one list answers, and the page size without ``limit`` (Cinder's ``osapi_max_limit``).
MAX_LIMIT = 1000
#: Cinder's ``DB_MAX_INT``: the largest offset, and the largest size a volume's column holds.
MAX_INT = MAX_OFFSET = 0x7FFFFFFF
#: Strict boolean filter values (Cinder's ``VOLUME_LIST_BOOTABLE``).
STRICT_BOOL_VERSION = (3, 2)
#: ``glance_metadata`` is a filter from 3.4, ``group_id`` from 3.10.
GLANCE_METADATA_VERSION = (3, 4)
GROUP_VERSION = (3, 10)
#: ``GET /volumes/summary`` (Cinder's ``VOLUME_SUMMARY``), with ``metadata`` from 3.36.
SUMMARY_VERSION = (3, 12)
SUMMARY_METADATA_VERSION = (3, 36)
#: Unknown filters of a user are a 400 (``RESOURCE_FILTER``); ``key~`` filters (``LIKE_FILTER``).
RESOURCE_FILTER_VERSION = (3, 33)
LIKE_FILTER_VERSION = (3, 34)
#: ``with_count`` adds ``count`` to a list (``SUPPORT_COUNT_INFO``).
COUNT_VERSION = (3, 45)
#: ``created_at``/``updated_at`` filters compare times from 3.60; before, they are dropped.
TIME_FILTER_VERSION = (3, 60)
TIME_FILTERS = ("created_at", "updated_at")
#: Cinder's ``get_time_comparsion_operators``.
TIME_OPERATORS = ("gt", "gte", "eq", "neq", "lt", "lte")
#: ``consumes_quota`` is a filter from 3.65 (Cinder's ``USE_QUOTA``).
USE_QUOTA_VERSION = (3, 65)

#: The filters a user may give below 3.33 (Cinder's default ``query_volume_filters``).
USER_FILTERS_BEFORE_3_33 = frozenset({"name", "status", "metadata", "availability_zone", "bootable", "group_id"})
#: From 3.33: Cinder's default ``resource_filters.json`` for volumes.
USER_FILTERS = frozenset({"name", "status", "metadata", "bootable", "migration_status", "availability_zone",
                          "group_id"})
#: From 3.34, as a deployment that configures them: substring filters (and so ``description``).
LIKE_FILTERS = {"name~": "name", "description~": "description"}
#: The parameters that are not filters.
PAGING = frozenset({"marker", "limit", "offset", "sort", "sort_key", "sort_dir"})

#: Fields filtered by equality: the parameter -> the volume's field.
EQUAL_FILTERS = {"name": "name", "display_name": "name", "description": "description",
                 "display_description": "description", "status": "status", "size": "size", "id": "id",
                 "project_id": "project_id", "volume_type_id": "volume_type_id", "volume_type": "volume_type",
                 "snapshot_id": "snapshot_id", "group_id": "group_id"}
#: Fields every volclone volume has the same value of: a filter on them keeps all or none.
CONSTANT_FILTERS: dict[str, object] = {"availability_zone": "nova", "migration_status": None,
                                       "consistencygroup_id": None, "user_id": None,
                                       "replication_status": "disabled"}
#: Boolean fields, false on every volclone volume.
FALSE_FLAGS = frozenset({"bootable", "multiattach", "encrypted"})

#: Sort keys: the parameter -> the volume's field (``name`` is Cinder's ``display_name``).
SORT_KEYS = {"id": "id", "name": "name", "display_name": "name", "description": "description",
             "display_description": "description", "size": "size", "status": "status",
             "created_at": "created_at", "updated_at": "updated_at", "project_id": "project_id",
             "volume_type_id": "volume_type_id"}
#: Sort keys accepted that change nothing (every volclone volume has the same value of most; snapshot_id
#: would sort NULLs differently on SQLite and PostgreSQL).
CONSTANT_SORT_KEYS = frozenset(CONSTANT_FILTERS) | FALSE_FLAGS | {"snapshot_id", "group_id"}

_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


def boolean(name: str, value: str) -> bool:
    """oslo's strict boolean (Cinder's ``get_bool_param``): 400 for anything else."""
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise BadRequest(f"Value '{value}' for '{name}' is not a boolean value.")


def page_params(params: Mapping[str, str]) -> tuple[int, int]:
    """A list's ``limit`` and ``offset``, as Cinder's ``get_pagination_params`` reads them for
    every list: ``limit`` absent or above :data:`MAX_LIMIT` is :data:`MAX_LIMIT` (cut, not
    refused: clients that ask for a big page get the biggest one), not an integer or negative a
    400; ``offset`` absent is 0, not an integer or outside 0..:data:`MAX_OFFSET` a 400.

        limit, offset = page_params(params)
    """
    limit = _integer("limit", params["limit"], "limit param must be an integer") if "limit" in params else MAX_LIMIT
    if limit < 0:
        raise BadRequest("limit param must be positive")
    offset = _integer("offset", params.get("offset", "0"))
    if offset < 0:
        raise BadRequest("offset must be >= 0")
    if offset > MAX_OFFSET:
        raise BadRequest(f"offset must be <= {MAX_OFFSET}")
    return min(limit, MAX_LIMIT), offset


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


def paging_links(request: Request, collection: str, path: str, page: Sequence[_Identified],
                 limit: int | None) -> dict[str, Any]:
    """A list's ``<collection>_links`` when ``page`` is full (``limit`` items; None: never): one
    ``next`` link, Cinder's, to ``path`` under the service's base URL with this request's query
    and ``marker`` set to the page's last item (moved to the end, as webob's MultiDict puts a
    key it sets again). ``{}`` otherwise, so ``body.update(paging_links(...))``.

        body.update(paging_links(request, "groups", f"/v3/{project_id}/groups", groups, limit))
    """
    if not page or limit is None or len(page) < limit:
        return {}
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"] + [("marker", page[-1].id)]
    href = f"{str(request.base_url).rstrip('/')}{path}?{urlencode(params)}"
    return {f"{collection}_links": [{"rel": "next", "href": href}]}


def _integer(name: str, value: str, message: str | None = None) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadRequest(message or f"{name} must be an integer") from None


@dataclass(frozen=True)
class VolumeList:
    """A parsed list request: what to ask the service, and what the answer shows."""

    query: VolumeQuery
    all_projects: bool = False
    #: Whether the answer has ``count`` (3.45's ``with_count``).
    with_count: bool = False
    #: The page size the answer was cut to (a full page gets a ``next`` link).
    limit: int = MAX_LIMIT
    ignored: tuple[str, ...] = field(default=())


def _literal(value: str) -> object:
    """The value as Cinder reads a filter: a Python literal if it is one, else the text."""
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def sort_params(params: dict[str, str], keys: Mapping[str, str] | None = None,
                constant_keys: frozenset[str] = CONSTANT_SORT_KEYS) -> tuple[tuple[str, bool], ...]:
    """``sort=key[:dir],...`` or ``sort_key``/``sort_dir``, checked; (field, ascending) pairs.

    ``keys`` maps the sort keys a list takes to its fields (the volumes' by default);
    ``constant_keys`` are keys it accepts that order nothing."""
    keys = SORT_KEYS if keys is None else keys
    if "sort" in params and ("sort_key" in params or "sort_dir" in params):
        raise BadRequest("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with "
                         "the 'sort' parameter.")
    if "sort" in params:
        pairs = [(key.strip(), direction.strip() or "desc")
                 for key, _, direction in (part.partition(":") for part in params["sort"].strip().split(","))]
    elif "sort_key" in params or "sort_dir" in params:
        pairs = [(params.get("sort_key", "created_at").strip(), params.get("sort_dir", "desc").strip())]
    else:
        return ()
    out = []
    for key, direction in pairs:
        if direction not in ("asc", "desc"):
            raise BadRequest("Invalid input received: Unknown sort direction, must be 'desc' or 'asc'.")
        if key not in keys and key not in constant_keys:
            raise BadRequest(f"Invalid input received: Invalid sort key {key!r}; sort by one of "
                             f"{', '.join(sorted(set(keys) | constant_keys))}")
        if key in keys:
            out.append((keys[key], direction == "asc"))
    if pairs[0][0] in constant_keys:
        # A key that orders nothing still gives the tiebreakers their direction, as the first key does.
        up = pairs[0][1] == "asc"
        out += [(k, up) for k in ("created_at", "id") if k not in {f for f, _ in out}]
    return tuple(out)


def volume_list(items: Iterable[tuple[str, str]], version: Version, is_admin: bool) -> VolumeList:
    """Parse a list request's query parameters, as Cinder does at ``version`` for an admin or not."""
    params = dict(items)  # a repeated parameter: its last value counts
    limit, offset = page_params(params)
    sort = sort_params(params)
    filters = {k: v for k, v in params.items() if k not in PAGING}
    all_projects = boolean("all_tenants", filters.pop("all_tenants")) if "all_tenants" in filters else False
    with_count = False
    if version >= COUNT_VERSION and "with_count" in filters:
        with_count = boolean("with_count", filters.pop("with_count"))
    for key, since in (("glance_metadata", GLANCE_METADATA_VERSION), ("group_id", GROUP_VERSION),
                       ("created_at", TIME_FILTER_VERSION), ("updated_at", TIME_FILTER_VERSION)):
        if version < since:
            filters.pop(key, None)
    compare = tuple(c for key in TIME_FILTERS if key in filters for c in time_comparisons(key, filters.pop(key)))
    nothing = False
    if version >= USE_QUOTA_VERSION and "consumes_quota" in filters:
        nothing = not boolean("consumes_quota", filters.pop("consumes_quota"))  # every volume consumes quota
    ignored: list[str] = []
    if not is_admin:
        if version >= RESOURCE_FILTER_VERSION:
            allowed = USER_FILTERS | (LIKE_FILTERS.keys() | {"description"} if version >= LIKE_FILTER_VERSION
                                      else frozenset())
            invalid = [k for k in filters if k not in allowed]
            if invalid:
                raise BadRequest(f"Invalid filters {','.join(invalid)} are found in query options.")
        else:
            ignored = [k for k in filters if k not in USER_FILTERS_BEFORE_3_33]
            for k in ignored:
                del filters[k]
    query = _filters(filters, version)
    query = dataclasses.replace(query, sort=sort, marker=params.get("marker"), limit=limit, offset=offset,
                                compare=compare, nothing=query.nothing or nothing)
    return VolumeList(query=query, all_projects=all_projects, with_count=with_count, limit=limit,
                      ignored=tuple(ignored))


def time_comparisons(key: str, value: str) -> list[tuple[str, str, dt.datetime]]:
    """3.60's ``op:time[,op:time...]`` (ISO 8601; a time without a zone is UTC), as naive UTC
    times; a 400 for an unknown operator or a time that is not one."""
    out = []
    for unit in value.split(","):
        op, sep, text = unit.strip().partition(":")
        if not sep:
            raise BadRequest(f"Invalid {key} value")
        if op not in TIME_OPERATORS:
            raise BadRequest(f"Invalid {op} operator")
        try:
            when = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise BadRequest(f"Invalid {text} value") from None
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        out.append((key, op, when))
    return out


def _filters(filters: dict[str, str], version: Version) -> VolumeQuery:
    """The filters (each one allowed already) as a query; a key volclone knows no field of matches nothing."""
    equal: list[tuple[str, object]] = []
    metadata: list[tuple[str, str]] = []
    contains: list[tuple[str, str]] = []
    nothing = False
    for key, raw in filters.items():
        if key in ("name", "display_name"):
            equal.append(("name", raw))  # as given: Cinder does not read a name as a literal
        elif key in LIKE_FILTERS and version >= LIKE_FILTER_VERSION:
            contains.append((LIKE_FILTERS[key], raw))
        elif key == "metadata":
            value = _literal(raw)
            if isinstance(value, dict):
                metadata += [(str(k), str(v)) for k, v in value.items()]
            else:
                nothing = True
        elif key in FALSE_FLAGS:
            if version >= STRICT_BOOL_VERSION:
                nothing |= boolean(key, raw)
            else:
                nothing |= raw.strip().lower() in _TRUE
        elif key in CONSTANT_FILTERS:
            value = _literal(raw)
            nothing |= value is not None and value != CONSTANT_FILTERS[key]
        elif key == "size":
            value = _literal(raw)
            if isinstance(value, int) and not isinstance(value, bool) and -MAX_INT - 1 <= value <= MAX_INT:
                equal.append(("size", value))
            else:
                nothing = True
        elif key in EQUAL_FILTERS:
            value = _literal(raw)
            if value is None and key in ("snapshot_id", "group_id"):
                equal.append((key, None))  # volumes made from no snapshot, in no group
            elif value is None:
                nothing |= key not in ("description", "display_description")  # only these may be null
            else:
                equal.append((EQUAL_FILTERS[key], str(value)))
        else:
            nothing = True
    return VolumeQuery(equal=tuple(equal), metadata=tuple(metadata), contains=tuple(contains), nothing=nothing)
