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


def op_dtypes(path):
    """``{op name: {dtypes of its input and output tensors}}`` of a ``.tflite`` file."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    tensors = interpreter.get_tensor_details()
    ops = {}
    for op in interpreter._get_ops_details():
        dtypes = {tensors[i]["dtype"] for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0}
        ops.setdefault(op["op_name"], set()).update(dtypes)
    return ops
