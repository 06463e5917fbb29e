"""QoS specs (Cinder's ``qos-specs``): named sets of I/O limits, associated with volume types, and
enforced by the backends of those types' volumes.

A spec whose consumer is the back end (``back-end`` or ``both``) is pushed to every volume of its
types on a backend that can enforce it (:class:`~volclone.backends.base.QosLimitable`): when a
volume is served, and at once when the spec's keys or its associations change. A front-end spec
goes out in the volume's connection_info (``data.qos_specs``), for the consumer to enforce::

    qos = svc.qos.create(admin, "gold", {"total_iops_sec": "500"}, consumer="back-end")
    svc.qos.associate(admin, qos.id, gold_type.id)     # volumes of gold_type: 500 IOPS
    svc.qos.update(admin, qos.id, {"total_iops_sec": "800"})   # applied live
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Collection, Mapping

from volclone.backends.base import QosLimitable
from volclone.db.qos import QosSpecsRepo
from volclone.domain import (
    QOS_BURST_KEYS,
    QOS_BURST_LENGTH_KEYS,
    QOS_LIMIT_KEYS,
    Principal,
    QosConsumer,
    QosSpecs,
)
from volclone.errors import BadRequest, NotFound, VolcloneError
from volclone.service.volumes import Backends, VolumeTypeService

log = logging.getLogger(__name__)

CONSUMER_KEY = "consumer"
NAME_KEY = "name"
MAX_KEYS = 128
MAX_TEXT = 255
#: A limit past this is no limit any backend could tell from none (QEMU takes up to 1e15).
MAX_LIMIT = 10**15
#: Keys QEMU and libvirt refuse together: a total limit and its read or write one.
_EXCLUSIVE = (("total_iops_sec", ("read_iops_sec", "write_iops_sec")),
              ("total_bytes_sec", ("read_bytes_sec", "write_bytes_sec")))


def _consumer(value: object) -> QosConsumer:
    try:
        return QosConsumer(value)
    except ValueError:
        choices = ", ".join(c.value for c in QosConsumer)
        raise BadRequest(f"consumer must be one of {choices}, not {str(value)[:32]!r}") from None


def check_specs(specs: Mapping[str, str]) -> None:
    """400 for keys a backend can't enforce as given: the enforced keys are whole numbers (0: none);
    a burst (``*_max``) needs its rate and is at least as large; a total rate excludes its read and
    write rates (QEMU and libvirt refuse both at once)."""
    if len(specs) > MAX_KEYS:
        raise BadRequest(f"a QoS spec has at most {MAX_KEYS} keys")
    for key, value in specs.items():
        if not isinstance(value, str) or not key or len(key) > MAX_TEXT or len(value) > MAX_TEXT:
            raise BadRequest(f"QoS spec keys and values are strings of 1 to {MAX_TEXT} characters ({key[:32]!r})")
        if key in QOS_LIMIT_KEYS and not (value.isascii() and value.isdigit() and int(value) <= MAX_LIMIT):
            raise BadRequest(f"QoS spec key {key} must be a whole number from 0 to {MAX_LIMIT}, not {value[:32]!r}")

    def set_(key: str) -> int:
        return int(specs.get(key, "0"))

    for total, parts in _EXCLUSIVE:
        if set_(total) and any(set_(p) for p in parts):
            raise BadRequest(f"QoS spec key {total} can't be combined with {' or '.join(parts)}")
    for burst, length in zip(QOS_BURST_KEYS, QOS_BURST_LENGTH_KEYS, strict=True):
        rate = burst.removesuffix("_max")
        if set_(burst) and set_(burst) < set_(rate):
            raise BadRequest(f"QoS spec key {burst} must be at least {rate}")
        if set_(burst) and not set_(rate):
            raise BadRequest(f"QoS spec key {burst} needs {rate}")
        if set_(length) and not set_(burst):
            raise BadRequest(f"QoS spec key {length} needs {burst}")


class QosService:
    """Admin-only (the API checks Cinder's ``volume_extension:qos_specs_manage:*`` rules)."""

    def __init__(self, repo: QosSpecsRepo, types: VolumeTypeService, backends: Backends) -> None:
        self.repo = repo
        self.types = types
        self.backends = backends

    # -- the specs ---------------------------------------------------------------------
    def get(self, who: Principal, qos_id: str) -> QosSpecs:
        qos = self.repo.get(qos_id)
        if qos is None:
            raise NotFound(f"QoS spec {qos_id} could not be found")
        return qos

    def list(self, who: Principal) -> builtins.list[QosSpecs]:
        return self.repo.list()

    def create(self, who: Principal, name: str, specs: Mapping[str, str],
               consumer: str | None = None) -> QosSpecs:
        if not name or not name.strip():
            raise BadRequest("Please specify a name for QoS specs.")
        if len(name) > MAX_TEXT:
            raise BadRequest(f"a QoS spec's name is at most {MAX_TEXT} characters")
        check_specs(specs)
        qos = QosSpecs(id=str(uuid.uuid4()), name=name.strip(),
                       consumer=_consumer(consumer) if consumer is not None else QosConsumer.BACK_END,
                       specs=dict(specs))
        return self.repo.add(qos)

    def update(self, who: Principal, qos_id: str, changes: Mapping[str, str]) -> None:
        """Set keys (``consumer`` among them: who enforces the spec); applied to the volumes of
        its types at once."""
        qos = self.get(who, qos_id)
        changes = dict(changes)
        if NAME_KEY in changes:
            raise BadRequest("a QoS spec's name can't be changed")
        consumer = _consumer(changes.pop(CONSUMER_KEY)) if CONSUMER_KEY in changes else qos.consumer
        specs = {**qos.specs, **changes}
        check_specs(specs)
        updated = QosSpecs(id=qos.id, name=qos.name, consumer=consumer, specs=specs)
        self.repo.save(updated)
        self._push([t for t, _ in self.repo.types_of(qos_id)], updated.limits())

    def delete_keys(self, who: Principal, qos_id: str, keys: Collection[str]) -> None:
        """Remove keys (404 naming the first one it doesn't have; then nothing changes)."""
        qos = self.get(who, qos_id)
        missing = [k for k in keys if k not in qos.specs]
        if missing:
            raise NotFound(f"QoS spec {qos_id} has no key {str(missing[0])[:64]}")
        specs = {k: v for k, v in qos.specs.items() if k not in keys}
        check_specs(specs)  # removing a rate under its burst is refused
        updated = QosSpecs(id=qos.id, name=qos.name, consumer=qos.consumer, specs=specs)
        self.repo.save(updated)
        self._push([t for t, _ in self.repo.types_of(qos_id)], updated.limits())

    def delete(self, who: Principal, qos_id: str, force: bool = False) -> None:
        """Delete; refused (400) while types are associated, unless ``force`` (then they are first freed)."""
        self.get(who, qos_id)
        types = [t for t, _ in self.repo.types_of(qos_id)]
        if types and not force:
            raise BadRequest(f"QoS spec {qos_id} is still associated with volume types; disassociate them "
                             "first, or delete with force")
        freed = self.repo.disassociate(qos_id)
        self.repo.delete(qos_id)
        self._push(freed, {})

    # -- associations ------------------------------------------------------------------
    def associations(self, who: Principal, qos_id: str) -> builtins.list[tuple[str, str]]:
        """``(type id, type name)`` of the spec's volume types."""
        self.get(who, qos_id)
        return self.repo.types_of(qos_id)

    def associate(self, who: Principal, qos_id: str, type_id: str | None) -> None:
        """Associate the spec with a volume type (a type has at most one: 400 if it has another)."""
        qos = self.get(who, qos_id)
        vtype = self.types.get(self._type_id(type_id))
        current = self.repo.spec_of_type(vtype.id)
        if current == qos.id:
            return
        if current is not None:
            raise BadRequest(f"Type {vtype.id} is already associated with another qos specs: {current}")
        self.repo.associate(qos.id, vtype.id)
        self._push([vtype.id], qos.limits())

    def disassociate(self, who: Principal, qos_id: str, type_id: str | None) -> None:
        self.get(who, qos_id)
        vtype = self.types.get(self._type_id(type_id))
        self._push(self.repo.disassociate(qos_id, [vtype.id]), {})

    def disassociate_all(self, who: Principal, qos_id: str) -> None:
        self.get(who, qos_id)
        self._push(self.repo.disassociate(qos_id), {})

    @staticmethod
    def _type_id(type_id: str | None) -> str:
        if not type_id:
            raise BadRequest("Volume Type id must not be None.")
        return type_id

    # -- what volumes get ------------------------------------------------------------
    def spec_of_type(self, type_id: str) -> QosSpecs | None:
        """The spec associated with a volume type, if any."""
        qos_id = self.repo.spec_of_type(type_id)
        return self.repo.get(qos_id) if qos_id is not None else None

    def type_specs(self) -> dict[str, str]:
        """Volume type id -> its spec's id (a type's ``qos_specs_id``)."""
        return self.repo.all_associations()

    def _push(self, type_ids: Collection[str], limits: Mapping[str, int]) -> None:
        """Give every volume of these types ``limits`` on a backend that enforces them. A backend
        that fails is logged, not fatal: the limits are applied again whenever a volume is served."""
        for volume_id, backend in self.repo.volumes_of_types(type_ids):
            if backend not in self.backends.drivers or backend in self.backends.unavailable:
                continue
            try:
                driver = self.backends.get(backend)
                if isinstance(driver, QosLimitable):
                    driver.set_volume_qos(volume_id, limits)
            except VolcloneError as exc:
                log.warning("volume %s: its QoS limits could not be applied now (%s); they are when it is "
                            "next served", volume_id, exc.message)
