"""Metrics against hand-computed cases and against a literal reading of the challenge definition."""

import numpy as np
import pytest

from data_utils import snomed
from data_utils.scoring import (
    apply_thresholds,
    challenge_metric,
    cinc2017_f1,
    confusion_counts,
    macro_auroc,
    macro_average_precision,
    macro_f1,
    per_class_auroc,
    per_class_average_precision,
    tune_single_label_thresholds,
    tune_thresholds,
    weighted_argmax,
)


def test_ranking_metrics_by_hand():
    y = np.array([[0], [0], [1], [1]])
    s = np.array([[0.1], [0.4], [0.35], [0.8]])
    assert macro_auroc(y, s) == pytest.approx(0.75)  # 3 of 4 positive-negative pairs ordered
    assert macro_average_precision(y, s) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_auroc_counts_tied_pairs_as_half_and_agrees_with_the_roc_curve_on_random_scores():
    from sklearn.metrics import roc_auc_score

    y = np.array([[1], [0], [1], [0], [0]])
    s = np.array([[0.5], [0.5], [0.9], [0.1], [0.9]])  # pairs (pos, neg): 3 ordered, 2 tied, 1 reversed
    assert per_class_auroc(y, s)[0] == pytest.approx((3 + 0.5 * 2) / 6)
    rng = np.random.default_rng(0)
    y, s = rng.random((300, 4)) < 0.3, np.round(rng.random((300, 4)), 2)  # rounded: many ties
    expected = [roc_auc_score(y[:, k], s[:, k]) for k in range(4)]
    np.testing.assert_allclose(per_class_auroc(y, s), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="NaN or infinite"):
        per_class_auroc(y, np.where(y, np.nan, s))


def test_per_class_metrics_by_hand_and_in_every_score():
    from lrhnet.training import score

    y = np.array([[0, 1, 0], [0, 1, 0], [1, 1, 0], [1, 1, 0]])  # class 1 always present, class 2 never: no AUROC
    s = np.array([[0.1, 0.9, 0.2], [0.4, 0.8, 0.1], [0.35, 0.7, 0.3], [0.8, 0.6, 0.4]])
    np.testing.assert_allclose(per_class_auroc(y, s), [0.75, np.nan, np.nan])
    np.testing.assert_allclose(per_class_average_precision(y, s), [0.5 * 1 + 0.5 * 2 / 3, np.nan, np.nan])
    result = score(y, s, thresholds=[0.3, 0.5, 0.5], classes=("a", "b", "c"))
    assert result["per_class"]["auroc"] == {"a": pytest.approx(0.75), "b": None, "c": None}  # None: valid JSON
    assert result["per_class"]["f1"] == {"a": pytest.approx(2 * 2 / (2 * 2 + 1 + 0)), "b": 1.0, "c": None}
    assert result["macro_auroc"] == pytest.approx(0.75)


def test_macro_f1_by_hand():
    y = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    p = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    assert macro_f1(y, p) == pytest.approx((0.5 + 1.0) / 2)  # class 0: TP 1, FP 1, FN 1


def test_thresholds_are_tuned_per_class():
    y = np.array([[0, 1], [0, 1], [1, 0], [1, 0], [1, 0]])
    s = np.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.3], [0.8, 0.2], [0.9, 0.1]])
    thresholds = tune_thresholds(y, s)
    np.testing.assert_allclose(thresholds, [0.25, 0.55])
    assert macro_f1(y, apply_thresholds(s, thresholds)) == 1.0


def test_confusion_counts_by_hand():
    y = np.eye(3)[[0, 0, 1, 2, 2]]
    s = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]])
    np.testing.assert_array_equal(
        confusion_counts(y, s), [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    )  # rows true, columns predicted
    # dividing class 2 by 0.25 moves record 3 (0.2, 0.5, 0.3 -> 1.2) and record 4 (0.6, 0.1, 0.3 -> 1.2) to it
    np.testing.assert_array_equal(confusion_counts(y, s, [1.0, 1.0, 0.25]), [[1, 1, 0], [0, 0, 1], [0, 0, 2]])


def test_cinc2017_f1_by_hand():
    classes = ("N", "A", "O", "~")
    true = [classes.index(c) for c in "NNAO~"]
    pred = [classes.index(c) for c in "NAAOO"]
    score, per_class = cinc2017_f1(true, pred)
    assert score == pytest.approx(2 / 3) and per_class["~"] == 0.0


def test_weighted_argmax_divides_each_class_by_its_threshold():
    scores = np.array([[0.6, 0.4], [0.8, 0.2]])
    np.testing.assert_array_equal(weighted_argmax(scores), [0, 0])
    np.testing.assert_array_equal(weighted_argmax(scores, [1.0, 0.5]), [1, 0])  # 0.4 / 0.5 = 0.8 > 0.6


def test_single_label_thresholds_tuned_by_hand():
    y = np.eye(2)[[0, 0, 1, 1]]
    s = np.array([[0.9, 0.1], [0.7, 0.3], [0.6, 0.4], [0.55, 0.45]])
    # the arg-max says 0 everywhere (macro F1 1/3); any divisor t of class 1 with 0.3/t < 0.7, 0.4/t > 0.6
    # and 0.45/t > 0.55, that is 0.43 < t < 0.67, separates the classes
    thresholds = tune_single_label_thresholds(y, s, macro_f1)
    assert thresholds[0] == 1.0 and 0.3 / 0.7 < thresholds[1] < 0.4 / 0.6
    assert macro_f1(y, np.eye(2)[weighted_argmax(s, thresholds)]) == 1.0
    # a metric undefined (NaN) at the arg-max is beaten by any defined value
    undefined_at_argmax = lambda t, p: macro_f1(t, p) if p[:, 1].any() else float("nan")  # noqa: E731
    assert tune_single_label_thresholds(y, s, undefined_at_argmax)[1] < 1.0
    # already right by the arg-max: nothing to gain, the divisors stay ones
    np.testing.assert_array_equal(tune_single_label_thresholds(y, np.eye(2)[[0, 0, 1, 1]] * 0.8 + 0.1, macro_f1), 1)


def test_challenge_metric_by_hand():
    classes = ["164889003", "426783006", "713427006|59118001"]
    weights = [[1, 0.5, 0], [0.5, 1, 0.5], [0, 0.5, 1]]
    y = np.array([[1, 0, 0], [1, 0, 1]])
    p = np.array([[1, 0, 0], [0, 1, 0]])
    # observed 1 + 2 * 0.5/3 = 4/3; correct 1 + 0.5 + 0.5 = 2; inactive 0.5 * 0.5 + 2 * 0.5/3 = 7/12
    assert challenge_metric(y, p, classes, weights) == pytest.approx((4 / 3 - 7 / 12) / (2 - 7 / 12))


def reference_challenge_metric(labels, outputs, weights, normal):
    """The definition in docs/design.md, written as literally as possible."""

    def raw(out):
        total = 0.0
        for i in range(len(labels)):
            n = max(np.sum(labels[i] | out[i]), 1)
            for a in np.flatnonzero(labels[i]):
                for b in np.flatnonzero(out[i]):
                    total += weights[a][b] / n
        return total

    inactive = np.zeros_like(labels)
    inactive[:, normal] = True
    observed, correct, base = raw(outputs), raw(labels), raw(inactive)
    return (observed - base) / (correct - base) if correct != base else 0.0


def test_challenge_metric_matches_the_definition_on_the_2021_table():
    classes, weights = snomed.weights_table()
    rng = np.random.default_rng(0)
    labels = rng.random((60, len(classes))) < 0.12
    outputs = labels ^ (rng.random(labels.shape) < 0.08)
    expected = reference_challenge_metric(labels, outputs, weights, classes.index(snomed.NORMAL_CLASS))
    assert challenge_metric(labels, outputs, classes) == pytest.approx(expected, abs=1e-12)
    assert challenge_metric(labels, labels, classes) == pytest.approx(1.0)
    normal_only = np.zeros_like(labels)
    normal_only[:, classes.index(snomed.NORMAL_CLASS)] = True
    assert challenge_metric(labels, normal_only, classes) == pytest.approx(0.0)


def test_challenge_metric_on_a_subset_in_other_order():
    full, _ = snomed.weights_table()
    subset = ["59118001|713427006", "426783006", "164889003"]  # equivalents written the other way round
    y = np.array([[1, 0, 0], [0, 1, 1]])
    p = np.array([[1, 0, 0], [0, 1, 0]])
    wide_y, wide_p = np.zeros((2, len(full)), bool), np.zeros((2, len(full)), bool)
    for k, name in enumerate(["713427006|59118001", "426783006", "164889003"]):
        wide_y[:, full.index(name)], wide_p[:, full.index(name)] = y[:, k], p[:, k]
    # Classes absent from both arrays change nothing, so the subset scores like the full table.
    assert challenge_metric(y, p, subset) == pytest.approx(challenge_metric(wide_y, wide_p, full))


def test_challenge_metric_refuses_bad_input():
    with pytest.raises(ValueError, match="not a column"):
        challenge_metric(np.ones((1, 2)), np.ones((1, 2)), ["426783006", "12345"])
    with pytest.raises(ValueError, match="sinus rhythm"):
        challenge_metric(np.ones((1, 1)), np.ones((1, 1)), ["164889003"])
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        challenge_metric(np.ones((2, 2)), np.ones((3, 2)), ["426783006", "164889003"])


def test_lrhnet_2020_vocabulary_has_24_classes():
    classes = snomed.scored_classes(2020)
    assert len(classes) == 24 and "164909002" in classes and "427172004|17338001" in classes
    assert snomed.scored_classes(2021) == snomed.weights_table()[0]  # the mapping's groups are the table's columns
    assert snomed.class_abbreviation("713427006|59118001") == "CRBBB|RBBB"
    y = np.eye(24, dtype=bool)[[classes.index("164909002"), classes.index("426783006")]]
    assert challenge_metric(y, y, classes) == 1.0  # LBBB scores in the 2021 group 733534002|164909002
    full = snomed.weights_table()[0]
    wide = np.zeros((2, len(full)), bool)
    wide[0, full.index("733534002|164909002")] = wide[1, full.index("426783006")] = True
    partly = y.copy()
    partly[0, classes.index("426783006")], partly[1, classes.index("164909002")] = (
        True,
        True,
    )  # extra outputs on both records
    wide_partly = wide.copy()
    wide_partly[0, full.index("426783006")], wide_partly[1, full.index("733534002|164909002")] = True, True
    score = challenge_metric(y, partly, classes)
    assert 0 < score < 1 and score == pytest.approx(challenge_metric(wide, wide_partly, full))
