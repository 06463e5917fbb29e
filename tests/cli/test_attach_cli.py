"""``volclone volume attach`` / ``detach``, run as the real console script against a real server."""

from __future__ import annotations

import json

import nbd

from conftest import Env

from .test_cli import Run, assert_error, cli_for, ok_json, ok_text


def test_attach_prints_the_uri_and_detach_ends_it(env: Env) -> None:
    cli: Run = cli_for(env)
    vol = ok_json(cli("volume", "create", "--size", "1", "--json"))
    out = cli("volume", "attach", vol["id"])
    uri = ok_text(out).strip()
    assert uri == f"nbd://127.0.0.1:{env.server.nbd_port}/{vol['id']}"
    attachment_id = out.stderr.split()[1]
    h = nbd.NBD()
    h.connect_uri(uri)
    assert not h.is_read_only()
    h.shutdown()
    shown = ok_json(cli("volume", "show", vol["id"], "--json"))
    assert shown["status"] == "in-use" and shown["attachments"][0]["attachment_id"] == attachment_id
    assert_error(cli("volume", "attach", vol["id"]), "Error (HTTP 400 badRequest)",
                 "must be available to reserve")  # not multiattach: another consumer is refused
    assert ok_text(cli("volume", "detach", attachment_id)).strip() == f"Detached attachment {attachment_id}"
    assert ok_json(cli("volume", "show", vol["id"], "--json"))["status"] == "available"
    ok_text(cli("volume", "delete", vol["id"]))


def test_attach_read_only_json(env: Env) -> None:
    cli = cli_for(env)
    vol = ok_json(cli("volume", "create", "--size", "1", "--json"))
    a = ok_json(cli("volume", "attach", vol["id"], "--mode", "ro", "--instance", "vm-1", "--json"))
    assert (a["attach_mode"], a["instance"], a["status"]) == ("ro", "vm-1", "attached")
    assert a["connection_info"]["data"]["access_mode"] == "ro"
    assert json.loads(cli("volume", "detach", a["id"], "--json").stdout) == {"detached": a["id"], "attachments": []}
    ok_text(cli("volume", "delete", vol["id"]))


def test_attach_and_detach_errors(env: Env) -> None:
    cli = cli_for(env)
    missing = "3f0e1c1e-0000-4000-8000-0000000000dd"
    assert_error(cli("volume", "attach", missing), "Error (HTTP 404 itemNotFound)", missing)
    assert_error(cli("volume", "detach", missing), "Error (HTTP 404 itemNotFound)", missing)
    r = cli("volume", "attach", missing, "--mode", "wx")
    assert r.returncode == 2 and "wx" in r.stderr
