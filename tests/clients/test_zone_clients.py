"""The real clients' availability zone and extension lists against a real server:
``cinder availability-zone-list`` and ``list-extensions``, ``openstack availability zone list
--volume`` and ``openstack extension list --volume``, and openstacksdk's ``availability_zones()``
and ``extensions()``."""

from __future__ import annotations

from .test_action_clients import openstack
from .test_quota_clients import cinder
from .test_service_clients import rows


def test_cinder_availability_zones_and_extensions(env):
    header, *zones = rows(cinder(env, env.user_token, "availability-zone-list").stdout)
    assert [(z[header.index("Name")], z[header.index("Status")]) for z in zones] == [("nova", "available")]
    header, *extensions = rows(cinder(env, env.user_token, "list-extensions").stdout)
    assert {"os-availability-zone", "os-volume-type-access"} <= {e[header.index("Alias")] for e in extensions}


def test_openstack_availability_zones_and_extensions(env):
    header, *zones = rows(openstack(env, env.user_token, "availability", "zone", "list", "--volume").stdout)
    assert [z[header.index("Zone Name")] for z in zones] == ["nova"]
    header, *extensions = rows(openstack(env, env.user_token, "extension", "list", "--volume").stdout)
    assert "os-quota-sets" in {e[header.index("Alias")] for e in extensions}


def test_openstacksdk_availability_zones_and_extensions(env):
    from api.test_openstacksdk import connect

    bs = connect(env.server, env.user_token).block_storage
    assert [(z.name, z.state) for z in bs.availability_zones()] == [("nova", {"available": True})]
    assert "AvailabilityZones" in {e.name for e in bs.extensions()}
