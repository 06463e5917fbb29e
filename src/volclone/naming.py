"""Names of cloned volumes, exactly as the clone-volumes spec's tables give them.

The prefix is concatenated as the spec's examples show (prefix ``clone-`` and
display-name ``demo`` give ``clone-demo``)::

    >>> clone_names("clone-", "demo", ["srcvol1"], ["c1"])
    ['clone-demo']
    >>> clone_names("clone-", None, ["srcvol1"], ["c1"])
    ['clone-srcvol1']
    >>> clone_names("clone-", "demo", ["a", "b"], ["c1", "c2"])
    ['clone-demo-1', 'clone-demo-2']
    >>> clone_names("clone-", None, ["a", "b"], ["c1", "c2"])
    ['volume-c1', 'volume-c2']
"""

from __future__ import annotations

from collections.abc import Sequence


def clone_names(prefix: str, display_name: str | None, source_names: Sequence[str | None],
                clone_ids: Sequence[str]) -> list[str]:
    """One name per clone, in request order.

    ``source_names`` may hold ``None`` for an unnamed source; a single clone of
    an unnamed source is then named after its own id, as in the multi-volume case.
    """
    if len(source_names) == 1:
        base = display_name or source_names[0]
        return [f"{prefix}{base}" if base else f"volume-{clone_ids[0]}"]
    if display_name:
        return [f"{prefix}{display_name}-{i}" for i in range(1, len(clone_ids) + 1)]
    return [f"volume-{cid}" for cid in clone_ids]
