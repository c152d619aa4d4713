"""A learned rule for combining a record's window outputs, against the shipped mean: CinC 2017 single-label files.

    python -m benchmarks.learned_aggregation --data ../shared/data/cinc2017/training2017 \
        --runs benchmarks/results/cinc2017_seeds_fs50/lrhnet_s0 benchmarks/results/cinc2017_seeds_fs50/lrhnet_s1 \
        benchmarks/results/cinc2017_seeds_fs50/lrhnet_s2 --cache-rounding \
        --out benchmarks/results/cinc2017_learned_aggregation.json

``predict`` averages the class probabilities of a record's windows (half a window apart). The
learned rule reads more of them: per class, the log of the windows' mean, largest and smallest
probability and their standard deviation, and the log of the number of windows ((4K + 1,)
features, ``window_statistics``), mapped to class probabilities by a multinomial logistic
regression (standardised features, L2 penalty of strength 1 / C for each ``--c``). It is fitted
twice: on the run's training records, the records the network learned from (whose outputs may be
surer than on records it never saw), and on its validation records by cross-fitting: each of
``--folds`` stratified parts of the validation records is scored by a rule fitted on the others,
and the test records by a rule fitted on all of them. Every variant, the shipped mean included,
then gets the decision rule of ``lrhnet.training.tune_decision_rule`` tuned on its own validation
outputs (for the cross-fitted rule: the outputs of the parts' rules). The variant with the
highest mean validation CinC 2017 F1 over the files is the one to deploy (the shipped mean on a
tie); test figures are shown, never used. Files are read, not changed; ``--cache-rounding`` as in
``benchmarks.window_aggregation``.
"""

import argparse
import os
import sys

import numpy as np

from benchmarks.decision_rule import read_split, split_outputs
from benchmarks.published_files import check_out, fingerprint, shown
from benchmarks.window_aggregation import (
    SHIPPED,
    add_run_arguments,
    checked_rows,
    class_counts,
    combined,
    sidecar_rule_scores,
    single_label_window_seconds,
    variant_name,
    write_summary,
)
from data_utils.readers import open_dataset

BENCHMARK = "learned_aggregation"
FLOOR = 1e-6  # probabilities are clipped here before their log


def window_statistics(outputs):
    """(N, 4K + 1) features of N records from their (W, K) window probabilities: per class the log of
    the mean, the log of the largest and of the smallest probability, the standard deviation, then
    the log of W."""
    rows = []
    for windows in outputs:
        logs = [np.log(np.clip(value, FLOOR, 1.0)) for value in (windows.mean(0), windows.max(0), windows.min(0))]
        rows.append(np.concatenate([*logs, windows.std(0), [np.log(len(windows))]]))
    return np.array(rows)


def fit_rule(features, labels, c):
    """A fitted rule (``predict_proba`` gives (N, K) in the labels' column order) from N records'
    ``window_statistics`` and their (N, K) one-hot labels; ``ValueError`` unless every class has a record."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    targets = labels.argmax(1)
    if len(np.unique(targets)) != labels.shape[1]:
        raise ValueError("the records must hold every class for the rule to give each a probability")
    regression = LogisticRegression(C=c, max_iter=5000)
    return make_pipeline(StandardScaler(), regression).fit(features, targets)


def learned_name(c):
    return f"learned, C {c:g}, stride {SHIPPED[1]:g} window"


def cross_fitted_name(c, folds):
    return f"learned on validation, {folds}-fold cross-fitted, C {c:g}, stride {SHIPPED[1]:g} window"


def cross_fitted(validation, test_features, c, folds, seed=0):
    """((N, K) validation probabilities, (M, K) test probabilities) of a rule fitted on validation records:
    each of ``folds`` stratified parts of ``validation`` = ((N, 4K + 1) ``window_statistics``, (N, K)
    one-hot labels) is scored by a rule fitted on the other parts, the (M, 4K + 1) ``test_features``
    by one fitted on all of them. Every class needs ``folds`` validation records or more; the parts are
    drawn with seed ``seed``."""
    from sklearn.model_selection import StratifiedKFold

    features, labels = validation
    targets = labels.argmax(1)
    found = np.zeros(labels.shape)
    for fitted_on, scored in StratifiedKFold(folds, shuffle=True, random_state=seed).split(features, targets):
        found[scored] = fit_rule(features[fitted_on], labels[fitted_on], c).predict_proba(features[scored])
    return found, fit_rule(features, labels, c).predict_proba(test_features)


def score_variants(windows, classes, cs, folds):
    """``{variant name: {"rule", "c", "validation_cinc2017_f1", "test_cinc2017_f1", "thresholds"}}``: the
    shipped mean, and per C a rule fitted on the training records and one cross-fitted on the
    validation records over ``folds`` parts (``cross_fitted``), from ``windows`` = ``{split name:
    ([(W, K) per record], (N, K) labels)}`` for the train, validation and test records."""
    from lrhnet.training import scores_on_splits

    def entry(rule, c, validation, test):
        scores = scores_on_splits(validation, test, classes, multilabel=False)
        return {
            "rule": rule,
            "c": c,
            "validation_cinc2017_f1": scores["validation"]["cinc2017_f1"],
            "test_cinc2017_f1": scores["test"]["cinc2017_f1"],
            "thresholds": scores["thresholds"],
        }

    labels = {name: found[1] for name, found in windows.items()}
    scored = {
        variant_name(*SHIPPED): entry(
            SHIPPED[0],
            None,
            *((combined(windows[name][0], SHIPPED[0]), labels[name]) for name in ("validation", "test")),
        )
    }
    features = {name: window_statistics(found[0]) for name, found in windows.items()}
    for c in cs:
        rule = fit_rule(features["train"], labels["train"], c)
        found = ((rule.predict_proba(features[name]), labels[name]) for name in ("validation", "test"))
        scored[learned_name(c)] = entry("learned", c, *found)
    for c in cs:
        validation, test = cross_fitted((features["validation"], labels["validation"]), features["test"], c, folds)
        scored[cross_fitted_name(c, folds)] = entry(
            "learned on validation", c, (validation, labels["validation"]), (test, labels["test"])
        )
    return scored


def check_cs(cs):
    """The ``--c`` values as given; ``ValueError`` unless each is a positive finite number."""
    bad = [value for value in cs if not (np.isfinite(value) and value > 0)]
    if bad:
        raise ValueError(f"--c {bad[0]}: the inverse strength of the L2 penalty is a positive number")
    return cs


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.learned_aggregation", description=__doc__.splitlines()[0]
    )
    add_run_arguments(parser, "run folders, each with split.json (train, validation, test) and --file")
    parser.add_argument("--c", nargs="+", type=float, default=[0.1, 1.0], help="inverse L2 strengths to try")
    parser.add_argument(
        "--folds", type=int, default=5, help="parts of the validation records for cross-fitting (default: 5)"
    )
    args = parser.parse_args(argv)
    problem = check_out(args.out, BENCHMARK, data=args.data)
    if problem:
        parser.error(problem)
    from lrhnet.predict import Predictor

    names = ("train", "validation", "test")
    try:
        cs = check_cs(args.c)
        if args.folds < 2:
            raise ValueError(f"--folds {args.folds}: cross-fitting needs at least 2 parts")
        splits = {run: read_split(os.path.join(run, "split.json")) for run in args.runs}
        for run, split in splits.items():
            if not (isinstance(split.get("train"), list) and split["train"]):
                raise ValueError(f"{run}: split.json names no 'train' records to fit the rule on")
        predictors = {}
        for run in args.runs:
            path = os.path.join(run, args.file)
            stride = SHIPPED[1] * single_label_window_seconds(path)
            predictors[run] = Predictor(path, stride_seconds=stride, cache_rounding=args.cache_rounding)
        dataset = open_dataset(args.data, progress=True)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    for run in args.runs:
        rows = checked_rows(parser, dataset, splits[run], predictors[run].classes, run, names)
        counts = class_counts(dataset, rows["validation"], predictors[run].classes)
        scarcest = min(counts, key=counts.get)
        if counts[scarcest] < args.folds:
            parser.error(
                f"{run}: the validation records labelled {scarcest!r} are {counts[scarcest]}, fewer than "
                f"--folds {args.folds}: lower --folds"
            )
    files = {}
    for run in args.runs:
        predictor = predictors[run]
        try:  # ids and classes are checked: only a record that cannot be read ends here
            windows = split_outputs(dataset, splits[run], predictor.classes, predictor.window_probabilities, names)
        except ValueError as error:
            parser.error(f"--data {args.data}, {run}: {error}")
        shipped_windows = {name: windows[name] for name in ("validation", "test")}
        files[shown(run)] = {
            "fingerprint": fingerprint(os.path.join(run, args.file)),
            "records": {name: len(windows[name][1]) for name in names},
            "variants": score_variants(windows, predictor.classes, cs, args.folds),
            "shipped_sidecar_rule": sidecar_rule_scores(
                shipped_windows, predictor.classes, predictor.sidecar.get("thresholds")
            ),
        }
        print(f"{run}: scored {len(files[shown(run)]['variants'])} variants", file=sys.stderr)
    write_summary(args, BENCHMARK, files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
