"""``benchmarks.decision_rule`` on the bundled CinC 2017 records: the tuned rule never scores below the
arg-max on validation, the arg-max figures are predict's, and a split naming absent records is refused
(before any record is read)."""

import json
import os
import shutil

import pytest
from conftest import predict_csv

from benchmarks.decision_rule import main
from data_utils.scoring import cinc2017_f1

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = os.path.join(ROOT, "models", "cinc2017")
CLASSES = ("N", "A", "O", "~")
TRUTH = {"A00592": "A", "A05056": "~", "A05493": "N", "A08050": "O"}  # the bundled REFERENCE.csv


@pytest.fixture
def models(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("liteheart_int8.tflite", "liteheart_int8.tflite.json", "labels.txt"):
        shutil.copyfile(os.path.join(MODELS, name), folder / name)
    everyone = sorted(TRUTH)  # four records, one per class: both splits hold them all, so each F1 is defined
    (folder / "split.json").write_text(json.dumps({"validation": everyone, "test": everyone}))
    return folder


def test_reference_of_the_bundled_records(bundled):
    with open(os.path.join(bundled("cinc2017"), "REFERENCE.csv")) as handle:
        assert dict(line.strip().split(",") for line in handle if line.strip()) == TRUTH


def test_arg_max_figures_are_predicts_and_the_tuned_rule_never_loses_on_validation(bundled, models, tmp_path):
    out = tmp_path / "rule.json"
    assert main(["--data", bundled("cinc2017"), "--models", str(models), "--out", str(out)]) == 0
    found = json.loads(out.read_text())["files"]["liteheart_int8.tflite"]
    assert len(found["thresholds"]) == 4 and found["thresholds"][0] == 1.0
    assert found["tuned"]["validation_cinc2017_f1"] >= found["argmax"]["validation_cinc2017_f1"]
    rows = predict_csv(str(models / "liteheart_int8.tflite"), bundled("cinc2017"), str(tmp_path / "p.csv"))
    said = {row["record"]: row["labels"] for row in rows}
    test = sorted(TRUTH)
    expected, _ = cinc2017_f1([CLASSES.index(TRUTH[r]) for r in test], [CLASSES.index(said[r]) for r in test])
    assert found["argmax"]["test_cinc2017_f1"] == pytest.approx(expected)


def test_a_split_naming_records_that_are_not_in_the_data_is_refused(bundled, models, tmp_path, capsys):
    (models / "split.json").write_text(json.dumps({"validation": ["A99999"], "test": ["A05493"]}))
    with pytest.raises(SystemExit):
        main(["--data", bundled("cinc2017"), "--models", str(models), "--out", str(tmp_path / "rule.json")])
    assert "validation records of split.json are not in the data" in capsys.readouterr().err
    assert not (tmp_path / "rule.json").exists()


def test_a_later_list_naming_absent_records_is_refused_before_any_record_is_read(bundled):
    from benchmarks.decision_rule import split_outputs
    from data_utils.readers import open_dataset

    def never(signal):
        raise AssertionError("a record was predicted")

    dataset = open_dataset(bundled("cinc2017"))
    split = {"validation": sorted(TRUTH), "test": ["A99999"]}
    with pytest.raises(ValueError, match="1 test records of split.json are not in the data"):
        split_outputs(dataset, split, list(CLASSES), never)
