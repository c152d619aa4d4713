"""The data settings the benchmarks share, so that their numbers describe the same splits.

All band-pass 0.5-40 Hz and resample to 100 Hz into the ``data_utils.cache``.
"""

from data_utils import STANDARD_LEADS, Preprocessing, open_dataset
from data_utils.cache import build_cache
from data_utils.splits import iterative_stratification, kfold_indices, split_indices

PREPROCESSING = Preprocessing(fs=100, band=(0.5, 40.0))
QUICK_SIZES = {"train": 256, "validation": 64, "test": 64}


def cinc2017_split(folder, quick=False):
    """CinC 2017 on lead I: ``(dataset, cache, split)``, the stratified 80/10/10 split of seed 0
    (``quick``: its first 256/64/64 rows)."""
    dataset = open_dataset(folder)
    cache = build_cache(dataset, PREPROCESSING, ("I",), progress=True)
    split = split_indices(dataset, seed=0)
    if quick:
        split = {name: index[: QUICK_SIZES[name]] for name, index in split.items()}
    return dataset, cache, split


LUDB_EPOCHS = 40  # at most: early stopping ends most runs sooner


def train_defaults():
    """``fit_network``'s ``schedule`` and ``patience`` as ``train.py`` sets them without flags (read from its
    parser, so the benchmarks follow when its defaults change)."""
    from kdpipeline.options import build_parser

    parser = build_parser()
    return {"schedule": parser.get_default("lr_schedule"), "patience": parser.get_default("patience") or None}


TRAIN_DEFAULTS = train_defaults()


def ludb_folds(folder, folds=5, quick=False):
    """LUDB on 12 leads, classes with at least 20 records: ``(cache, splits)``.

    ``splits`` holds one ``{"train", "validation", "test"}`` per fold of a stratified ``folds``-fold
    cross-validation (seed 0), 15 % of each training part held out for validation (seed = fold);
    ``quick`` keeps the first fold.
    """
    full = open_dataset(folder)
    counts = full.class_counts()
    dataset = full.with_classes(name for name in full.classes if counts[name] >= 20)
    cache = build_cache(dataset, PREPROCESSING, STANDARD_LEADS, progress=True)
    splits = []
    for fold, (train_part, test) in enumerate(kfold_indices(cache.labels, folds, seed=0)[: 1 if quick else folds]):
        part = iterative_stratification(cache.labels[train_part], (0.85, 0.15), seed=fold)
        splits.append({"train": train_part[part == 0], "validation": train_part[part == 1], "test": test})
    return cache, splits


def synthetic_split(records=3000, quick=False):
    """``records`` synthetic 10 s 12-lead records at 100 Hz (generator seed 0): ``(cache, split)``,
    the stratified 80/10/10 split of seed 0 (``quick``: 600 records)."""
    dataset = open_dataset(f"synthetic:n={600 if quick else records},fs=100,seconds=10,seed=0")
    cache = build_cache(dataset, PREPROCESSING, STANDARD_LEADS, progress=True)
    return cache, split_indices(dataset, seed=0)
