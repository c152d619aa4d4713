"""Shared fixtures: bundled real records, the optional ``../shared/data`` sets, a private cache folder."""

import csv
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(TESTS, "..")
BUNDLED = os.path.join(TESTS, "data")
# train.py at its smallest: 160 synthetic records, 5 s windows, one epoch, a width-0.125 teacher
TINY_TRAIN_FLAGS = ["--data", "synthetic:n=160,fs=100,seconds=6,seed=3", "--window-seconds", "5", "--epochs", "1"]
TINY_TRAIN_FLAGS += ["--batch-size", "16", "--teacher-width", "0.125"]
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
            pytest.skip(
                f"{path} is absent: this test needs the development data beside the project (set ECG_SHARED_DATA)"
            )
        return path

    return locate


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test caches into its own temporary folder."""
    monkeypatch.setenv("ECG_KD_CACHE", str(tmp_path / "cache"))


def op_dtypes(path):
    """``{op name: {dtypes of its input and output tensors}}`` of a ``.tflite`` file."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    interpreter.allocate_tensors()
    tensors = interpreter.get_tensor_details()
    ops = {}
    for op in interpreter._get_ops_details():
        dtypes = {tensors[i]["dtype"] for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0}
        ops.setdefault(op["op_name"], set()).update(dtypes)
    return ops


@pytest.fixture
def cinc2017_run(tmp_path):
    """A run folder as ``train.py`` leaves one for the bundled CinC 2017 records: the published LiteHeart
    int8 file as ``exports/student_int8.tflite`` (with its sidecar) and a ``split.json`` whose train,
    validation and test lists each name the four bundled records (one per class)."""
    folder = tmp_path / "run"
    (folder / "exports").mkdir(parents=True)
    models = os.path.join(ROOT, "models", "cinc2017")
    for name in ("liteheart_int8.tflite", "liteheart_int8.tflite.json"):
        shutil.copyfile(os.path.join(models, name), folder / "exports" / name.replace("liteheart_int8", "student_int8"))
    records = sorted(name[:-4] for name in os.listdir(os.path.join(BUNDLED, "cinc2017")) if name.endswith(".hea"))
    (folder / "split.json").write_text(json.dumps({"train": records, "validation": records, "test": records}))
    return folder


def predict_csv(model, folder, out):
    """Run ``python -m lrhnet.predict`` on ``model`` over ``folder`` as a user would; returns the CSV rows."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "lrhnet.predict", "--model", model, "--input", folder, "--out", out]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(out) as handle:
        return list(csv.DictReader(handle))
