"""Multiattach through python-cinderclient against a real server: ``cinder attachment-create``
of a second server is refused for a volume that is not multiattach (Cinder's 400 and message)
and works for one of a type with ``multiattach="<is> True"``; ``cinder show`` says which."""

from __future__ import annotations

import uuid

from .test_cli_clients import table
from .test_quota_clients import cinder


def _volume(env, multiattach: bool) -> tuple[str, str | None]:
    """A new volume; of a new multiattach type when asked. Its id and the type's."""
    if not multiattach:
        return env.user.create_volume(1, "cli-single")["id"], None
    vtype = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": f"multi-{uuid.uuid4().hex[:8]}", "extra_specs": {"multiattach": "<is> True"}}})["volume_type"]
    made = table(cinder(env, env.user_token, "create", "--volume-type", vtype["name"], "--name", "cli-multi",
                        "1").stdout)
    return made["id"], vtype["id"]


def _attach_and_complete(env, vid: str) -> str:
    made = table(cinder(env, env.user_token, "attachment-create", vid, str(uuid.uuid4())).stdout)
    cinder(env, env.user_token, "attachment-complete", made["id"])
    return str(made["id"])


def _clean(env, vid: str, type_id: str | None, attachment_ids: list[str]) -> None:
    for aid in attachment_ids:
        cinder(env, env.user_token, "attachment-delete", aid)
    env.user.ok("DELETE", f"/volumes/{vid}")
    if type_id:
        env.admin.ok("DELETE", f"/types/{type_id}")


def test_cinder_refuses_a_second_server_for_a_volume_that_is_not_multiattach(env):
    vid, _ = _volume(env, multiattach=False)
    assert table(cinder(env, env.user_token, "show", vid).stdout)["multiattach"] == "False"
    first = _attach_and_complete(env, vid)
    refused = cinder(env, env.user_token, "attachment-create", vid, str(uuid.uuid4()), check=False)
    assert refused.returncode != 0
    assert "must be available to reserve, but the current status is in-use" in refused.stderr
    assert "(HTTP 400)" in refused.stderr
    listed = env.user.ok("GET", "/attachments", params={"volume_id": vid},
                         headers={"OpenStack-API-Version": "volume 3.27"})["attachments"]
    assert [a["id"] for a in listed] == [first]
    _clean(env, vid, None, [first])


def test_cinder_attaches_a_multiattach_volume_to_two_servers(env):
    vid, type_id = _volume(env, multiattach=True)
    assert table(cinder(env, env.user_token, "show", vid).stdout)["multiattach"] == "True"
    ids = [_attach_and_complete(env, vid), _attach_and_complete(env, vid)]
    shown = env.user.ok("GET", f"/volumes/{vid}")["volume"]
    assert shown["status"] == "in-use" and sorted(a["attachment_id"] for a in shown["attachments"]) == sorted(ids)
    _clean(env, vid, type_id, ids)
