"""Paired comparisons of recorded rows: how rows and their kept test probabilities are named, and the
bootstrap difference in macro AUROC between two networks scored on the same test records."""

import os

import numpy as np

KEY = ("model", "leads", "seed", "fraction", "teacher")  # what tells one recorded row from another


def run_id(run):
    """``"model/leads/seed/fraction/teacher"``: the name of ``run``'s probabilities in a predictions file."""
    return "/".join(str(run[name]) for name in KEY)


def predictions_path(results_path):
    """The file beside a results JSON that keeps its rows' test probabilities."""
    return os.path.splitext(results_path)[0] + "_predictions.json"


def test_labels(predictions, run):
    """The (N, K) test labels of ``run`` in a predictions file's content: its own when they differ
    from the file's first run's (another split), else the shared ones."""
    return np.asarray(predictions.get("run_labels", {}).get(run_id(run), predictions["labels"]), float)


def macro_auroc(labels, probabilities):
    """The mean over classes of the AUROC of (N, K) probabilities against (N, K) 0/1 labels (classes
    without both values left out)."""
    from data_utils import scoring

    return float(np.nanmean(scoring.per_class_auroc(labels, probabilities)))


def paired_difference(pairs, resamples=1000, seed=0):
    """Mean over seeds of macro AUROC(row) - macro AUROC(reference), with a 95 % bootstrap interval
    over test records (not over training randomness).

    Args:
        pairs: ``[(labels (N, K), row (N, K), reference (N, K))]``, one per seed (a distilled student
            and its plain twin, say), each pair on one
            seed's test records. Each resample draws N positions with replacement, the same for
            every pair of N records (on PTB-XL's fixed test fold: the same records for every seed).
    Returns:
        ``[difference, low, high]``.
    """
    rng = np.random.default_rng(seed)

    def difference(draw):
        gains = []
        for labels, row, reference in pairs:
            drawn = draw(len(labels))
            gains.append(macro_auroc(labels[drawn], row[drawn]) - macro_auroc(labels[drawn], reference[drawn]))
        return float(np.mean(gains))

    def resample():
        rows = {}  # one draw per test-set size, shared by the pairs of that size

        def draw(n):
            if n not in rows:
                rows[n] = rng.integers(0, n, n)
            return rows[n]

        return difference(draw)

    draws = [resample() for _ in range(resamples)]
    return [difference(np.arange), *map(float, np.percentile(draws, [2.5, 97.5]))]
