import pytest

from volclone.api.versions import MAX_VERSION, MIN_VERSION, requested_version


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, MIN_VERSION),
        ("volume 3.0", (3, 0)),
        ("volume 3.27", (3, 27)),
        ("volume latest", MAX_VERSION),
        ("compute 2.1, volume 3.12", (3, 12)),
        ("compute 2.1", MIN_VERSION),
    ],
)
def test_accepted(header, expected):
    assert requested_version(header) == expected


@pytest.mark.parametrize("header", ["volume 3.72", "volume 2.0", "volume 4.0"])
def test_out_of_range(header):
    assert "not supported" in requested_version(header)


@pytest.mark.parametrize("header", ["volume 3", "volume x.y", "volume 3.1.2"])
def test_malformed(header):
    assert "invalid" in requested_version(header)
