"""A bounded subset of Tempest's volume API tests, in the test command: whole Tempest modules
that pass today (``scripts/tempest`` runs all of ``tempest.api.volume``; docs/tempest.md).

The same harness as ``scripts/tempest``: a real Keystone, ``volclone serve`` with
``VOLCLONE_AUTH=keystone`` in its catalog, Tempest 47 from ``.venv-tempest`` with dynamic
credentials (a project and users of its own for each test class), counted from the subunit stream.
"""

from __future__ import annotations

from pathlib import Path

from .harness import run

#: Whole modules (and one whole class), chosen for what passes and costs little: the version
#: documents, the availability zones, the extensions, the volume summary, and volume types with
#: their extra specs, positive and negative (create, show, list, update, delete, the admin-only
#: calls refused to members, bad ids and bodies answered with Cinder's faults), and QoS specs.
#: Volume create/show/list and metadata are not here yet: volumes have no ``user_id`` (a string
#: in Tempest's schema), so their classes fail in set-up (docs/tempest.md, "What fails").
SUBSET = (r"^tempest\.api\.volume\.(test_versions\.|test_availability_zone\.|test_extensions\."
          r"|test_volumes_get\.VolumesSummaryTest\.|admin\.test_volume_types_(extra_specs|negative|extra_specs_negative)\."
          r"|admin\.test_qos\.)")
#: Tempest 47.0.0's tests in those modules; a count, so a regex that matches less, or a class
#: skipped as a whole, doesn't pass unseen.
EXPECTED_TESTS = 33


def test_a_bounded_subset_of_tempests_volume_api_tests_passes(tmp_path: Path) -> None:
    summary = run(SUBSET, concurrency=2, workdir=tmp_path)
    failed = summary.as_json()["failed_tests"]
    assert not failed, "\n".join(f"{test}: {reason}" for test, reason in failed.items())
    assert summary.skipped == 0, summary.as_json()["skipped_tests"]
    assert summary.passed == EXPECTED_TESTS, sorted(summary.tests)
