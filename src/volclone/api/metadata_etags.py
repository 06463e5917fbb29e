"""Volume metadata's ``Etag`` (microversion 3.15, Cinder's ``ETAGS``): lost updates refused.

From 3.15 ``GET /volumes/{id}/metadata`` answers an ``Etag``: the MD5 of ``{"metadata": ...}``
as JSON, as Cinder computes it. A ``PUT`` of the metadata (or of one key) that sends
``If-Match`` is applied only if one of its tags is the metadata's tag now (or ``*``), else it
is a 412 and changes nothing; without ``If-Match`` it is applied, as in Cinder.
python-cinderclient relies on it: its ``metadata ... unset`` from 3.15 is a GET, then a PUT of
what is left with the GET's tag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from fastapi import Request

ETAGS_VERSION = (3, 15)


def etag(metadata: Mapping[str, str]) -> str:
    data = json.dumps({"metadata": dict(metadata)}).encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _tags(header: str) -> list[str]:
    tags = []
    for part in header.split(","):
        tag = part.strip().removeprefix("W/").strip()
        tags.append(tag[1:-1] if len(tag) >= 2 and tag[0] == tag[-1] == '"' else tag)
    return tags


def matches(request: Request, metadata: Mapping[str, str]) -> bool:
    """Whether the request's ``If-Match`` (if any) names the metadata as it is now."""
    header = request.headers.get("if-match")
    if header is None:
        return True
    tags = _tags(header)
    return "*" in tags or etag(metadata) in tags
