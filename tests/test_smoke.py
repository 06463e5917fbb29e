def test_clone_two_volumes_end_to_end(env):
    a = env.user.create_volume(1, "a")
    b = env.user.create_volume(1, "b")
    task = env.user.clone([a["id"], b["id"]], **{"display-name": "demo"})
    p = env.user.wait(task)
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}
    assert set(p["details"]["results"]) == {a["id"], b["id"]}
    names = {env.user.ok("GET", f"/volumes/{c}")["volume"]["name"] for c in p["details"]["results"].values()}
    assert names == {"clone-demo-1", "clone-demo-2"}
