"""Who may share a volume: Cinder's multiattach rules, as pure checks on a :class:`Volume`.

A volume is multiattach when its type has ``multiattach="<is> True"`` (the flag is set at create
and follows the type on retype). The rules, as Cinder applies them:

* a new attachment (``POST /attachments``, Cinder's ``_attachment_reserve``) needs the volume
  ``available``, or ``in-use`` too when it is multiattach; otherwise it is refused (400
  ``InvalidVolume``), except for an instance that already has an attachment of a volume that is
  ``in-use`` or ``reserved`` (``attaching`` too here: volclone's status for a reservation that
  came with a connector), which is how Nova live-migrates a server (LP #1694530)::

      >>> from collections.abc import Callable

from volclone.domain import Principal, Volume, VolumeStatus

#: How a service checks one more policy rule that only its own lookups can tell (the rule, the
#: caller, the project acted on): :meth:`volclone.service.policy.Policy.authorize`, 403 if refused.
Authorize = Callable[[str, Principal, str], None]

#: Cinder's rule for making a multiattach volume: a create of a multiattach type, or a retype to one.
CREATE_RULE = "volume:multiattach"
#: Cinder's rule for another attachment of a bootable multiattach volume that is ``in-use``.
BOOTABLE_RULE = "volume:multiattach_bootable_volume"
      >>> vol = Volume("v1", "p", None, None, 1, VolumeStatus.AVAILABLE, "t", "b")
      >>> reserve_refusal(vol, "server-1") is None
      True

* an attachment of another instance never joins those of a volume that is not multiattach, on
  the older volume actions' path as well (``os-initialize_connection``/``os-attach`` learn the
  instance late, so only two known instances that differ are a conflict there);
* a retype that changes whether the volume is multiattach needs it ``available`` (400);
* two policy rules of Cinder's: making a multiattach volume (a create of a multiattach type, or a
  retype to one) needs :data:`CREATE_RULE`, and one more attachment of a bootable multiattach
  volume that is ``in-use`` needs :data:`BOOTABLE_RULE` (both admin or project member by
  default; an operator narrows them in ``policy.yaml``, 403 then).

The attachments of one instance, or of a multiattach volume, share the volume's one export; how
they may mix modes is :func:`volclone.domain.mode_conflict`'s rule.
"""

from __future__ import annotations

from collections.abc import Callable

from volclone.domain import Principal, Volume, VolumeStatus

#: How a service checks one more policy rule that only its own lookups can tell (the rule, the
#: caller, the project acted on): :meth:`volclone.service.policy.Policy.authorize`, 403 if refused.
Authorize = Callable[[str, Principal, str], None]
#: Cinder's rule for making a multiattach volume: a create of a multiattach type, or a retype to one.
CREATE_RULE = "volume:multiattach"
#: Cinder's rule for another attachment of a bootable multiattach volume that is ``in-use``.
BOOTABLE_RULE = "volume:multiattach_bootable_volume"

#: Where ``POST /attachments`` may reserve a volume, by its ``multiattach`` flag (Cinder's).
RESERVABLE = {False: (VolumeStatus.AVAILABLE,), True: (VolumeStatus.AVAILABLE, VolumeStatus.IN_USE)}
#: Where an instance with an attachment already may get another (live migration).
SAME_INSTANCE_RESERVABLE = frozenset({VolumeStatus.IN_USE, VolumeStatus.RESERVED, VolumeStatus.ATTACHING})


def reserve_refusal(vol: Volume, instance_uuid: str | None) -> str | None:
    """Why ``POST /attachments`` can't reserve ``vol`` for ``instance_uuid``, or None if it can."""
    allowed = RESERVABLE[vol.multiattach]
    if vol.status in allowed:
        return None
    if instance_uuid and vol.status in SAME_INSTANCE_RESERVABLE \
            and any(a.instance_uuid == instance_uuid for a in vol.attachments):
        return None
    return (f"Volume {vol.id} status must be {' or '.join(s.value for s in allowed)} to reserve, "
            f"but the current status is {vol.status.value}.")


def other_instance_refusal(vol: Volume, instance_uuid: str | None, ignore: str | None = None) -> str | None:
    """Why ``instance_uuid`` can't join the attachments of ``vol`` (but ``ignore``), or None:
    a volume that is not multiattach is attached to one instance at a time."""
    if vol.multiattach or instance_uuid is None:
        return None
    others = sorted({a.instance_uuid for a in vol.attachments
                     if a.id != ignore and a.instance_uuid not in (None, instance_uuid)})
    if not others:
        return None
    return (f"Volume {vol.id} is attached to instance {others[0]} and is not multiattach; it can't be "
            f"attached to instance {instance_uuid} too (use a volume type with multiattach=\"<is> True\")")


def shares_export(vol: Volume, instance_uuid: str | None) -> bool:
    """Whether a new attachment for ``instance_uuid`` may join the volume's existing ones in
    the same mode: the volume is multiattach, or they all are that instance's."""
    if vol.multiattach:
        return True
    return instance_uuid is not None and all(a.instance_uuid == instance_uuid for a in vol.attachments)


def retype_refusal(vol: Volume, to_multiattach: bool) -> str | None:
    """Why ``vol`` can't be retyped to a type whose multiattach flag is ``to_multiattach``, or None."""
    if to_multiattach == vol.multiattach or vol.status is VolumeStatus.AVAILABLE:
        return None
    return ("Invalid volume_type passed, retypes affecting multiattach are only allowed on available "
            f"volumes; volume {vol.id} is {vol.status.value}.")


def attach_rule(vol: Volume) -> str | None:
    """The policy rule a new attachment of ``vol`` needs besides ``volume:attachment_create``, or
    None: :data:`BOOTABLE_RULE` once a bootable multiattach volume is ``in-use`` (Cinder's
    ``_attachment_reserve`` checks it first of all)."""
    if vol.multiattach and vol.bootable and vol.status is VolumeStatus.IN_USE:
        return BOOTABLE_RULE
    return None
