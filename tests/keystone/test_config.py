"""The auth settings (``VOLCLONE_AUTH`` and ``VOLCLONE_KEYSTONE_*``), and the wiring they pick."""

from __future__ import annotations

import pytest

from conftest import free_port, run_cli
from volclone import bootstrap
from volclone.auth.keystone import KeystoneAuthenticator
from volclone.config import Settings

KEYSTONE = {"VOLCLONE_AUTH": "keystone", "VOLCLONE_KEYSTONE_URL": "http://k:5000/v3",
            "VOLCLONE_KEYSTONE_USER": "volclone", "VOLCLONE_KEYSTONE_PASSWORD": "s3cret",
            "VOLCLONE_KEYSTONE_PROJECT": "service"}


def test_local_tokens_are_the_default():
    s = Settings.from_env({})
    assert s.auth == "local"
    assert bootstrap.authenticator(s) is None


def test_keystone_settings():
    s = Settings.from_env({**KEYSTONE, "VOLCLONE_KEYSTONE_CACHE_S": "5"})
    assert (s.auth, s.keystone_url, s.keystone_user, s.keystone_project) == \
        ("keystone", "http://k:5000/v3", "volclone", "service")
    assert (s.keystone_domain, s.keystone_cache_s) == ("Default", 5.0)
    assert "s3cret" not in repr(s)
    auth = bootstrap.authenticator(s)
    assert isinstance(auth, KeystoneAuthenticator)
    assert (auth.url, auth.cache_s) == ("http://k:5000/v3", 5.0)
    assert Settings.from_env({**KEYSTONE, "VOLCLONE_KEYSTONE_DOMAIN": "ops"}).keystone_domain == "ops"


@pytest.mark.parametrize("missing", ["VOLCLONE_KEYSTONE_URL", "VOLCLONE_KEYSTONE_USER",
                                     "VOLCLONE_KEYSTONE_PASSWORD", "VOLCLONE_KEYSTONE_PROJECT"])
def test_keystone_needs_its_url_and_service_credentials(missing: str):
    with pytest.raises(ValueError, match=missing):
        Settings.from_env({k: v for k, v in KEYSTONE.items() if k != missing})


def test_unknown_strategy_and_negative_cache_are_refused():
    with pytest.raises(ValueError, match="VOLCLONE_AUTH must be one of local, keystone"):
        Settings.from_env({"VOLCLONE_AUTH": "ldap"})
    with pytest.raises(ValueError, match="VOLCLONE_KEYSTONE_CACHE_S"):
        Settings.from_env({**KEYSTONE, "VOLCLONE_KEYSTONE_CACHE_S": "-1"})


def test_serve_refuses_incomplete_keystone_settings(tmp_path):
    env = {k: v for k, v in KEYSTONE.items() if k != "VOLCLONE_KEYSTONE_PASSWORD"}
    done = run_cli(tmp_path, "serve", "--port", str(free_port()), env=env, check=False)
    assert done.returncode != 0
    assert "VOLCLONE_AUTH=keystone needs VOLCLONE_KEYSTONE_PASSWORD" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
