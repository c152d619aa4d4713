"""Splits: dataset folds, stratified parts, k folds, labelled fractions; reproducible by seed."""

import numpy as np
import pytest

from data_utils import open_dataset
from data_utils.splits import (
    class_balance_weights,
    iterative_stratification,
    kfold_indices,
    labeled_split,
    split_indices,
)


@pytest.fixture
def labels():
    rng = np.random.default_rng(1)
    rare = rng.random((2000, 1)) < 0.02
    return np.hstack([rng.random((2000, 5)) < [0.5, 0.2, 0.1, 0.05, 0.3], rare])


def test_stratification_keeps_class_shares(labels):
    part = iterative_stratification(labels, (0.8, 0.1, 0.1), seed=3)
    assert np.bincount(part).tolist() == [1600, 200, 200]
    for k in range(3):
        share = labels[part == k].mean(axis=0)
        np.testing.assert_allclose(share, labels.mean(axis=0), atol=0.011)
    assert np.array_equal(part, iterative_stratification(labels, (0.8, 0.1, 0.1), seed=3))
    assert not np.array_equal(part, iterative_stratification(labels, (0.8, 0.1, 0.1), seed=4))


def test_kfold_covers_every_record_once(labels):
    folds = kfold_indices(labels, k=5, seed=0)
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests.tolist()) == list(range(len(labels)))
    for train, test in folds:
        assert not set(train) & set(test)
        assert labels[test][:, 5].sum() in (6, 7)  # 34 rare positives spread evenly over 5 folds


def test_labeled_split(labels):
    train = np.arange(0, 2000, 2)
    labeled, unlabeled = labeled_split(train, labels, 0.1, seed=0)
    assert len(labeled) == 100 and len(unlabeled) == 900
    assert set(labeled) | set(unlabeled) == set(train) and not set(labeled) & set(unlabeled)
    everything, none = labeled_split(train, labels, 1.0)
    assert len(everything) == 1000 and len(none) == 0
    with pytest.raises(ValueError):
        labeled_split(train, labels, 0)


def test_ptbxl_uses_its_folds(bundled):
    dataset = open_dataset(bundled("ptbxl"), fs=500)
    split = split_indices(dataset)
    ids = {name: [dataset.record_ids[i] for i in index] for name, index in split.items()}
    assert ids == {"train": ["1", "2", "3"], "validation": ["8"], "test": []}


def test_other_datasets_split_by_seed(bundled):
    dataset = open_dataset(bundled("cinc2017"))
    split = split_indices(dataset, fractions=(0.5, 0.25, 0.25), seed=2)
    assert sorted(np.concatenate(list(split.values())).tolist()) == [0, 1, 2, 3]


def test_parts_keep_their_sizes_when_every_label_is_rare():
    singletons = np.eye(4, dtype=bool)  # each record alone in its class
    part = iterative_stratification(singletons, (0.5, 0.25, 0.25), seed=0)
    assert np.bincount(part, minlength=3).tolist() == [2, 1, 1]


def test_class_balance_weights_by_hand():
    """Classes A (3 rows), B (1 row), a row with none: chances count ** -power of the rarest positive
    class; the none-row is a class of 1. A row in A and B takes B's (rarer) chance."""
    y = np.array([[1, 0], [1, 0], [1, 1], [0, 0]])  # A: rows 0-2 (3), B: row 2 (1), none: row 3 (1)
    np.testing.assert_allclose(class_balance_weights(y, 1.0), [1 / 3, 1 / 3, 1.0, 1.0])
    np.testing.assert_allclose(class_balance_weights(y, 0.5), [3**-0.5, 3**-0.5, 1.0, 1.0])
    np.testing.assert_allclose(class_balance_weights(y, 0.0), [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="power must lie in"):
        class_balance_weights(y, 2.0)
