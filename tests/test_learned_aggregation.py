"""``benchmarks.learned_aggregation``: the window statistics against a hand-computed case, a fitted
rule that tells apart what the mean of the windows cannot, a cross-fitted rule that never scores a
validation record with a rule fitted on it, the shipped mean scored as ``window_aggregation`` scores
it, and bad input (in any run's split) refused before any record is predicted or anything written."""

import json
import shutil

import numpy as np
import pytest

from benchmarks import window_aggregation
from benchmarks.learned_aggregation import (
    cross_fitted,
    cross_fitted_name,
    fit_rule,
    learned_name,
    main,
    score_variants,
    window_statistics,
)


def test_window_statistics_of_two_windows_computed_by_hand():
    windows = np.array([[0.2, 0.8], [0.6, 0.4]])
    (features,) = window_statistics([windows])
    expected = [np.log(0.4), np.log(0.6), np.log(0.6), np.log(0.8), np.log(0.2), np.log(0.4), 0.2, 0.2, np.log(2)]
    np.testing.assert_allclose(features, expected)


def test_a_certain_zero_is_clipped_before_its_log():
    (features,) = window_statistics([np.array([[1.0, 0.0]])])
    assert np.all(np.isfinite(features)) and features[1] == pytest.approx(np.log(1e-6))


def test_the_rule_learns_a_short_episode_that_the_mean_of_the_windows_hides():
    # class 1: one window in ten sure of class 1, the rest leaning to class 0; class 0: every window at
    # 0.1 for class 1. Both average to 0.1 for class 1, so the mean cannot tell them apart.
    rng = np.random.default_rng(0)

    def records(count):
        outputs, labels = [], []
        for index in range(count):
            label = index % 2
            windows = np.full((10, 2), [0.9, 0.1]) + rng.normal(0, 0.005, (10, 2))
            if label:
                windows[:, 1] = 0.0
                windows[rng.integers(10), 1] = 1.0
                windows[:, 0] = 1 - windows[:, 1]
            outputs.append(np.clip(windows, 0, 1))
            labels.append(np.eye(2)[label])
        return outputs, np.array(labels)

    train, labels = records(40)
    test, truth = records(20)
    rule = fit_rule(window_statistics(train), labels, 1.0)
    assert np.array_equal(rule.predict_proba(window_statistics(test)).argmax(1), truth.argmax(1))
    means = window_aggregation.combined(test, "mean")
    assert np.ptp(means[:, 1]) < 0.05  # the mean sees ~0.1 in every record


def episode_records(count, rng):
    """``count`` records of 10 windows over N, A, O, ~ and their one-hot labels: an N record's windows
    all read (0.7, 0.1, 0.1, 0.1); a record of another class has one window sure of it and nine that
    give it 0, so every record's mean of windows is (0.7, 0.1, 0.1, 0.1) to within 1e-4 (the noise)."""
    outputs, labels = [], []
    for index in range(count):
        label = index % 4
        windows = np.tile([0.7, 0.1, 0.1, 0.1], (10, 1))
        if label:
            others = [column for column in (1, 2, 3) if column != label]
            windows[:, others], windows[:, label], windows[:, 0] = 1 / 9, 0.0, 7 / 9
            windows[rng.integers(10)] = np.eye(4)[label]
        outputs.append(np.clip(windows + rng.normal(0, 1e-4, windows.shape), 0, 1))
        labels.append(np.eye(4)[label])
    return outputs, np.array(labels)


def test_the_learned_variant_is_scored_on_its_own_outputs_and_the_mean_on_the_windows_mean():
    rng = np.random.default_rng(1)
    windows = {name: episode_records(count, rng) for name, count in (("train", 80), ("validation", 40), ("test", 40))}
    scored = score_variants(windows, ["N", "A", "O", "~"], [1.0], 5)
    learned, mean = scored[learned_name(1.0)], scored[window_aggregation.variant_name(*window_aggregation.SHIPPED)]
    on_validation = scored[cross_fitted_name(1.0, 5)]
    for found in (learned, on_validation):
        assert found["validation_cinc2017_f1"] == found["test_cinc2017_f1"] == pytest.approx(1.0)
    assert on_validation["rule"] == "learned on validation"
    assert mean["validation_cinc2017_f1"] < 0.6 and mean["test_cinc2017_f1"] < 0.6
    assert (learned["rule"], learned["c"], mean["rule"], mean["c"]) == ("learned", 1.0, "mean", None)


def test_no_validation_record_is_scored_by_a_rule_fitted_on_it():
    # labels that the features cannot predict: a rule scoring its own records does better than chance
    # (it fits noise); one scoring records it was not fitted on does not
    rng = np.random.default_rng(2)
    features, labels = rng.normal(size=(120, 30)), np.eye(4)[np.arange(120) % 4]
    test_features = rng.normal(size=(30, 30))
    found, test = cross_fitted((features, labels), test_features, 100.0, 5)
    in_sample = fit_rule(features, labels, 100.0)
    accuracy = lambda probabilities: np.mean(probabilities.argmax(1) == labels.argmax(1))  # noqa: E731
    assert accuracy(in_sample.predict_proba(features)) > 0.5 and accuracy(found) < 0.35  # chance: 0.25
    np.testing.assert_allclose(test, in_sample.predict_proba(test_features))  # the test rule saw every record
    np.testing.assert_allclose(found.sum(1), 1.0)


def test_a_rule_is_refused_when_a_class_has_no_training_record():
    outputs = [np.array([[0.9, 0.1]]), np.array([[0.8, 0.2]])]
    with pytest.raises(ValueError, match="every class"):
        fit_rule(window_statistics(outputs), np.array([[1.0, 0.0], [1.0, 0.0]]), 1.0)


def two_folds(run):
    """``run``'s split (its four bundled records, one per class) with each validation record named twice,
    so that every class has the two validation records two folds need; written to its ``split.json``."""
    split = json.loads((run / "split.json").read_text())
    split["validation"] *= 2
    (run / "split.json").write_text(json.dumps(split))
    return split


def test_the_shipped_mean_scores_as_window_aggregation_scores_it(bundled, cinc2017_run, tmp_path):
    out, theirs = tmp_path / "learned.json", tmp_path / "aggregation.json"
    data = bundled("cinc2017")
    # each record's copy sits in the other fold: the cross-fitted figures mean nothing here; this test
    # checks the shipped mean and the output's shape
    two_folds(cinc2017_run)
    flags = ["--c", "0.5", "2", "--folds", "2"]
    assert main(["--data", data, "--runs", str(cinc2017_run), *flags, "--out", str(out)]) == 0
    window_aggregation.main(
        ["--data", data, "--runs", str(cinc2017_run), "--stride-fractions", "0.5", "--out", str(theirs)]
    )
    found, expected = json.loads(out.read_text()), json.loads(theirs.read_text())
    (entry,) = found["files"].values()
    (their_entry,) = expected["files"].values()
    learned = {learned_name(c) for c in (0.5, 2.0)} | {cross_fitted_name(c, 2) for c in (0.5, 2.0)}
    assert set(entry["variants"]) == {found["shipped"], *learned}
    shipped, their_shipped = entry["variants"][found["shipped"]], their_entry["variants"][expected["shipped"]]
    for field in ("validation_cinc2017_f1", "test_cinc2017_f1", "thresholds"):
        assert shipped[field] == pytest.approx(their_shipped[field])
    assert entry["shipped_sidecar_rule"] == pytest.approx(their_entry["shipped_sidecar_rule"])
    assert entry["records"] == {"train": 4, "validation": 8, "test": 4}
    assert entry["variants"][learned_name(2.0)]["c"] == 2.0 and found["chosen"] in entry["variants"]


@pytest.mark.parametrize(
    "change, flags, message",
    [
        ("no train", [], "names no 'train' records"),
        ("train lacks A", [], "no train record is labelled 'A'"),
        (None, ["--c", "0"], "--c 0.0: the inverse strength"),
        (None, ["--c", "nan"], "--c nan"),
        (None, ["--folds", "1"], "--folds 1: cross-fitting needs at least 2"),
        (None, [], "labelled 'N' are 1, fewer than --folds 5: lower --folds"),  # one record per class
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    bundled, cinc2017_run, tmp_path, capsys, monkeypatch, change, flags, message
):
    import lrhnet.predict

    def never(self, record):
        raise AssertionError("a record was predicted")

    monkeypatch.setattr(lrhnet.predict.Predictor, "window_probabilities", never)
    split = json.loads((cinc2017_run / "split.json").read_text())
    if change == "no train":
        del split["train"]
    elif change == "train lacks A":
        split["train"] = [record for record in split["train"] if record != "A00592"]
    (cinc2017_run / "split.json").write_text(json.dumps(split))
    out = tmp_path / "learned.json"
    with pytest.raises(SystemExit):
        main(["--data", bundled("cinc2017"), "--runs", str(cinc2017_run), *flags, "--out", str(out)])
    assert message in capsys.readouterr().err and not out.exists()


def test_a_later_run_naming_an_absent_record_is_refused_before_any_record_is_predicted(
    bundled, cinc2017_run, tmp_path, capsys, monkeypatch
):
    import lrhnet.predict

    def never(self, record):
        raise AssertionError("a record was predicted")

    monkeypatch.setattr(lrhnet.predict.Predictor, "window_probabilities", never)
    split = two_folds(cinc2017_run)
    later = tmp_path / "later"
    shutil.copytree(cinc2017_run, later)
    (later / "split.json").write_text(json.dumps({**split, "test": [*split["test"], "A99999"]}))
    out = tmp_path / "learned.json"
    with pytest.raises(SystemExit):
        main(
            ["--data", bundled("cinc2017"), "--runs", str(cinc2017_run), str(later), "--folds", "2", "--out", str(out)]
        )
    assert f"{later}: 1 test records of split.json are not in the data" in capsys.readouterr().err
    assert not out.exists()


def test_a_record_that_cannot_be_read_ends_in_a_clear_error(bundled, cinc2017_run, tmp_path, capsys, monkeypatch):
    from data_utils.errors import TruncatedSignal
    from data_utils.readers.base import ECGDataset

    def truncated(self, index):
        raise TruncatedSignal(self.record_ids[index], "the signal file ends early")

    monkeypatch.setattr(ECGDataset, "read", truncated)
    two_folds(cinc2017_run)
    out = tmp_path / "learned.json"
    with pytest.raises(SystemExit):
        main(["--data", bundled("cinc2017"), "--runs", str(cinc2017_run), "--folds", "2", "--out", str(out)])
    assert "the signal file ends early" in capsys.readouterr().err and not out.exists()
