"""The committed CinC 2017 students in ``models/cinc2017``: they run through ``predict``, and their card is their
reports."""

import json
import os
import shutil

import numpy as np
import pytest
from conftest import predict_csv

from benchmarks.model_card import int8_export, model_card, read_external, read_reports
from data_utils.scoring import weighted_argmax

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = os.path.join(ROOT, "models", "cinc2017")
RESULTS = os.path.join(ROOT, "benchmarks", "results")
METHODS = ("lrhnet", "liteheart")


@pytest.mark.parametrize("method", METHODS)
def test_published_int8_student_predicts_cinc2017_records_like_its_float_twin(method, bundled, tmp_path):
    int8 = predict_csv(os.path.join(MODELS, f"{method}_int8.tflite"), bundled("cinc2017"), str(tmp_path / "int8.csv"))
    float32 = predict_csv(os.path.join(MODELS, f"{method}.keras"), bundled("cinc2017"), str(tmp_path / "float.csv"))
    assert (
        [row["record"] for row in int8]
        == [row["record"] for row in float32]
        == ["A00592", "A05056", "A05493", "A08050"]
    )
    columns = ["p_N", "p_A", "p_O", "p_~"]
    p_int8 = np.array([[float(row[c]) for c in columns] for row in int8])
    p_float = np.array([[float(row[c]) for c in columns] for row in float32])
    np.testing.assert_allclose(p_int8.sum(axis=1), 1.0, atol=1e-2)
    with open(os.path.join(MODELS, f"{method}_int8.tflite.json")) as handle:
        thresholds = json.load(handle)["thresholds"]
    assert all(
        row["labels"] == columns[int(weighted_argmax(p[None], thresholds)[0])][2:] for row, p in zip(int8, p_int8)
    )
    # QAT fine-tunes the weights, so the int8 file is close to its float student, not equal to it
    assert np.abs(p_int8 - p_float).mean() < 0.1, "the int8 file disagrees with its float student"
    assert np.sum(p_int8.argmax(axis=1) == p_float.argmax(axis=1)) >= 3


@pytest.mark.parametrize("method", METHODS)
def test_published_files_are_the_ones_the_committed_report_measured(method):
    with open(os.path.join(RESULTS, f"cinc2017_published_{method}.json")) as handle:
        report = json.load(handle)
    int8 = int8_export(report)
    assert os.path.getsize(os.path.join(MODELS, f"{method}_int8.tflite")) == int8["bytes"]
    with open(os.path.join(MODELS, f"{method}_int8.tflite.json")) as handle:
        assert json.load(handle)["classes"] == ["N", "A", "O", "~"]
    with open(os.path.join(MODELS, "split.json")) as handle:
        split = json.load(handle)
    assert {name: len(split[name]) for name in report["data"]["split"]} == report["data"]["split"]
    assert sum(map(sum, int8["confusion"]["counts"])) == report["data"]["split"]["test"]


def test_model_card_is_rendered_from_the_committed_reports():
    with open(os.path.join(MODELS, "MODEL_CARD.md")) as handle:
        assert handle.read() == model_card(read_reports(RESULTS), read_external(RESULTS, MODELS))


def test_single_label_thresholds_in_a_sidecar_steer_predict(bundled, tmp_path):
    for name in ("liteheart_int8.tflite", "liteheart_int8.tflite.json", "labels.txt"):
        shutil.copyfile(os.path.join(MODELS, name), tmp_path / name)
    as_shipped = predict_csv(str(tmp_path / "liteheart_int8.tflite"), bundled("cinc2017"), str(tmp_path / "a.csv"))
    sidecar = json.loads((tmp_path / "liteheart_int8.tflite.json").read_text())
    (tmp_path / "liteheart_int8.tflite.json").write_text(json.dumps({**sidecar, "thresholds": [1, 1, 1, 1e-6]}))
    steered = predict_csv(str(tmp_path / "liteheart_int8.tflite"), bundled("cinc2017"), str(tmp_path / "b.csv"))
    # dividing p_~ by 1e-6 makes ~ the largest wherever it is not exactly 0; the probabilities stay as they were
    assert [row["labels"] for row in steered] == ["~"] * 4
    assert [row["p_~"] for row in steered] == [row["p_~"] for row in as_shipped]
