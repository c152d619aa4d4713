"""Metrics of docs/design.md (Evaluation rules): macro AUROC / AP / F1, per-class thresholds, the CinC 2017 F1 and the
PhysioNet/CinC 2020-2021 challenge metric.

Arrays are (N, K): N records, K classes. Scores are probabilities (or any monotone score).
"""

import logging

import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score

from data_utils import snomed

log = logging.getLogger(__name__)


def _check_pair(y_true, y_other, name):
    y_true, y_other = np.asarray(y_true), np.asarray(y_other)
    if y_true.ndim != 2 or y_true.shape != y_other.shape:
        raise ValueError(f"y_true {y_true.shape} and {name} {y_other.shape} must both be (N, K)")
    return y_true.astype(bool), y_other


def _per_class(y_true, y_score, metric):
    """``metric`` of each class, float array (K,); NaN for a class without both label values."""
    y_true, y_score = _check_pair(y_true, y_score, "y_score")
    return np.array(
        [
            metric(y_true[:, k], y_score[:, k]) if 0 < y_true[:, k].sum() < len(y_true) else np.nan
            for k in range(y_true.shape[1])
        ]
    )


def mean_over_classes(scores, name=None):
    """Mean of per-class ``scores`` (K,) over the classes that have one (finite); NaN when none has.
    With ``name``, the classes left out are logged."""
    scores = np.asarray(scores, dtype=np.float64)
    scorable = np.isfinite(scores)
    if name and not scorable.all():
        log.info(
            "%s: %d of %d classes have only one label value and are left out", name, (~scorable).sum(), len(scores)
        )
    return float(np.mean(scores[scorable])) if scorable.any() else float("nan")


def per_class_auroc(y_true, y_score):
    """AUROC of each class, (K,); NaN for a class without both label values.

    Computed as the Mann-Whitney statistic on ranks (ties share their mean rank), which equals the
    area under the ROC curve and is fast enough for bootstrap resampling.
    """
    y_true, y_score = _check_pair(y_true, y_score, "y_score")
    if not np.all(np.isfinite(y_score)):
        raise ValueError("y_score holds NaN or infinite values")
    ranks = stats.rankdata(y_score, axis=0)
    positives = y_true.sum(axis=0)
    negatives = len(y_true) - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = (np.sum(ranks * y_true, axis=0) - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auroc, np.nan)


def per_class_average_precision(y_true, y_score):
    """Average precision of each class, (K,); NaN for a class without both label values."""
    return _per_class(y_true, y_score, average_precision_score)


def macro_auroc(y_true, y_score):
    """Mean over classes of the area under the ROC curve; classes without both values are left out."""
    return mean_over_classes(per_class_auroc(y_true, y_score), "macro AUROC")


def macro_average_precision(y_true, y_score):
    """Mean over classes of average precision; classes without both values are left out."""
    return mean_over_classes(per_class_average_precision(y_true, y_score), "macro AP")


def per_class_f1(y_true, y_pred):
    """F1 = 2TP / (2TP + FP + FN) per class, shape (K,); NaN for a class never true nor predicted."""
    y_true, y_pred = _check_pair(y_true, y_pred, "y_pred")
    y_pred = y_pred.astype(bool)
    tp = np.sum(y_true & y_pred, axis=0)
    denominator = 2 * tp + np.sum(~y_true & y_pred, axis=0) + np.sum(y_true & ~y_pred, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), np.nan)


def macro_f1(y_true, y_pred):
    """Mean of ``per_class_f1`` over classes where it is defined (as the challenge scoring does)."""
    return mean_over_classes(per_class_f1(y_true, y_pred))


def confusion_counts(y_true, y_score, thresholds=None):
    """Single-label confusion matrix (K, K): rows true class, columns predicted (``weighted_argmax`` of
    ``y_score`` by ``thresholds``; the arg-max without them)."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    counts = np.zeros((y_true.shape[1], y_true.shape[1]), int)
    np.add.at(counts, (y_true.argmax(1), weighted_argmax(y_score, thresholds)), 1)
    return counts


def apply_thresholds(y_score, thresholds):
    """Binary (N, K) predictions: ``y_score[:, k] >= thresholds[k]``."""
    return np.asarray(y_score) >= np.asarray(thresholds)[None, :]


def tune_thresholds(y_true, y_score):
    """Per-class thresholds that maximise F1 on validation data.

    For each class the cut is placed halfway between the score that maximises F1 and the next
    lower score; a class without positives gets a threshold just above its highest score.

    Returns:
        float array (K,).
    """
    y_true, y_score = _check_pair(y_true, y_score, "y_score")
    thresholds = np.empty(y_true.shape[1])
    for k in range(y_true.shape[1]):
        scores = np.asarray(y_score[:, k], dtype=np.float64)
        positives = y_true[:, k].sum()
        if positives == 0:
            thresholds[k] = np.nextafter(scores.max(), np.inf)
            continue
        order = np.argsort(-scores, kind="stable")
        sorted_scores, sorted_true = scores[order], y_true[order, k]
        tp = np.cumsum(sorted_true)
        predicted = np.arange(1, len(scores) + 1)
        last_of_tie = np.append(sorted_scores[1:] != sorted_scores[:-1], True)  # cuts fall between distinct scores
        f1 = np.where(last_of_tie, 2 * tp / (predicted + positives), -1.0)
        best = int(np.argmax(f1))
        below = sorted_scores[best + 1] if best + 1 < len(scores) else sorted_scores[best] - 1.0
        thresholds[k] = (sorted_scores[best] + below) / 2.0
    return thresholds


# the divisors tried for each class by ``tune_single_label_thresholds``: 1/20 to 20, evenly on a log scale
DIVISOR_GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 49))


def weighted_argmax(y_score, thresholds=None):
    """Single-label predictions (N,): the class with the largest ``y_score[:, k] / thresholds[k]``
    (the arg-max when ``thresholds`` is None). Equal thresholds give the arg-max too; raising one
    class's threshold makes it harder to predict, like a lower prior."""
    y_score = np.asarray(y_score, dtype=np.float64)
    return (y_score if thresholds is None else y_score / np.asarray(thresholds, dtype=np.float64)[None, :]).argmax(
        axis=1
    )


def tune_single_label_thresholds(y_true, y_score, metric, grid=DIVISOR_GRID, rounds=2):
    """Per-class divisors for ``weighted_argmax`` that maximise ``metric`` on validation data.

    Coordinate ascent from all ones (the arg-max): each class's divisor in turn takes the value of
    ``grid`` that raises ``metric(y_true, one-hot predictions)`` most, ``rounds`` times over; a change
    that does not raise it strictly is not taken, so without a gain the result stays all ones.

    Args:
        y_true: one-hot labels (N, K); y_score: scores (N, K); metric: ``f(y_true, y_pred) -> float``
            on one-hot arrays (for example ``lambda t, p: cinc2017_f1(t, p)[0]``).
    Returns:
        float array (K,) with the first class's divisor 1.
    """
    y_true, y_score = _check_pair(y_true, y_score, "y_score")
    eye = np.eye(y_true.shape[1], dtype=bool)
    thresholds = np.ones(y_true.shape[1])

    def value(candidate):
        return metric(y_true, eye[weighted_argmax(y_score, candidate)])

    best = value(thresholds)
    best = best if np.isfinite(best) else -np.inf  # a metric undefined at the arg-max: any defined value beats it
    for _ in range(rounds):
        for k in range(1, y_true.shape[1]):
            for divisor in grid:
                candidate = thresholds.copy()
                candidate[k] = divisor
                found = value(candidate)
                if found > best:
                    best, thresholds = found, candidate
    return thresholds


def cinc2017_f1(y_true, y_pred, classes=("N", "A", "O", "~")):
    """CinC 2017 score: mean F1 of classes N, A and O (the noisy class counts as a class but is not averaged).

    Args:
        y_true, y_pred: class indices (N,) or one-hot / score arrays (N, 4); scores are arg-maxed.
    Returns:
        ``(score, {class: f1})`` with the F1 of all four classes.
    """

    def as_index(y):
        y = np.asarray(y)
        return y.argmax(axis=1) if y.ndim == 2 else y.astype(int)

    true, pred = as_index(y_true), as_index(y_pred)
    if true.shape != pred.shape:
        raise ValueError(f"y_true {true.shape} and y_pred {pred.shape} hold different record counts")
    eye = np.eye(len(classes), dtype=bool)
    per_class = per_class_f1(eye[true], eye[pred])
    by_name = {name: float(per_class[k]) for k, name in enumerate(classes)}
    return float(np.mean([by_name[name] for name in ("N", "A", "O")])), by_name


def _weights_for(classes, weights):
    if weights is not None and not isinstance(weights, str):
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(classes), len(classes)):
            raise ValueError(f"weights {weights.shape} must be ({len(classes)}, {len(classes)}) to match classes")
        return weights
    table_classes, table = snomed.weights_table(weights)
    index = []
    for name in classes:
        column = table_column(name, table_classes)
        if column is None:
            raise ValueError(
                f"class {name!r} is not a column of the weights table (write equivalent codes as in weights.csv, "
                "e.g. '713427006|59118001')"
            )
        index.append(column)
    return np.asarray(table)[np.ix_(index, index)]


def table_column(name, table_classes):
    """The column of ``table_classes`` (``weights.csv`` groups) holding every code of class ``name``,
    or None. A class may be part of a group: the 2020 class LBBB (164909002) is scored in the 2021
    group 733534002|164909002."""
    codes = set(str(name).split("|"))
    columns = [i for i, group in enumerate(table_classes) if codes <= set(group.split("|"))]
    return columns[0] if len(columns) == 1 else None


def _challenge_raw(weights, labels, outputs):
    union = np.maximum(np.sum(labels | outputs, axis=1), 1).astype(np.float64)
    # A[i, j] of the challenge metric (docs/design.md)
    confusion = (labels / union[:, None]).T @ outputs.astype(np.float64)
    return float(np.nansum(weights * confusion))


def challenge_metric(y_true, y_pred, classes, weights=None):
    """PhysioNet/CinC 2020/2021 challenge metric (normalised; 1 = perfect, 0 = always sinus rhythm).

    Args:
        y_true, y_pred: binary arrays (N, K).
        classes: K class strings as written in ``weights.csv`` (equivalents joined by ``|``, in any order).
        weights: None for the bundled 2021 table, a path to another ``weights.csv``, or a (K, K) array.
    Returns:
        float.
    Raises:
        ValueError: mismatched shapes, a class missing from the table, or no sinus-rhythm class.
    """
    labels, outputs = _check_pair(y_true, y_pred, "y_pred")
    outputs = outputs.astype(bool)
    if labels.shape[1] != len(classes):
        raise ValueError(f"arrays have {labels.shape[1]} columns but {len(classes)} classes were given")
    normal = [k for k, name in enumerate(classes) if snomed.NORMAL_CLASS in str(name).split("|")]
    if not normal:
        raise ValueError(f"the challenge metric needs the sinus rhythm class {snomed.NORMAL_CLASS} among the classes")
    matrix = _weights_for(list(classes), weights)
    inactive = np.zeros_like(labels)
    inactive[:, normal[0]] = True
    observed, correct, baseline = (_challenge_raw(matrix, labels, out) for out in (outputs, labels, inactive))
    return float((observed - baseline) / (correct - baseline)) if correct != baseline else 0.0
