"""Schemathesis hooks for ``test_openapi.py``'s runs (loaded through ``SCHEMATHESIS_HOOKS``).

TEMPORARY: each filter here keeps out one known server error that another change of issue 8
fixes; delete the filter when that fix is merged (the run then proves it).
"""

from __future__ import annotations

from typing import Any

import schemathesis


def temporary_known_500_blank_project_segment(path_parameters: dict[str, Any]) -> bool:
    """Issue 8, defect 2: ``GET /v3/%09/volumes`` answers 500 ``KeyError: 'principal'``. The auth
    middleware reads ``request.url``, which has tabs, CRs and LFs stripped (Python's urlsplit), so for
    a project segment of only those it sees no project and never runs. Keep such ids out until auth
    runs for every path."""
    project = path_parameters.get("project_id")
    return not (isinstance(project, str) and project.translate({9: None, 10: None, 13: None}) == "")


@schemathesis.hook
def filter_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> bool:
    return path_parameters is None or temporary_known_500_blank_project_segment(path_parameters)
