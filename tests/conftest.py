"""Shared fixtures: bundled real records, the optional ``../shared/data`` sets, a private cache folder."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(TESTS, "data")
SHARED = os.environ.get("ECG_SHARED_DATA") or os.path.join(TESTS, "..", "..", "shared", "data")


@pytest.fixture(scope="session")
def bundled():
    """Path of a bundled dataset folder: ``bundled("ludb")``."""
    return lambda name: os.path.join(BUNDLED, name)


@pytest.fixture(scope="session")
def shared():
    """Path of a folder of the full development data; skips the test when it is absent."""

    def locate(name):
        path = os.path.join(SHARED, name)
        if not os.path.isdir(path):
            pytest.skip(f"{path} is absent: this test needs the development data beside the project (set ECG_SHARED_DATA)")
        return path

    return locate


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test caches into its own temporary folder."""
    monkeypatch.setenv("ECG_KD_CACHE", str(tmp_path / "cache"))
