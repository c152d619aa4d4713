"""Train/validation/test splits, k folds, and labelled/unlabelled splits.

Where a dataset defines folds (PTB-XL ``strat_fold``) they are used. Otherwise records are split by
iterative stratification (Sechidis, Tsoumakas and Vlahavas 2011), which keeps each class's share
close to the requested fractions in every part, also for rare classes and multi-label records.
"""

import numpy as np

from data_utils.readers.ptbxl import RECOMMENDED_FOLDS

SPLIT_NAMES = ("train", "validation", "test")


def iterative_stratification(y, fractions, seed=0):
    """Assign each row of a binary (N, K) label matrix to one of ``len(fractions)`` parts.

    Rarest labels are placed first; each record goes to the part, among those not yet full, that
    most lacks its rarest label (ties: the part that most lacks records, then at random). Rows
    without labels fill the parts that most lack records.

    Returns:
        int array (N,) of part indices.
    """
    y = np.asarray(y, dtype=bool)
    fractions = np.asarray(fractions, dtype=np.float64)
    if np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions {fractions.tolist()} must be non-negative and sum to 1")
    rng = np.random.default_rng(seed)
    n = len(y)
    wanted_rows = fractions * n
    wanted_labels = np.outer(fractions, y.sum(axis=0))
    part = np.full(n, -1)
    remaining = y.copy()
    while remaining.any():
        counts = remaining.sum(axis=0).astype(float)
        counts[counts == 0] = np.inf
        label = rng.choice(np.flatnonzero(counts == counts.min()))
        rows = rng.permutation(np.flatnonzero(remaining[:, label]))
        for row in rows:
            open_parts = np.flatnonzero(wanted_rows > 0)
            open_parts = open_parts if len(open_parts) else np.arange(len(fractions))
            need = wanted_labels[open_parts, label]
            candidates = open_parts[need == need.max()]
            if len(candidates) > 1:
                rows_need = wanted_rows[candidates]
                candidates = candidates[rows_need == rows_need.max()]
            chosen = rng.choice(candidates)
            part[row] = chosen
            wanted_labels[chosen] -= y[row]
            wanted_rows[chosen] -= 1
            remaining[row] = False
    for row in rng.permutation(np.flatnonzero(part < 0)):
        chosen = int(np.argmax(wanted_rows))
        part[row] = chosen
        wanted_rows[chosen] -= 1
    return part


def split_indices(dataset, fractions=(0.8, 0.1, 0.1), seed=0, use_folds=True):
    """Indices into ``dataset.refs`` for train, validation and test.

    PTB-XL uses its recommended folds (1-8, 9, 10) unless ``use_folds`` is False; other datasets
    a seeded stratified split with ``fractions``.

    Returns:
        ``{"train": int array, "validation": int array, "test": int array}``.
    """
    folds = [ref.fold for ref in dataset.refs]
    if use_folds and dataset.format == "ptbxl" and all(fold is not None for fold in folds):
        folds = np.asarray(folds)
        return {name: np.flatnonzero(np.isin(folds, RECOMMENDED_FOLDS[name])) for name in SPLIT_NAMES}
    part = iterative_stratification(dataset.label_matrix(), fractions, seed)
    return {name: np.flatnonzero(part == i) for i, name in enumerate(SPLIT_NAMES)}


def kfold_indices(y, k=5, seed=0):
    """``k`` stratified folds of a (N, K) label matrix: a list of ``(train, test)`` index arrays."""
    if k < 2:
        raise ValueError(f"cross-validation needs k >= 2, not {k}")
    part = iterative_stratification(y, np.full(k, 1.0 / k), seed)
    return [(np.flatnonzero(part != i), np.flatnonzero(part == i)) for i in range(k)]


def labeled_split(indices, y, fraction, seed=0):
    """Split ``indices`` into a labelled share ``fraction`` and the unlabelled rest, stratified.

    Args:
        indices: int array of record positions (for example the train split).
        y: the full (N, K) label matrix that ``indices`` point into.
        fraction: in (0, 1]; 1 keeps everything labelled.
    Returns:
        ``(labeled, unlabeled)`` int arrays, each a subset of ``indices``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"labeled fraction must lie in (0, 1], not {fraction}")
    indices = np.asarray(indices)
    if fraction == 1:
        return indices, indices[:0]
    part = iterative_stratification(np.asarray(y)[indices], (fraction, 1 - fraction), seed)
    return indices[part == 0], indices[part == 1]


def class_balance_weights(y, power):
    """Per-row chances that draw rare classes more often than their share of ``y``.

    A row's chance is ``count ** -power`` of its rarest positive class among the rows of ``y`` (rows
    with no positive class count as one more class): ``power`` 1 draws every class about equally
    often, 0.5 each class in proportion to the square root of its count, 0 every row alike.

    Args:
        y: (n, K) labels of the rows to draw from (one-hot for single-label data).
        power: in [0, 1].
    Returns:
        (n,) float array of positive chances (not normalised).
    """
    if not 0 <= power <= 1:
        raise ValueError(f"power must lie in [0, 1], not {power}")
    positive = np.asarray(y) > 0.5
    groups = np.concatenate([positive, ~positive.any(axis=1, keepdims=True)], axis=1)  # (n, K + 1)
    counts = groups.sum(axis=0).astype(float)
    return np.where(groups, np.maximum(counts, 1.0) ** -power, 0.0).max(axis=1)
