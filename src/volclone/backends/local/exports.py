"""Attached local volumes: NBD exports of their active layers, served by the pool's daemon.

One export per volume, writable or not; its id says which (``w-<volume>`` / ``r-<volume>``)
because ``query-block-exports`` does not, and a daemon taken over from an earlier run of
the service must be read back (:meth:`NbdExports.adopt`). The NBD server starts with the
first export, at the configured address, so clients find a volume at the same URI after
any restart.

A volume given QoS limits (:attr:`NbdExports.limits`) is exported through a throttle filter
over its active layer (:mod:`volclone.backends.local.throttle`).

The caller holds the driver's pool lock around every call.
"""

from __future__ import annotations

import logging
import time

from volclone.backends.local.graph import Graph
from volclone.backends.local.qsd import QMPCommandError
from volclone.backends.local.throttle import Throttles, filter_node
from volclone.errors import BackendError

log = logging.getLogger(__name__)


def export_id(volume_id: str, writable: bool) -> str:
    """The daemon's id of a volume's export."""
    return f"{'w' if writable else 'r'}-{volume_id}"


def parse_export_id(eid: str) -> tuple[str, bool] | None:
    """(volume id, writable) of an id made by :func:`export_id`; None for another id."""
    mode, _, volume_id = eid.partition("-")
    return (volume_id, mode == "w") if mode in ("w", "r") and volume_id else None


class NbdExports:
    def __init__(self, graph: Graph, host: str, port: int) -> None:
        self.graph = graph
        self.host = host
        self.port = port
        #: Volumes served (volume id -> writable); their chains stay open in the daemon.
        self.served: dict[str, bool] = {}
        #: QoS limits by volume (Cinder's keys), applied when a volume is exported.
        self.limits: dict[str, dict[str, int]] = {}
        #: Served volumes whose export serves their throttle filter (not their active layer).
        self.filtered: set[str] = set()
        self.throttles = Throttles(graph.daemon)
        self._server_started = False

    def connection_info(self, volume_id: str) -> dict[str, object]:
        uri = f"nbd://{self.host}:{self.port}/{volume_id}"
        return {"driver_volume_type": "nbd",
                "data": {"host": self.host, "port": self.port, "export_name": volume_id, "uri": uri}}

    def serve(self, volume_id: str, writable: bool) -> None:
        """Export the volume in this mode (again, if it was exported in the other one)."""
        if self.served.get(volume_id) not in (None, writable):
            self._remove(export_id(volume_id, self.served.pop(volume_id)))
        if volume_id not in self.served:
            self._add(volume_id, writable)

    def stop_serving(self, volume_id: str) -> bool:
        """Remove the volume's export (its clients are cut off); returns whether it had one."""
        if volume_id not in self.served:
            return False
        self._remove(export_id(volume_id, self.served.pop(volume_id)))
        return True

    def _add(self, volume_id: str, writable: bool) -> None:
        daemon = self.graph.daemon
        if not self._server_started:
            try:
                daemon.execute("nbd-server-start", addr={
                    "type": "inet", "data": {"host": self.host, "port": str(self.port)}})
            except QMPCommandError as exc:
                if "already running" not in exc.desc:  # a daemon taken over may run it
                    raise
            self._server_started = True
        self.graph.open([volume_id])
        top = self.graph.store.top(volume_id)
        assert top is not None
        node = top.node
        limits = self.limits.get(volume_id)
        if limits:
            self.throttles.set_group(volume_id, limits)
            node = self.throttles.add_filter(volume_id, top.node)
            self.filtered.add(volume_id)
        try:
            daemon.execute("block-export-add", type="nbd", id=export_id(volume_id, writable), name=volume_id,
                           **{"node-name": node}, writable=writable)
        except Exception:
            self._unfilter(volume_id)
            raise
        self.served[volume_id] = writable

    def set_limits(self, volume_id: str, limits: dict[str, int]) -> bool:
        """The volume's limits from now on (empty: none); returns whether they apply now (its
        export serves its filter), else they do from its next export."""
        if limits:
            self.limits[volume_id] = dict(limits)
        else:
            self.limits.pop(volume_id, None)
        if volume_id in self.filtered:
            self.throttles.set_group(volume_id, limits)  # all 0: the filter stays, limiting nothing
            return True
        return not limits or volume_id not in self.served

    def _unfilter(self, volume_id: str) -> None:
        if volume_id in self.filtered:
            self.filtered.discard(volume_id)
            self.throttles.remove(volume_id)

    def _remove(self, eid: str) -> None:
        """Remove an export at once (connected clients are cut off) and wait until it is gone."""
        daemon = self.graph.daemon
        try:
            daemon.execute("block-export-del", id=eid, mode="hard")
        except QMPCommandError as exc:
            log.debug("export %s: %s", eid, exc.desc)
        deadline = time.monotonic() + 10
        while any(e["id"] == eid for e in daemon.execute("query-block-exports")):
            if time.monotonic() > deadline:
                raise BackendError(f"export {eid} did not go away")
            time.sleep(0.002)
        parsed = parse_export_id(eid)
        if parsed is not None:
            self._unfilter(parsed[0])

    def stopped(self) -> None:
        """The daemon was stopped or let go of: the next export starts the NBD server."""
        self._server_started = False

    def rebuild(self) -> None:
        """After the daemon restarted: serve every exported volume again, at the same address."""
        self._server_started = False
        exports, self.served = self.served, {}
        self.filtered.clear()  # the new daemon has no filters or groups
        # Chains first, then the NBD server and the exports back to back: a client that
        # reconnects in between finds the export half there (no block status) for less time.
        for volume_id in exports:
            try:
                self.graph.open([volume_id])
            except Exception:
                log.exception("reopening volume %s after a daemon restart failed", volume_id)
        for volume_id, writable in exports.items():
            try:
                self._add(volume_id, writable)
            except Exception:
                log.exception("re-exporting volume %s after a daemon restart failed", volume_id)
        log.warning("qemu-storage-daemon restarted; %d exports rebuilt", len(self.served))

    def adopt(self) -> list[tuple[str, str, bool, str]]:
        """A daemon left running by an earlier run: keep each export whose node is its
        volume's active layer, in the mode its id names, and remove the exports of no known
        volume. Returns the others, ``(export id, volume id, writable, node)``, for the
        driver to repair or :meth:`drop`."""
        exports = self.graph.daemon.execute("query-block-exports")
        self._server_started = bool(exports)
        differ = []
        for export in exports:
            parsed = parse_export_id(export["id"])
            top = self.graph.store.top(parsed[0]) if parsed else None
            if parsed is None or top is None or export.get("shutting-down"):
                log.warning("removing export %s of an earlier run: no such volume", export["id"])
                self._remove(export["id"])
            elif export["node-name"] == top.node:
                self.served[parsed[0]] = parsed[1]
            elif export["node-name"] == filter_node(parsed[0]):
                # The filter follows every graph change under it: it serves the active layer.
                self.served[parsed[0]] = parsed[1]
                self.filtered.add(parsed[0])
            else:
                differ.append((export["id"], parsed[0], parsed[1], export["node-name"]))
        return differ

    def drop(self, eid: str) -> None:
        """Remove an export found at :meth:`adopt` that can't be repaired."""
        self._remove(eid)
