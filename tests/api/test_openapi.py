"""/openapi.json documents what the server does, and schemathesis holds the server to it.

The document tests read the document a real server serves. The two schemathesis runs (a project's
token on its own project; an admin's token on project ids schemathesis makes up) each get a server
of their own, are bounded by a number of examples per operation and a time budget, and must find
no server error and no answer the document does not describe: status, headers and body.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from volclone.api import views
from volclone.domain import Volume, VolumeStatus

from .support import assert_fault

ST = str(Path(sys.executable).parent / "st")
METHODS = {"get", "put", "post", "delete", "patch"}
#: What schemathesis checks (``st run --checks``). Left out: positive_data_acceptance and
#: negative_data_rejection, which ask the request schemas to be exactly as strict as the server
#: (the service checks more than a JSON schema says, e.g. volume ids that exist).
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance,unsupported_method,allow_header_conformance,missing_required_header,"
          "ignored_auth")
#: Bounds of one run: test cases per operation and phase, and seconds for the whole run (a bound,
#: not a measure: at 30 s a loaded two-core machine left 1 to 3 of the 128 operations untested).
MAX_EXAMPLES = 15
MAX_SECONDS = 45
PROGRESS = "/v3/{project_id}/clone-volumes/get_progress"


@pytest.fixture(scope="module")
def doc(env: Any) -> dict[str, Any]:
    r = httpx.get(f"{env.server.url}/openapi.json", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items() if m in METHODS]


def project_operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [o for o in operations(doc) if o[1].startswith("/v3/{project_id}/")]


def params(op: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in op.get("parameters", []) if p["in"] == where}


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


# -- the document ---------------------------------------------------------------------
def test_every_path_parameter_is_declared(doc):
    for method, path, op in operations(doc):
        assert set(params(op, "path")) == set(re.findall(r"{(\w+)}", path)), f"{method} {path}"
        assert all(p["required"] for p in params(op, "path").values()), f"{method} {path}"


def test_the_types_operations_take_the_project_id(doc):
    types = [o for o in operations(doc) if o[1].startswith("/v3/{project_id}/types")]
    assert len(types) == 18  # 5 of them a type's encryption
    for method, path, op in types:
        assert "project_id" in params(op, "path"), f"{method} {path}"


def test_get_progress_documents_action_and_task_id(doc):
    q = params(doc["paths"]["/v3/{project_id}/clone-volumes/get_progress"]["get"], "query")
    # clone-volumes (the spec's), and clone-volumes-revert for a revert in place's task (an extension)
    assert q["action"]["required"] and q["action"]["schema"]["enum"] == ["clone-volumes", "clone-volumes-revert"]
    assert q["task_id"]["required"] and q["task_id"]["schema"]["minLength"] == 1


def test_get_progress_documents_its_event_stream(doc):
    responses = doc["paths"][PROGRESS]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
    assert "'end' with exactly the application/json body" in responses["200"]["content"]["text/event-stream"][
        "schema"]["description"]
    assert "Retry-After" in responses["503"]["headers"] and "VOLCLONE_MAX_EVENT_STREAMS" in responses["503"][
        "description"]
    assert "Last-Event-ID: end" in responses["204"]["description"]


def test_the_list_filters_are_documented(doc):
    for path in ("/v3/{project_id}/volumes", "/v3/{project_id}/volumes/detail"):
        assert set(params(doc["paths"][path]["get"], "query")) == {
            "name", "status", "metadata", "volume_type", "bootable", "availability_zone", "group_id",
            "migration_status", "name~", "description~", "sort", "sort_key", "sort_dir", "marker", "limit", "offset",
            "with_count", "all_tenants"}
    for path in ("/v3/{project_id}/attachments", "/v3/{project_id}/attachments/detail"):
        assert set(params(doc["paths"][path]["get"], "query")) == {
            "volume_id", "instance_id", "status", "attach_status", "all_tenants", "limit", "marker", "offset", "sort",
            "sort_key", "sort_dir"}


def test_every_list_documents_a_limit_that_is_cut_not_refused(doc):
    lists = [f"/v3/{{project_id}}/{c}{d}" for c in ("volumes", "snapshots", "groups", "attachments")
             for d in ("", "/detail")] + ["/v3/{project_id}/group_types", "/v3/{project_id}/group_snapshots"]
    for path in lists:
        query = params(doc["paths"][path]["get"], "query")
        assert {"limit", "marker", "offset"} <= set(query), path
        assert "maximum" not in query["limit"]["schema"], path  # above 1000 is 1000 (page_params)


def test_the_token_and_the_microversion_headers_are_documented(doc):
    scheme = doc["components"]["securitySchemes"]["keystoneToken"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    for method, path, op in project_operations(doc):
        assert op["security"] == [{"keystoneToken": []}], f"{method} {path}"
        assert "OpenStack-API-Version" in params(op, "header"), f"{method} {path}"
        for status, r in op["responses"].items():
            if int(status) < 400:
                assert r["headers"]["OpenStack-API-Version"]["required"], f"{method} {path} {status}"
    for path in ("/", "/v3", "/v3/"):
        assert "security" not in doc["paths"][path]["get"]


def test_every_project_operation_documents_its_faults_in_the_openstack_format(doc):
    names = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 406: "notAcceptable",
             409: "conflictingRequest", 413: "overLimit"}
    for method, path, op in project_operations(doc):
        statuses = {int(s) for s in op["responses"]}
        expected = {400, 401, 403, 404, 406} | ({409} if method != "GET" else set()) | (
            {413} if "requestBody" in op else set())
        assert expected <= statuses, f"{method} {path}: {sorted(statuses)}"
        assert 422 not in statuses, f"{method} {path}"
        for status in expected:
            schema = resolve(doc, op["responses"][str(status)]["content"]["application/json"]["schema"])
            name = names[status]
            assert schema["required"] == [name] and schema["additionalProperties"] is False, schema
            detail = schema["properties"][name]
            assert detail["properties"]["code"]["const"] == status
            assert set(detail["required"]) == {"code", "message"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]


#: Cinder's group update answers 202 and no body (Tempest's update_group schema).
GROUP = "/v3/{project_id}/groups/{group_id}"


def test_the_operations_that_reach_a_backend_document_its_503(doc):
    reach = [(m, p) for m, p, op in project_operations(doc) if "503" in op["responses"] and p != PROGRESS]
    assert ("POST", "/v3/{project_id}/volumes") in reach and ("POST", "/v3/{project_id}/clone-volumes") in reach
    assert ("POST", "/v3/{project_id}/snapshots") in reach  # and a snapshot's delete and actions
    assert ("POST", "/v3/{project_id}/clone-volumes/revert") in reach
    assert ("POST", "/v3/{project_id}/groups/{group_id}/action") in reach  # a group's delete (delete-volumes)
    assert len(reach) == 13 and all(m != "GET" for m, _ in reach), reach
    schema = resolve(doc, doc["paths"]["/v3/{project_id}/volumes"]["post"]["responses"]["503"]["content"][
        "application/json"]["schema"])
    assert schema["required"] == ["serviceUnavailable"]



def test_the_operations_that_make_data_document_a_full_backend(doc):
    full = {(m, p) for m, p, op in project_operations(doc) if "507" in op["responses"]}
    assert full == {("POST", "/v3/{project_id}/volumes"), ("POST", "/v3/{project_id}/clone-volumes"),
                    ("POST", "/v3/{project_id}/volumes/{volume_id}/action"), ("POST", "/v3/{project_id}/snapshots")}
    schema = resolve(doc, doc["paths"]["/v3/{project_id}/volumes"]["post"]["responses"]["507"]["content"][
        "application/json"]["schema"])
    assert schema["required"] == ["insufficientStorage"]


def test_every_success_body_has_a_schema(doc):
    for method, path, op in operations(doc):
        ok = {int(s): r for s, r in op["responses"].items() if int(s) < 400}
        assert ok, f"{method} {path}"
        for status, r in ok.items():
            if "content" in r:
                schema = resolve(doc, r["content"]["application/json"]["schema"])
                assert schema.get("type") == "object" and schema.get("properties") or schema.get(
                    "additionalProperties"), f"{method} {path} {status}: {schema}"
            else:  # an empty body, as the server sends it (and Cinder's QoS calls: GETs and a PUT that answer 202)
                assert (method, status) in {("DELETE", 200), ("DELETE", 202), ("DELETE", 204), ("POST", 202),
                                            ("POST", 204)} or (
                    method, path, status) == ("GET", PROGRESS, 204) or (
                    path.startswith("/v3/{project_id}/qos-specs/") and status == 202) or (
                    method, status) == ("PUT", 202) or (  # Cinder's freeze and thaw: an empty 200
                    method, status) == ("PUT", 200) and path.startswith("/v3/{project_id}/os-services/"), path
    assert set(doc["paths"]["/"]["get"]["responses"]) == {"300"}


def test_the_volume_schema_names_every_field_the_server_sends(env, doc):
    volume = doc["components"]["schemas"]["Volume"]
    # Everything a record can hold, at any microversion, for a caller every field rule allows.
    everything = views.VolumeShape((9, 99), admin=True, attachment_hosts=True, tenant_attribute=True,
                                   host_attribute=True, mig_status_attribute=True)
    fake = Volume(id="v", project_id="p", name=None, description=None, size=1, status=VolumeStatus.AVAILABLE,
                  volume_type_id="t", backend="local")
    assert set(views.volume("http://h", fake, "t", everything)) == set(volume["properties"])
    vol = env.user.create_volume(1, "openapi-doc")
    try:
        # What every caller gets at 3.0, in a create's answer, is what the schema requires.
        assert set(volume["required"]) == set(vol)
        assert set(env.admin.ok("GET", f"/volumes/{vol['id']}")["volume"]) <= set(volume["properties"])
    finally:
        env.user.ok("DELETE", f"/volumes/{vol['id']}")


def test_a_dry_runs_plan_is_the_documented_one(env, doc):
    """Every field of the plan is documented, and the server sends it as documented."""
    vol = env.user.create_volume(1, "openapi-plan")
    try:
        r = env.user.request("POST", "/clone-volumes?dry_run=true", json={"clone-volumes": {"volumes": [vol["id"]]}})
        assert r.status_code == 200, r.text
        answer = doc["paths"]["/v3/{project_id}/clone-volumes"]["post"]["responses"]["200"]
        schema = {**answer["content"]["application/json"]["schema"], "components": doc["components"]}
        jsonschema.Draft202012Validator(schema).validate(r.json())
        with pytest.raises(jsonschema.ValidationError):  # and the schema is no empty check
            jsonschema.Draft202012Validator(schema).validate({"clone-volumes": {"plan": {"clones": []}}})
        dry_run = params(doc["paths"]["/v3/{project_id}/clone-volumes"]["post"], "query")["dry_run"]
        assert "true" in dry_run["description"]
    finally:
        env.user.ok("DELETE", f"/volumes/{vol['id']}")


def test_the_links_name_real_operations_and_their_path_parameters(env, doc):
    by_id = {op["operationId"]: (path, op) for _, path, op in operations(doc)}
    links = [(path, link) for _, path, op in operations(doc) for r in op["responses"].values()
             for link in r.get("links", {}).values()]
    assert len(links) == 23  # 7 volume, 7 type, 4 attachment, 5 snapshot links
    for _, link in links:
        _, target = by_id[link["operationId"]]
        assert set(link["parameters"]) == set(params(target, "path")), link
    # The volume link's pointer finds the id in a real answer, and the id serves the linked operation.
    vol = env.user.ok("POST", "/volumes", json={"volume": {"size": 1}})
    try:
        (link,) = [link for p, link in links if p == "/v3/{project_id}/volumes" and
                   by_id[link["operationId"]][0] == "/v3/{project_id}/volumes/{volume_id}/metadata"
                   and link["operationId"].endswith("_get")]
        pointer = link["parameters"]["volume_id"].removeprefix("$response.body#")
        vid = vol
        for part in pointer.strip("/").split("/"):
            vid = vid[part]
        assert env.user.ok("GET", f"/volumes/{vid}/metadata") == {"metadata": {}}
    finally:
        env.user.ok("DELETE", f"/volumes/{vol['volume']['id']}")


# -- 405 ------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, allow", [
    ("PATCH", "/volumes", "GET, POST"),
    ("OPTIONS", "/volumes/detail", "GET"),
    ("PATCH", "/volumes/00000000-0000-0000-0000-000000000000", "DELETE, GET, PUT"),
    ("GET", "/clone-volumes", "POST"),
    ("DELETE", "/types/x/extra_specs", "GET, POST"),
    # One resource, though Cinder's show names a key and its update and delete an id (schemathesis found it).
    ("OPTIONS", "/types/x/encryption/provider", "DELETE, GET, PUT"),
])
def test_a_405_says_which_methods_the_resource_has(env, method, path, allow):
    r = env.user.request(method, path)
    assert_fault(r, 405, method)
    assert r.headers["allow"] == allow


def test_a_405_outside_a_project_says_allow_too(env):
    r = httpx.post(f"{env.server.url}/v3/", timeout=30)
    assert_fault(r, 405)
    assert r.headers["allow"] == "GET"


# -- schemathesis -----------------------------------------------------------------------
def run_schemathesis(server: Any, token: str, workdir: Path, config_toml: str = "") -> None:
    """``st run`` against ``server``'s document; fails with schemathesis's report of what it found."""
    config = workdir / "schemathesis.toml"
    config.write_text(config_toml)
    cmd = [ST, "--config-file", str(config), "run", f"{server.url}/openapi.json", "--url", server.url,
           "-H", f"X-Auth-Token: {token}", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
           "--max-time", str(MAX_SECONDS), "--workers", "1", "--request-timeout", "30",
           "--generation-database", "none", "--no-color"]
    out = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=MAX_SECONDS + 120)
    report = out.stdout + out.stderr
    (workdir / "schemathesis.log").write_text(report)
    failures = report[report.find("= FAILURES") if "= FAILURES" in report else max(0, len(report) - 6000):]
    assert out.returncode == 0, f"schemathesis found what the document does not describe:\n{failures[-20000:]}"
    # An error is a test case that could not run to its end (e.g. the connection broke): no pass either.
    assert "= ERRORS" not in report and " errored" not in report, report[report.find("= ERRORS"):][-20000:]
    tested = re.search(r"Tested: (\d+)", report)
    assert tested and int(tested.group(1)) == len(operations(httpx.get(f"{server.url}/openapi.json").json())), \
        report[-3000:]


def test_schemathesis_with_a_project_token_on_its_project(make_env, tmp_path):
    """On project p1, with real volumes and a real clone task in the ids it draws from, so that
    clones, attachments and get_progress answer more than 404s."""
    e = make_env()
    volumes = [e.user.create_volume(1, f"st-{i}")["id"] for i in range(5)]
    task = e.user.wait(e.user.clone(volumes[:1]))["task_id"]
    run_schemathesis(e.server, e.user_token, tmp_path, f"""
[dictionaries.volumes]
values = {json.dumps(volumes)}
[dictionaries.tasks]
values = ["{task}"]
[parameters]
"path.project_id" = "p1"
"query.task_id" = {{ dictionary = "tasks", probability = 0.9 }}
"body.clone-volumes.volumes[*]" = {{ dictionary = "volumes", probability = 0.9 }}
"body.attachment.volume_uuid" = {{ dictionary = "volumes", probability = 0.9 }}
""")


def test_schemathesis_with_an_admin_token_on_any_project(make_env, tmp_path):
    e = make_env()
    run_schemathesis(e.server, e.admin_token, tmp_path)
