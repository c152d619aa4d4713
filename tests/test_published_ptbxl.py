"""The committed PTB-XL networks in ``models/ptbxl``: they run through ``predict``, give their recorded test
scores on PTB-XL's fold 10, and their card is their report."""

import csv
import json
import os

import numpy as np
import pytest
from conftest import predict_csv

from benchmarks.ptbxl_model_card import model_card
from data_utils import scoring

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = os.path.join(ROOT, "models", "ptbxl")
RESULTS = os.path.join(ROOT, "benchmarks", "results")
with open(os.path.join(RESULTS, "ptbxl_published.json")) as handle:
    PUBLISHED = json.load(handle)
NAMES = list(PUBLISHED["published"])


def sidecar(name):
    with open(os.path.join(MODELS, f"{name}.tflite.json")) as handle:
        return json.load(handle)


def probabilities(rows, classes):
    """``{record: (K,) probabilities}`` of ``predict``'s CSV rows."""
    return {row["record"]: np.array([float(row[f"p_{name}"]) for name in classes]) for row in rows}


@pytest.mark.parametrize("name", NAMES)
def test_each_published_int8_file_predicts_the_bundled_records_like_its_float_network(name, bundled, tmp_path):
    classes = sidecar(name)["classes"]
    int8 = predict_csv(os.path.join(MODELS, f"{name}.tflite"), bundled("ptbxl"), str(tmp_path / "int8.csv"))
    float32 = predict_csv(os.path.join(MODELS, f"{name}.keras"), bundled("ptbxl"), str(tmp_path / "float.csv"))
    int8, float32 = probabilities(int8, classes), probabilities(float32, classes)
    assert sorted(int8) == sorted(float32) == ["00001_hr", "00002_hr", "00003_hr", "00008_hr"]
    difference = np.mean([np.abs(int8[record] - float32[record]).mean() for record in int8])
    assert difference < 0.05, f"{name}: the int8 file's probabilities differ from its float network's by {difference}"


def test_the_published_files_are_the_ones_recorded():
    for name, entry in PUBLISHED["published"].items():
        assert os.path.getsize(os.path.join(MODELS, f"{name}.tflite")) == entry["export"]["bytes"]
        assert sidecar(name)["leads"] == entry["leads"] and len(sidecar(name)["thresholds"]) == 5
    with open(os.path.join(MODELS, "MODEL_CARD.md")) as handle:
        assert handle.read() == model_card(PUBLISHED, RESULTS)


def fold10_folder(ptbxl, tmp_path):
    """A folder of links to the records of PTB-XL's test split (``split.json``) in the PTB-XL folder
    ``ptbxl``, their (N, K) labels by record name, and the classes."""
    from data_utils.readers import open_dataset

    with open(os.path.join(MODELS, "split.json")) as handle:
        test = json.load(handle)["test"]
    with open(os.path.join(ptbxl, "ptbxl_database.csv"), newline="") as handle:
        files = {str(int(float(row["ecg_id"]))): row["filename_lr"] for row in csv.DictReader(handle)}
    folder = tmp_path / "fold10"
    folder.mkdir()
    for record in test:
        for suffix in (".hea", ".dat"):
            source = os.path.abspath(os.path.join(ptbxl, files[record] + suffix))
            os.symlink(source, folder / (os.path.basename(files[record]) + suffix))
    dataset = open_dataset(ptbxl, label_set="superdiagnostic", fs=100)
    rows = {record: row for record, row in zip(dataset.record_ids, dataset.label_matrix())}
    names = {record: os.path.basename(files[record]) for record in test}
    return str(folder), {names[record]: rows[record] for record in test}, dataset.classes


def test_predict_reproduces_each_published_files_recorded_test_score(shared, tmp_path):
    folder, labels, classes = fold10_folder(shared("ptbxl"), tmp_path)
    for name, entry in PUBLISHED["published"].items():
        assert sidecar(name)["classes"] == list(classes)
        found = probabilities(
            predict_csv(os.path.join(MODELS, f"{name}.tflite"), folder, str(tmp_path / "p.csv")), classes
        )
        assert sorted(found) == sorted(labels)
        records = sorted(labels)
        score = scoring.macro_auroc(np.array([labels[r] for r in records]), np.array([found[r] for r in records]))
        recorded = entry["export"]["test"]["macro_auroc"]
        assert score == pytest.approx(recorded, abs=5e-4), f"{name}: predict gives {score:.4f}, recorded {recorded:.4f}"
