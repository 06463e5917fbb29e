"""The query of the smaller lists (transfers, messages) as Cinder reads it: ``marker``, ``limit``
(at most :data:`~volclone.api.listing.MAX_LIMIT`), ``offset``, ``sort=key[:dir],...`` (or
``sort_key``/``sort_dir``) where the list sorts, ``all_tenants`` (admins), and equality filters
on the fields the list names, and ``key~`` substring filters where the caller may give them
(``like``: an admin's from 3.34 on message lists); any other parameter is a 400."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from volclone.api.listing import MAX_LIMIT, boolean, page_params, sort_params
from volclone.errors import BadRequest

PAGING = frozenset({"marker", "limit", "offset"})
SORTING = frozenset({"sort", "sort_key", "sort_dir"})


@dataclass(frozen=True)
class SmallList:
    equal: tuple[tuple[str, object], ...]
    sort: tuple[tuple[str, bool], ...]
    marker: str | None
    limit: int
    offset: int
    all_projects: bool
    #: (field, text): the field holds the text, in any case (``key~``).
    contains: tuple[tuple[str, str], ...] = ()


def parse(items: Iterable[tuple[str, str]], filters: Mapping[str, str], sort_keys: Mapping[str, str] | None,
          *, paged: bool = True, like: Mapping[str, str] | None = None) -> SmallList:
    """``filters``: parameter -> field; ``sort_keys`` None: this list (at this microversion)
    takes no sort, and sort parameters are ignored, as Cinder ignores them there. ``paged``
    False: paging parameters are ignored too. ``like``: ``key~`` parameter -> field."""
    params = dict(items)
    limit, offset = MAX_LIMIT, 0
    if paged:
        limit, offset = page_params(params)
    sort = sort_params(params, sort_keys, frozenset()) if sort_keys is not None else ()
    all_projects = boolean("all_tenants", params["all_tenants"]) if "all_tenants" in params else False
    equal: list[tuple[str, object]] = []
    contains: list[tuple[str, str]] = []
    unknown = []
    for key, value in params.items():
        if key in PAGING or key in SORTING or key == "all_tenants":
            continue
        if key in filters:
            equal.append((filters[key], value))
        elif like and key in like:
            contains.append((like[key], value))
        elif paged or sort_keys is not None:
            unknown.append(key)
    if unknown:
        raise BadRequest(f"Invalid filters {','.join(sorted(unknown))} are found in query options.")
    return SmallList(tuple(equal), sort, params.get("marker") if paged else None, limit, offset, all_projects,
                     tuple(contains))
