"""A volume made through Keystone shows the creating user's Keystone id as its ``user_id``
(Tempest's schemas want a string there), through a real ``volclone serve`` with
``VOLCLONE_AUTH=keystone``."""

from __future__ import annotations

from conftest import Server

from .conftest import Cloud


def keystone_user_id(cloud: Cloud, name: str) -> str:
    r = cloud.admin.get("/users", params={"name": name})
    assert r.status_code == 200, r.text
    [user] = r.json()["users"]
    return str(user["id"])


def test_a_volume_shows_the_keystone_user_who_made_it(cloud: Cloud, server: Server):
    project = cloud.projects["proj-a"]
    bob = server.client(cloud.token("bob", "proj-a"), project)
    vol = bob.create_volume(1, name="ks-user-id")
    try:
        bob_id = keystone_user_id(cloud, "bob")
        assert vol["user_id"] == bob_id
        # Another user of the project (a reader) sees the maker, not itself.
        carol = server.client(cloud.token("carol", "proj-a"), project)
        assert carol.ok("GET", f"/volumes/{vol['id']}")["volume"]["user_id"] == bob_id
        assert bob_id != keystone_user_id(cloud, "carol")
    finally:
        bob.ok("DELETE", f"/volumes/{vol['id']}")
