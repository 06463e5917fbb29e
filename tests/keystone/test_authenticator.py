"""``KeystoneAuthenticator`` in process against the real Keystone: what reaches the Principal,
and the cache's bounds (a clock the test moves; Keystone keeps its own, real one)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from volclone.auth.keystone import KeystoneAuthenticator, identity_v3
from volclone.domain import Principal
from volclone.errors import IdentityUnavailable, Unauthorized

from .conftest import SERVICE_PASSWORD, SERVICE_PROJECT, SERVICE_USER, Cloud, Keystone, free_port


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def authenticator(url: str, clock: Clock | None = None, password: str = SERVICE_PASSWORD,
                  **kw: float) -> KeystoneAuthenticator:
    return KeystoneAuthenticator(url, SERVICE_USER, password, SERVICE_PROJECT, clock=clock or time.time,
                                 **kw)


def revoke(cloud: Cloud, token: str) -> None:
    assert cloud.admin.delete("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 204


def test_project_and_roles_reach_the_principal(cloud: Cloud):
    auth = authenticator(cloud.keystone.url)
    a = cloud.projects["proj-a"]
    ids = {u["name"]: u["id"] for u in cloud.admin.get("/users").json()["users"]}
    alice = auth.authenticate(cloud.token("alice", "proj-a"))
    # Keystone's bootstrap makes admin imply member, and member imply reader.
    assert alice == Principal(a, is_admin=True, roles=alice.roles, user_id=ids["alice"])
    assert {"admin", "member", "reader"} <= alice.roles
    bob = auth.authenticate(cloud.token("bob", "proj-a"))
    assert bob == Principal(a, is_admin=False, roles=bob.roles, user_id=ids["bob"])
    assert {"member", "reader"} <= bob.roles and "admin" not in bob.roles
    assert auth.authenticate(cloud.token("carol", "proj-a")) == Principal(a, False, frozenset({"reader"}), ids["carol"])
    assert auth.authenticate(cloud.token("dave", "proj-b")).project_id == cloud.projects["proj-b"]


def test_a_validated_token_is_trusted_for_cache_s_then_asked_again(cloud: Cloud):
    clock = Clock()
    auth = authenticator(cloud.keystone.url, clock, cache_s=60)
    token = cloud.token("bob", "proj-a")
    who = auth.authenticate(token)
    revoke(cloud, token)
    clock.now += 59.9
    assert auth.authenticate(token) == who  # from the cache: Keystone would refuse it now
    clock.now += 0.2
    with pytest.raises(Unauthorized, match="not valid"):
        auth.authenticate(token)  # past cache_s: Keystone is asked, and refuses the revoked token
    clock.now -= 30
    with pytest.raises(Unauthorized):
        auth.authenticate(token)  # a refusal is not cached, and the entry is gone


def test_no_cache_when_cache_s_is_zero(cloud: Cloud):
    auth = authenticator(cloud.keystone.url, Clock(), cache_s=0)
    token = cloud.token("bob", "proj-a")
    auth.authenticate(token)
    revoke(cloud, token)
    with pytest.raises(Unauthorized):
        auth.authenticate(token)


def test_the_cache_is_bounded_in_size(cloud: Cloud):
    auth = authenticator(cloud.keystone.url, Clock(), cache_s=60, cache_size=1)
    first, second = cloud.token("bob", "proj-a"), cloud.token("carol", "proj-a")
    auth.authenticate(first)
    auth.authenticate(second)  # pushes ``first`` out
    revoke(cloud, first)
    revoke(cloud, second)
    assert auth.authenticate(second).roles == frozenset({"reader"})  # still cached
    with pytest.raises(Unauthorized):
        auth.authenticate(first)  # evicted, asked again, refused


def test_a_cached_token_is_not_trusted_past_its_expiry(cloud: Cloud, short_keystone: Keystone):
    clock = Clock()
    auth = authenticator(cloud.keystone.url, clock, cache_s=3600)
    token = short_keystone.issue("bob", "proj-a")
    body = cloud.admin.get("/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]
    expires_at = datetime.fromisoformat(body["expires_at"]).timestamp()
    clock.now = expires_at - 1
    who = auth.authenticate(token)  # valid: Keystone's real clock is before expires_at
    deadline = time.monotonic() + 60
    while cloud.admin.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code != 404:
        assert time.monotonic() < deadline, "Keystone did not expire the token"
        time.sleep(0.2)
    clock.now = expires_at - 0.01
    assert auth.authenticate(token) == who  # cached, though Keystone refuses it by now
    clock.now = expires_at + 0.01
    with pytest.raises(Unauthorized):
        auth.authenticate(token)  # the cache ends at expires_at, well before cache_s


def test_keystone_unreachable_or_refusing_volclone_is_identity_unavailable(cloud: Cloud):
    token = cloud.token("bob", "proj-a")
    with pytest.raises(IdentityUnavailable):
        authenticator(f"http://127.0.0.1:{free_port()}/v3").authenticate(token)
    # volclone's own service credentials refused: no one can be authenticated (503, not 401).
    with pytest.raises(IdentityUnavailable):
        authenticator(cloud.keystone.url, password="wrong").authenticate(token)


def test_a_token_that_may_not_validate_others_is_identity_unavailable(cloud: Cloud):
    """A service user without the ``service`` (or admin) role: Keystone answers 403 to its
    validations of other users' tokens, which volclone treats as Keystone being unusable."""
    token = cloud.token("bob", "proj-a")
    auth = KeystoneAuthenticator(cloud.keystone.url, "dave", "dave-secret", "proj-b")
    with pytest.raises(IdentityUnavailable):
        auth.authenticate(token)


@pytest.mark.parametrize("url", ["http://k:5000", "http://k:5000/", "http://k:5000/v3", "http://k:5000/v3/"])
def test_identity_url_means_v3(url: str):
    assert identity_v3(url) == "http://k:5000/v3"

