"""``volclone backend add|list`` and a backend that cannot start."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from conftest import Server, free_port, make_token, run_cli
from contract.ceph import Cluster

from .conftest import BACKEND, POOL, RbdEnv


def test_backend_list_shows_local_and_the_added_backend(rbd_env: RbdEnv) -> None:
    data = rbd_env.server.data_dir
    out = run_cli(data, "backend", "list").stdout.splitlines()
    assert out[0].split()[:2] == ["local", "local"]
    assert out[1].split()[:2] == [BACKEND, "rbd"] and f"pool={POOL}" in out[1]
    listed = json.loads(run_cli(data, "backend", "list", "--json").stdout)
    assert listed[1] == {"name": BACKEND, "driver": "rbd", "options": {"conf": rbd_env.conf, "pool": POOL}}


def test_backend_add_refuses_what_cannot_work(tmp_path: Path, ceph_cluster: Cluster, api_pool: Any) -> None:
    def add(name: str, *args: str) -> Any:
        return run_cli(tmp_path, "backend", "add", name, *args, check=False)

    ok = ("--driver", "rbd", "-o", f"conf={ceph_cluster.conf}", "--option", f"pool={POOL}")
    assert add("ceph", *ok).returncode == 0
    cases = {
        "a name taken": (add("ceph", *ok), "exists already"),
        "the built-in": (add("local", *ok), "exists already"),
        "a bad name": (add("a b", *ok), "backend name"),
        "an unknown driver": (add("x", "--driver", "nfs", "-o", f"conf={ceph_cluster.conf}", "-o", f"pool={POOL}"),
                              "unknown backend driver 'nfs'; known: rbd"),
        "no conf file": (add("x", "--driver", "rbd", "-o", f"conf={tmp_path / 'none.conf'}", "-o", f"pool={POOL}"),
                         "does not exist"),
        "no pool given": (add("x", "--driver", "rbd", "-o", f"conf={ceph_cluster.conf}"), "needs the option pool"),
        "an option it does not take": (add("x", *ok, "-o", "colour=blue"), "refused its options"),
        "an option given twice": (add("x", *ok, "-o", "pool=other"), "given twice"),
        "not KEY=VALUE": (add("x", *ok, "-o", "pool"), "is not KEY=VALUE"),
        "no such pool": (add("x", "--driver", "rbd", "-o", f"conf={ceph_cluster.conf}", "-o", "pool=no-such-pool"),
                         "no-such-pool"),
    }
    for case, (r, message) in cases.items():
        assert r.returncode != 0 and message in r.stderr, (case, r.stderr)
    names = [b["name"] for b in json.loads(run_cli(tmp_path, "backend", "list", "--json").stdout)]
    assert names == ["local", "ceph"]
    # --no-check records it without connecting (a cluster that is down now).
    assert add("later", *ok[:-1], "pool=no-such-pool", "--no-check").returncode == 0


def test_a_backend_that_cannot_start_is_503_and_the_rest_works(tmp_path: Path, ceph_cluster: Cluster,
                                                                api_pool: Any) -> None:
    conf = tmp_path / "ceph.conf"
    shutil.copy(ceph_cluster.conf, conf)
    admin_token = make_token(tmp_path, "admin", admin=True)
    run_cli(tmp_path, "backend", "add", "gone", "--driver", "rbd", "-o", f"conf={conf}", "-o", f"pool={POOL}")
    server = Server(tmp_path, free_port())
    server.start()
    try:
        api = server.client(admin_token, "p1")
        gone = api.ok("POST", "/types", json={"volume_type": {
            "name": "gone", "extra_specs": {"volume_backend_name": "gone"}}})["volume_type"]["id"]
        kept = api.create_volume(1, "kept", volume_type=gone)["id"]
        server.stop()
        conf.unlink()  # the cluster's configuration is gone: the driver cannot start
        server.start()
        assert "backend gone did not start" in server.log()

        r = api.request("POST", "/volumes", json={"volume": {"size": 1, "volume_type": gone}})
        assert r.status_code == 503 and "backend gone is unavailable" in r.json()["serviceUnavailable"]["message"]
        assert api.request("DELETE", f"/volumes/{kept}").status_code == 503
        assert api.request("POST", "/clone-volumes", json={"clone-volumes": {"volumes": [kept]}}).status_code == 503
        assert api.ok("GET", f"/volumes/{kept}")["volume"]["status"] == "available"
        local = api.create_volume(1, "local")["id"]  # the rest works on
        p = api.wait(api.clone([local]))
        assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p

        server.stop()
        shutil.copy(ceph_cluster.conf, conf)  # back: the next start picks it up
        server.start()
        assert api.request("DELETE", f"/volumes/{kept}").status_code == 202
    finally:
        server.stop()
