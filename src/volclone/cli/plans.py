"""How ``volclone clone --dry-run`` shows a plan: one row per clone, in request order, then the
set's totals. The numbers are the server's (docs/dry-run.md says where they come from)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table


def size(n: float) -> str:
    """Bytes in the largest binary unit under 1024 of it (``0 B``, ``3.0 MiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover - the loop returns at GiB


def _estimate(e: Mapping[str, Any]) -> str:
    if not e.get("bytes_per_second"):
        return "-"
    return f"~{e['copy_seconds']:g} s at {size(e['bytes_per_second'])}/s ({e['rate_from']})"


def plan_table(plan: Mapping[str, Any]) -> Table:
    """The plan as a table; its caption gives the consistency method and the totals."""
    t = Table(title=f"Dry run on backend {plan['backend']}: nothing was made", title_justify="left")
    for column in ("Source ID", "Clone name", "Size (GiB)", "Type", "Backend", "Method", "To copy", "Copy time"):
        t.add_column(column, overflow="fold")
    for c in plan["clones"]:
        t.add_row(c["source_id"], c["name"] or c["name_pattern"], str(c["size"]), c["volume_type"]["name"],
                  c["backend"], c["method"], size(c["bytes_to_copy"]), _estimate(c["estimate"]))
    totals = plan["totals"]
    t.caption = (f"{totals['volumes']} clone{'s' if totals['volumes'] != 1 else ''}, {totals['gigabytes']} GiB; "
                 f"{size(totals['bytes_to_copy'])} to copy, ~{totals['copy_seconds']:g} s; "
                 f"consistency: {plan['consistency_method']}")
    t.caption_justify = "left"
    return t
