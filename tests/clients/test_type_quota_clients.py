"""Per-volume-type quotas through python-cinderclient, against a server of its own:
``quota-update --volume-type T --volumes N P`` (it sends ``volumes_T``), ``quota-show``,
``quota-usage``. (``openstack quota set --volume-type`` looks the project up in Keystone: it runs
against the real one in ``tests/keystone/test_openstack_cli.py``.)
"""

from __future__ import annotations

import uuid

from conftest import make_token

from .test_cli_clients import table
from .test_quota_clients import cinder


def test_per_type_quotas_set_shown_and_enforced_by_cinder(make_env):
    env = make_env()
    gold = f"gold{uuid.uuid4().hex[:6]}"
    env.admin.ok("POST", "/types", json={"volume_type": {"name": gold}})
    p_cinder = f"tq-{uuid.uuid4().hex[:8]}"

    updated = table(cinder(env, env.admin_token, "quota-update", "--volume-type", gold, "--volumes", "1",
                           p_cinder).stdout)
    assert updated[f"volumes_{gold}"] == "1" and updated["volumes"] == "-1"
    shown = table(cinder(env, env.admin_token, "quota-show", p_cinder).stdout)
    assert (shown[f"volumes_{gold}"], shown[f"gigabytes_{gold}"], shown["volumes___DEFAULT__"]) == ("1", "-1", "-1")

    user = env.server.client(make_token(env.server.data_dir, p_cinder), p_cinder)
    user.ok("POST", "/volumes", json={"volume": {"size": 1, "volume_type": gold}})
    r = user.request("POST", "/volumes", json={"volume": {"size": 1, "volume_type": gold}})
    assert r.status_code == 413, r.text
    assert r.json()["overLimit"]["message"] == \
        f"VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes_{gold}'."
    assert [v["volume_type"] for v in user.ok("GET", "/volumes/detail")["volumes"]] == [gold]  # nothing made
    user.ok("POST", "/volumes", json={"volume": {"size": 1}})  # another type: not limited
    rows = {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip().strip("|").split("|")]
                                              for line in cinder(env, env.admin_token, "quota-usage",
                                                                 p_cinder).stdout.splitlines()
                                              if line.startswith("| "))}
    assert rows[f"volumes_{gold}"] == ["1", "0", "1", "0"]  # In_use, Reserved, Limit, Allocated
