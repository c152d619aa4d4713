"""``python -m benchmarks.publish_cinc2017`` end to end on a small CinC 2017 subset, then ``predict`` on what it
published."""

import csv
import json
import os
import subprocess
import sys

import pytest
from conftest import predict_csv

from benchmarks.model_card import int8_export

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def cinc2017_subset(source, folder, per_class=15):
    """A CinC 2017-format folder with the first ``per_class`` records of each class (symlinked)."""
    os.makedirs(folder)
    kept, counts = [], {}
    with open(os.path.join(source, "REFERENCE.csv")) as handle:
        for record, label in csv.reader(handle):
            if counts.get(label, 0) < per_class:
                counts[label] = counts.get(label, 0) + 1
                kept.append((record, label))
    for record, _ in kept:
        for extension in (".mat", ".hea"):
            os.symlink(os.path.join(source, record + extension), os.path.join(folder, record + extension))
    with open(os.path.join(folder, "REFERENCE.csv"), "w") as handle:
        handle.writelines(f"{record},{label}\n" for record, label in kept)
    return folder


@pytest.mark.slow  # two train.py runs; with the other slow test 3 min 0 s here, unloaded; `python -m pytest -m slow`
def test_publish_writes_int8_students_a_card_from_the_reports_and_predict_runs_on_them(tmp_path, shared, bundled):
    data = cinc2017_subset(shared("cinc2017/training2017"), str(tmp_path / "cinc2017"))
    models, results = str(tmp_path / "models"), str(tmp_path / "results")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        sys.executable,
        "-m",
        "benchmarks.publish_cinc2017",
        "--data",
        data,
        "--quick",
        "--runs",
        str(tmp_path / "runs"),
        "--models",
        models,
        "--results",
        results,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    for method in ("lrhnet", "liteheart"):
        for name in (f"{method}_int8.tflite", f"{method}_int8.tflite.json", f"{method}.keras", f"{method}.keras.json"):
            assert os.path.getsize(os.path.join(models, name)) > 0
    with open(os.path.join(models, "labels.txt")) as handle:
        assert handle.read().split() == ["N", "A", "O", "~"]
    with open(os.path.join(results, "cinc2017_published_lrhnet.json")) as handle:
        report = json.load(handle)
    int8 = int8_export(report)
    assert sum(map(sum, int8["confusion"]["counts"])) == report["data"]["split"]["test"]
    card = open(os.path.join(models, "MODEL_CARD.md")).read()
    assert f"{int8['test']['cinc2017_f1']:.3f}" in card and "not a medical device" in card and report["command"] in card
    regenerated = subprocess.run(
        [sys.executable, "-m", "benchmarks.model_card", "--results", results, "--models", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert regenerated.returncode == 0 and open(os.path.join(tmp_path, "MODEL_CARD.md")).read() == card
    for model in ("lrhnet_int8.tflite", "liteheart.keras"):
        rows = predict_csv(os.path.join(models, model), bundled("cinc2017"), str(tmp_path / f"{model}.csv"))
        assert sorted(row["record"] for row in rows) == ["A00592", "A05056", "A05493", "A08050"]
        assert all(row["labels"] in ("N", "A", "O", "~") for row in rows)
