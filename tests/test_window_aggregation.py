"""``benchmarks.window_aggregation``: each rule against a hand-computed case, the choice made on
validation (the shipped rule on a tie), the shipped pair reproducing ``decision_rule``'s tuned
figures, ``--cache-rounding`` reading records as ``train.py``'s cache holds them, and bad strides or
run folders refused before anything is written."""

import json
import os
import shutil

import numpy as np
import pytest
from conftest import predict_csv

from benchmarks import decision_rule
from benchmarks.window_aggregation import AGGREGATIONS, chosen, main, score_variants
from data_utils.cache import build_cache
from data_utils.preprocess import sliding_windows
from data_utils.readers import open_dataset
from data_utils.scoring import cinc2017_f1
from lrhnet.litert import probabilities
from lrhnet.predict import Predictor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = os.path.join(ROOT, "models", "cinc2017")
TRUTH = {"A00592": "A", "A05056": "~", "A05493": "N", "A08050": "O"}  # the bundled records, one per class
RECORDS = sorted(TRUTH)
CLASSES = ("N", "A", "O", "~")


def test_each_rule_on_two_windows_computed_by_hand():
    windows = np.array([[0.6, 0.4], [0.2, 0.8]])
    geometric = np.sqrt([0.6 * 0.2, 0.4 * 0.8])
    expected = {
        "mean": [0.4, 0.6],
        "geometric": geometric / geometric.sum(),
        "median": [0.4, 0.6],
        "max": [0.6 / 1.4, 0.8 / 1.4],
    }
    assert set(AGGREGATIONS) == set(expected)
    for rule, values in expected.items():
        np.testing.assert_allclose(AGGREGATIONS[rule](windows), values)


def one_hot(classes, count=2):
    """Window outputs (count, 4) of a record that every window calls ``classes[i]`` with certainty."""
    return [np.repeat(np.eye(4)[[c]], count, axis=0) for c in classes]


def test_each_pair_reads_its_own_stride_and_scores_validation_and_test_apart():
    truth = [0, 1, 2, 3, 0, 1, 2, 3]
    labels = np.eye(4)[truth]
    wrong = [(c + 1) % 4 for c in truth]  # every record called as the next class: F1 0 under any divisors
    windows = {
        0.5: {"validation": (one_hot(truth), labels), "test": (one_hot(wrong), labels)},
        0.25: {"validation": (one_hot(wrong), labels), "test": (one_hot(truth), labels)},
    }
    variants = score_variants(windows, ["N", "A", "O", "~"])
    assert len(variants) == 2 * len(AGGREGATIONS)
    for entry in variants.values():
        expected = (1.0, 0.0) if entry["stride_fraction"] == 0.5 else (0.0, 1.0)
        assert (entry["validation_cinc2017_f1"], entry["test_cinc2017_f1"]) == expected


def scored(validation, test):
    return {"validation_cinc2017_f1": validation, "test_cinc2017_f1": test}


def test_the_choice_is_the_highest_mean_validation_and_the_shipped_pair_on_a_tie():
    shipped, other = "mean, stride 0.5 window", "max, stride 0.1 window"
    files = {
        "a": {
            "variants": {shipped: scored(0.8, 0.7), other: scored(0.84, 0.6)},
            "shipped_sidecar_rule": scored(0.8, 0.7),
        },
        "b": {
            "variants": {shipped: scored(0.8, 0.7), other: scored(0.78, 0.9)},
            "shipped_sidecar_rule": scored(0.7, 0.6),
        },
    }
    summary = chosen(files)
    assert summary["chosen"] == other and summary["shipped"] == shipped
    assert summary["variants"][other] == pytest.approx(scored(0.81, 0.75))
    assert summary["shipped_sidecar_rule"] == pytest.approx(scored(0.75, 0.65))
    files["b"]["variants"][other] = scored(0.76, 0.99)  # now a tie on validation (0.80 each)
    assert chosen(files)["chosen"] == shipped


def test_the_shipped_pair_gives_decision_rules_tuned_figures(bundled, cinc2017_run, tmp_path):
    out = tmp_path / "aggregation.json"
    assert main(["--data", bundled("cinc2017"), "--runs", str(cinc2017_run), "--out", str(out)]) == 0
    found = json.loads(out.read_text())
    (variants,) = [entry["variants"] for entry in found["files"].values()]
    assert len(variants) == len(AGGREGATIONS) * 3
    shipped = variants[found["shipped"]]
    models = tmp_path / "models"
    models.mkdir()
    for name in ("student_int8.tflite", "student_int8.tflite.json"):
        shutil.copyfile(cinc2017_run / "exports" / name, models / name)
    shutil.copyfile(cinc2017_run / "split.json", models / "split.json")
    rule = tmp_path / "rule.json"
    assert decision_rule.main(["--data", bundled("cinc2017"), "--models", str(models), "--out", str(rule)]) == 0
    tuned = json.loads(rule.read_text())["files"]["student_int8.tflite"]["tuned"]
    assert shipped["validation_cinc2017_f1"] == pytest.approx(tuned["validation_cinc2017_f1"])
    assert shipped["test_cinc2017_f1"] == pytest.approx(tuned["test_cinc2017_f1"])
    assert found["chosen"] in variants
    (entry,) = found["files"].values()
    rows = predict_csv(
        str(cinc2017_run / "exports" / "student_int8.tflite"), bundled("cinc2017"), str(tmp_path / "p.csv")
    )
    said = [CLASSES.index(row["labels"]) for row in sorted(rows, key=lambda row: row["record"])]
    expected, _ = cinc2017_f1([CLASSES.index(TRUTH[record]) for record in RECORDS], said)
    assert entry["shipped_sidecar_rule"]["test_cinc2017_f1"] == pytest.approx(expected)  # what predict's CSV says


@pytest.mark.parametrize(
    "fractions, message",
    [(["0"], "a share of the window in (0, 1]"), (["1.5"], "(0, 1]"), (["0.25"], "must hold 0.5")],
)
def test_bad_strides_are_refused_before_anything_is_written(
    bundled, cinc2017_run, tmp_path, capsys, fractions, message
):
    out = tmp_path / "aggregation.json"
    with pytest.raises(SystemExit):
        main(
            [
                "--data",
                bundled("cinc2017"),
                "--runs",
                str(cinc2017_run),
                "--stride-fractions",
                *fractions,
                "--out",
                str(out),
            ]
        )
    assert message in capsys.readouterr().err and not out.exists()


def test_a_run_folder_without_its_split_is_refused_before_anything_is_written(bundled, cinc2017_run, tmp_path, capsys):
    os.remove(cinc2017_run / "split.json")
    out = tmp_path / "aggregation.json"
    with pytest.raises(SystemExit):
        main(["--data", bundled("cinc2017"), "--runs", str(cinc2017_run), "--out", str(out)])
    assert "split.json: not a readable split" in capsys.readouterr().err and not out.exists()


def test_cache_rounding_runs_the_network_on_the_signals_train_py_reads_from_its_cache(bundled, tmp_path):
    rounded = Predictor(os.path.join(MODELS, "lrhnet_int8.tflite"), cache_rounding=True)
    dataset = open_dataset(bundled("cinc2017"))
    cache = build_cache(dataset, rounded.preprocessing, rounded.sidecar["leads"], cache_dir=str(tmp_path))
    assert cache.record_ids == RECORDS
    for index in range(len(RECORDS)):
        windows = sliding_windows(np.asarray(cache.signal(index), np.float32), rounded.window, rounded.stride)
        expected = probabilities(rounded.run(windows, None), multilabel=False)
        np.testing.assert_array_equal(rounded.window_probabilities(dataset.read(index)), expected)


def test_the_cache_rounding_flag_reaches_every_predictor_and_is_recorded(bundled, cinc2017_run, tmp_path, monkeypatch):
    import lrhnet.predict

    made = []

    class Recorded(lrhnet.predict.Predictor):
        def __init__(self, *args, **kwargs):
            made.append(kwargs.get("cache_rounding"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(lrhnet.predict, "Predictor", Recorded)
    out = tmp_path / "aggregation.json"
    command = ["--data", bundled("cinc2017"), "--runs", str(cinc2017_run), "--stride-fractions", "0.5", "0.25", "--out"]
    main([*command, str(out), "--cache-rounding"])
    assert made == [True, True] and json.loads(out.read_text())["cache_rounding"] is True
    main([*command, str(out)])
    assert made[2:] == [False, False] and json.loads(out.read_text())["cache_rounding"] is False


def test_a_split_without_every_class_is_refused_before_any_record_is_predicted(
    bundled, cinc2017_run, tmp_path, capsys, monkeypatch
):
    import lrhnet.predict

    def never(self, record):
        raise AssertionError("a record was predicted")

    monkeypatch.setattr(lrhnet.predict.Predictor, "window_probabilities", never)
    (cinc2017_run / "split.json").write_text(json.dumps({"validation": RECORDS, "test": RECORDS[1:]}))  # no A in test
    out = tmp_path / "aggregation.json"
    with pytest.raises(SystemExit):
        main(["--data", bundled("cinc2017"), "--runs", str(cinc2017_run), "--out", str(out)])
    assert "no test record is labelled 'A'" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("change", ["no model", "multi-label"])
def test_a_missing_or_multilabel_model_is_refused_before_anything_is_written(
    bundled, cinc2017_run, tmp_path, capsys, change
):
    model = cinc2017_run / "exports" / "student_int8.tflite"
    if change == "no model":
        os.remove(model)
    else:
        sidecar = json.loads((cinc2017_run / "exports" / "student_int8.tflite.json").read_text())
        (cinc2017_run / "exports" / "student_int8.tflite.json").write_text(json.dumps({**sidecar, "multilabel": True}))
    out = tmp_path / "aggregation.json"
    with pytest.raises(SystemExit):
        main(["--data", bundled("cinc2017"), "--runs", str(cinc2017_run), "--out", str(out)])
    assert ("no such file" if change == "no model" else "a multi-label model") in capsys.readouterr().err
    assert not out.exists()
