"""Splits: dataset folds, stratified parts, k folds, labelled fractions; reproducible by seed."""

import numpy as np
import pytest

from data_utils import open_dataset
from data_utils.splits import (
    class_balanced_draw,
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


def test_class_balanced_draw_matches_the_shares_computed_by_hand():
    """Classes of 80, 15 and 5 rows: power 1 draws each about a third of the time, 0.5 in proportion
    to sqrt(80) : sqrt(15) : sqrt(5), 0 in proportion to the counts; only rows of ``indices`` are drawn."""
    y = np.zeros((110, 3), np.float32)
    y[np.arange(100), np.repeat([0, 1, 2], [80, 15, 5])] = 1  # rows 100-109 are outside ``indices``
    indices = np.arange(100)
    for power, shares in (
        (1.0, [1 / 3] * 3),
        (0.5, np.sqrt([80, 15, 5]) / np.sqrt([80, 15, 5]).sum()),
        (0.0, [0.8, 0.15, 0.05]),
    ):
        drawn = class_balanced_draw(indices, y, 30_000, power, seed=1)
        assert set(drawn) <= set(indices)
        np.testing.assert_allclose(y[drawn].mean(axis=0), shares, atol=0.015)
    np.testing.assert_array_equal(
        class_balanced_draw(indices, y, 50, 1.0, 4), class_balanced_draw(indices, y, 50, 1.0, 4)
    )
    with pytest.raises(ValueError, match="power"):
        class_balanced_draw(indices, y, 10, 1.5)


def test_class_balanced_draw_weighs_a_multilabel_row_by_its_rarest_class_and_unlabelled_rows_as_a_class():
    """Rows: 6 of class 0 alone, 2 of classes 0 and 1, 2 with no class. Power 1: chance of a row is
    1 / count of its rarest class, so the two {0, 1} rows (count of class 1: 2) take 1/2 each, the
    class-0 rows 1/8 each, the empty rows 1/2 each: shares 6/8 : 2/2 : 2/2 of 2.75."""
    y = np.array([[1, 0]] * 6 + [[1, 1]] * 2 + [[0, 0]] * 2, np.float32)
    drawn = class_balanced_draw(np.arange(10), y, 40_000, 1.0, seed=2)
    shares = [np.isin(drawn, part).mean() for part in (np.arange(6), [6, 7], [8, 9])]
    np.testing.assert_allclose(shares, np.array([0.75, 1.0, 1.0]) / 2.75, atol=0.015)
