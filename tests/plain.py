"""A backend with the driver primitives only (no group snapshots, attachments, flatten or
imports): tests use it to prove the service refuses what a backend can't do."""

from __future__ import annotations

from volclone.backends.base import VolumeDriver


class PlainDriver(VolumeDriver):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.volumes: set[str] = set()

    def create_volume(self, volume_id: str, size_gib: int) -> None:
        self.volumes.add(volume_id)

    def delete_volume(self, volume_id: str) -> None:
        self.volumes.discard(volume_id)

    def volume_exists(self, volume_id: str) -> bool:
        return volume_id in self.volumes
