"""The daemon's block graph for the pool's layers: which qcow2 nodes are open, opened and
closed chain by chain.

Node names are derived from layer ids (:attr:`Layer.node`). The set of open nodes is
kept here rather than asked for: the daemon's ``query-named-block-nodes`` stalls every
export while it runs (measured 35-55 ms with 600 nodes) and fills each node's L2 cache.
It is asked once, when a daemon left running by an earlier run is taken over.

The caller holds the driver's pool lock around every call.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from volclone.backends.local.layers import Layer, LayerStore
from volclone.backends.local.qsd import QMPCommandError, StorageDaemon

log = logging.getLogger(__name__)


class Graph:
    def __init__(self, pool: Path, store: LayerStore, daemon: StorageDaemon) -> None:
        self.pool = pool
        self.store = store
        self.daemon = daemon
        #: Node names open in the daemon.
        self.nodes: set[str] = set()

    def path(self, layer_id: str) -> Path:
        return self.pool / f"{layer_id}.qcow2"

    def add(self, layer: Layer, backing: str | None, read_only: bool = False) -> None:
        """Open one layer's file as a node over ``backing`` (a node name, or None)."""
        self.daemon.execute(
            "blockdev-add",
            driver="qcow2",
            **{"node-name": layer.node},
            file={"driver": "file", "filename": str(self.path(layer.id))},
            backing=backing,
            **({"read-only": True} if read_only else {}),
        )
        self.nodes.add(layer.node)

    def open(self, volume_ids: Collection[str]) -> None:
        """Open volumes' chains, bottom up, sharing frozen layers already open."""
        for vid in volume_ids:
            backing = None
            for layer in reversed(self.store.chain(vid)):
                if layer.node not in self.nodes:
                    self.add(layer, backing, read_only=layer.volume_id is None)
                backing = layer.node

    def remove(self, node: str) -> bool:
        """Close one node; False (and it stays open) while another node or a job uses it."""
        try:
            self.daemon.execute("blockdev-del", **{"node-name": node})
        except QMPCommandError as exc:
            if "Failed to find" not in exc.desc:
                log.debug("keeping node %s open: %s", node, exc.desc)
                return False
        self.nodes.discard(node)
        return True

    def close_layers(self, layers: list[Layer]) -> None:
        """Close these layers' nodes from the top down while nothing else uses them."""
        for layer in layers:
            if layer.node in self.nodes and not self.remove(layer.node):
                break

    def close(self, volume_ids: Collection[str]) -> None:
        """Close volumes' chains from the top down, keeping layers other open nodes use."""
        for vid in volume_ids:
            self.close_layers(self.store.chain(vid))

    def forget(self) -> None:
        """The daemon is new (it restarted): nothing is open in it."""
        self.nodes.clear()

    def daemon_nodes(self) -> set[str]:
        """Node names the daemon has open, asked (for tests and diagnostics)."""
        nodes = self.daemon.execute("query-named-block-nodes", flat=True)
        return {n["node-name"] for n in nodes if not n["node-name"].startswith("#")}

    def adopt(self, wanted: set[str], others: Collection[str] = ()) -> None:
        """A daemon left running by an earlier run: keep its nodes in ``wanted`` that open
        the file their layer's record names; close every other one (top down: a node
        can't go while another has it as its backing) but ``others`` (not layers: filters
        the exports kept serve)."""
        known = self.store.all_ids()
        opened = {n["node-name"]: n for n in self.daemon.execute("query-named-block-nodes", flat=True)
                  if not n["node-name"].startswith("#")}
        self.nodes = {node for node, info in opened.items()
                      if node in wanted and node[1:] in known and info.get("file") == str(self.path(node[1:]))}
        extra = [n for n in opened if n not in self.nodes and n not in others]
        while extra:
            left = [n for n in extra if not self.remove(n)]
            if len(left) == len(extra):
                log.warning("nodes of an earlier run stay open (in use): %s", ", ".join(left))
                self.nodes.update(left)
                break
            extra = left
