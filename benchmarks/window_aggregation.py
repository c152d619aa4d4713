"""How a record's window outputs are combined, chosen on validation: CinC 2017 single-label files.

    python -m benchmarks.window_aggregation --data ../shared/data/cinc2017/training2017 \
        --runs benchmarks/results/cinc2017_seeds_fs50/lrhnet_s0 benchmarks/results/cinc2017_seeds_fs50/lrhnet_s1 \
        benchmarks/results/cinc2017_seeds_fs50/lrhnet_s2 --out benchmarks/results/cinc2017_window_aggregation.json

``predict`` cuts a record into windows half a window apart and averages their class probabilities.
For each run folder (its ``--file``, default ``exports/student_int8.tflite``, with its sidecar, and
its ``split.json``), this scores every pair of a window stride (``--stride-fractions`` of the
window) and a rule (``AGGREGATIONS``) on the validation and test records, each with the decision
rule of ``lrhnet.training.tune_decision_rule`` tuned on that pair's validation outputs. The pair
with the highest mean validation CinC 2017 F1 over the files is the one to deploy (the shipped pair
when it ties); test figures are shown, never used. The shipped pair is also scored with the rule
the file's sidecar holds (``shipped_sidecar_rule``: what ``predict`` gives a user, whose rule
``train.py`` tuned). Files are read, not changed. With
``--cache-rounding`` each prepared record is first rounded to float16, as ``train.py``'s signal cache
stores it: the shipped pair then gives the figures of the run's ``report.json``.
"""

import argparse
import json
import os
import sys

import numpy as np

from benchmarks.decision_rule import read_split, split_outputs, split_rows
from benchmarks.provenance import provenance
from benchmarks.published_files import check_out, fingerprint, shown
from data_utils.files import atomic_write
from data_utils.readers import open_dataset

BENCHMARK = "window_aggregation"
SHIPPED = ("mean", 0.5)  # what predict and train.py's evaluation do


def renormalised(values):
    """(K,) scores divided by their sum, so that they read as probabilities again."""
    return values / values.sum()


# rule -> ((W, K) window probabilities -> (K,) record probabilities)
AGGREGATIONS = {
    "mean": lambda windows: windows.mean(axis=0),
    # the normalised geometric mean of the windows' probabilities (a window sure a class is absent vetoes it)
    "geometric": lambda windows: renormalised(np.exp(np.log(np.clip(windows, 1e-7, 1.0)).mean(axis=0))),
    "median": lambda windows: renormalised(np.median(windows, axis=0)),
    # each class as strongly as its most confident window (a short episode anywhere in the record counts)
    "max": lambda windows: renormalised(windows.max(axis=0)),
}


def combined(outputs, rule):
    """(N, K) record probabilities from N records' (W, K) window outputs under ``rule``."""
    return np.stack([AGGREGATIONS[rule](record) for record in outputs])


def variant_name(rule, fraction):
    return f"{rule}, stride {fraction:g} window"


def score_variants(windows, classes):
    """``{variant name: {"rule", "stride_fraction", "validation_cinc2017_f1", "test_cinc2017_f1", "thresholds"}}``
    from ``windows`` = ``{stride fraction: {split name: ([(W, K) per record], (N, K) labels)}}``."""
    from lrhnet.training import scores_on_splits

    scored = {}
    for fraction, splits in windows.items():
        for rule in AGGREGATIONS:
            validation, test = ((combined(splits[name][0], rule), splits[name][1]) for name in ("validation", "test"))
            scores = scores_on_splits(validation, test, classes, multilabel=False)
            scored[variant_name(rule, fraction)] = {
                "rule": rule,
                "stride_fraction": fraction,
                "validation_cinc2017_f1": scores["validation"]["cinc2017_f1"],
                "test_cinc2017_f1": scores["test"]["cinc2017_f1"],
                "thresholds": scores["thresholds"],
            }
    return scored


def sidecar_rule_scores(windows, classes, thresholds):
    """``{"validation_cinc2017_f1", "test_cinc2017_f1"}`` of the shipped pair under the sidecar's
    ``thresholds``, from ``windows`` = ``{split name: ([(W, K) per record], (N, K) labels)}`` at its stride."""
    from lrhnet.training import score

    return {
        f"{name}_cinc2017_f1": score(labels, combined(outputs, SHIPPED[0]), thresholds, classes, multilabel=False)[
            "cinc2017_f1"
        ]
        for name, (outputs, labels) in windows.items()
    }


def class_counts(dataset, rows, classes):
    """``{class: how many of ``rows`` (rows of ``dataset``) are labelled with it}`` for each of ``classes``."""
    labels = [dataset.refs[row].labels[0] for row in rows]
    return {name: labels.count(name) for name in classes}


def checked_rows(parser, dataset, split, classes, run, names=("validation", "test")):
    """``split_rows`` of ``run``'s ``split`` for its lists ``names``; ends through ``parser.error`` when a
    record is not in ``dataset`` or has a class not in ``classes``, or when a list has no record of one
    of ``classes`` (its F1 would be undefined, or 0 if predicted). Reads no signal."""
    try:
        rows = split_rows(dataset, split, classes, names)
    except ValueError as error:
        parser.error(f"{run}: {error}")
    for name, found in rows.items():
        lacking = [name_of_class for name_of_class, count in class_counts(dataset, found, classes).items() if not count]
        if lacking:
            parser.error(f"{run}: no {name} record is labelled {lacking[0]!r}; every class is needed")
    return rows


def chosen(files):
    """``{"variants": {name: mean validation and test F1 over files}, "chosen": name, "shipped": name}``:
    the variant with the highest mean validation F1 (the shipped one when it ties), and the shipped
    pair's mean figures under the sidecars' rules (``shipped_sidecar_rule``)."""
    names = list(next(iter(files.values()))["variants"])
    means = {
        name: {
            field: float(np.mean([found["variants"][name][field] for found in files.values()]))
            for field in ("validation_cinc2017_f1", "test_cinc2017_f1")
        }
        for name in names
    }
    shipped = variant_name(*SHIPPED)
    best = max(names, key=lambda name: (means[name]["validation_cinc2017_f1"], name == shipped))
    sidecar = {
        field: float(np.mean([found["shipped_sidecar_rule"][field] for found in files.values()]))
        for field in ("validation_cinc2017_f1", "test_cinc2017_f1")
    }
    return {"variants": means, "chosen": best, "shipped": shipped, "shipped_sidecar_rule": sidecar}


def check_fractions(fractions):
    """Stride fractions as given; ``ValueError`` unless each is in (0, 1] and the shipped 0.5 is among them."""
    bad = [value for value in fractions if not (np.isfinite(value) and 0 < value <= 1)]
    if bad:
        raise ValueError(f"--stride-fractions {bad[0]}: a stride is a share of the window in (0, 1]")
    if SHIPPED[1] not in fractions:
        raise ValueError(f"--stride-fractions must hold {SHIPPED[1]:g}, the stride predict ships, to compare with it")
    return fractions


def add_run_arguments(parser, runs_help):
    """``--data``, ``--runs`` (described by ``runs_help``), ``--file``, ``--cache-rounding`` and ``--out``,
    as the aggregation benchmarks take them."""
    parser.add_argument("--data", required=True, help="the CinC 2017 folder the files were trained on")
    parser.add_argument("--runs", nargs="+", required=True, help=runs_help)
    parser.add_argument(
        "--file", default=os.path.join("exports", "student_int8.tflite"), help="the model file inside each run"
    )
    parser.add_argument(
        "--cache-rounding", action="store_true", help="round records to float16 first, as train.py's cache stores them"
    )
    parser.add_argument("--out", required=True, help="results JSON path")


def single_label_window_seconds(path):
    """The window length, in seconds, of the model file ``path`` (read from its sidecar);
    ``ValueError`` for a multi-label model (these benchmarks compare single-label rules)."""
    from lrhnet.sidecar import read_sidecar

    sidecar = read_sidecar(path)
    if sidecar["multilabel"]:
        raise ValueError(f"{path}: a multi-label model; this compares single-label rules")
    return int(sidecar["window"]) / float(sidecar["preprocessing"]["fs"])


def write_summary(args, benchmark, files):
    """Choose over ``files`` (``chosen``), say which on stderr, and write the results JSON to
    ``args.out`` with the provenance, ``args.data``, ``args.file`` and ``args.cache_rounding``."""
    summary = chosen(files)
    print(f"chosen on validation: {summary['chosen']} (shipped: {summary['shipped']})", file=sys.stderr)
    result = {"benchmark": benchmark, **provenance(), "data": shown(args.data), "file": args.file}
    result["cache_rounding"] = args.cache_rounding
    atomic_write(args.out, json.dumps({**result, **summary, "files": files}, indent=1))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.window_aggregation", description=__doc__.splitlines()[0]
    )
    add_run_arguments(parser, "run folders, each with split.json and --file")
    parser.add_argument("--stride-fractions", nargs="+", type=float, default=[0.5, 0.25, 0.1])
    args = parser.parse_args(argv)
    problem = check_out(args.out, BENCHMARK, data=args.data)
    if problem:
        parser.error(problem)
    from lrhnet.predict import Predictor

    try:
        fractions = check_fractions(args.stride_fractions)
        splits = {run: read_split(os.path.join(run, "split.json")) for run in args.runs}
        predictors = {}
        for run in args.runs:
            path = os.path.join(run, args.file)
            seconds = single_label_window_seconds(path)
            for fraction in fractions:
                stride = fraction * seconds
                predictors[run, fraction] = Predictor(path, stride_seconds=stride, cache_rounding=args.cache_rounding)
        dataset = open_dataset(args.data, progress=True)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    for run in args.runs:
        checked_rows(parser, dataset, splits[run], predictors[run, fractions[0]].classes, run)
    files = {}
    for run in args.runs:
        classes = predictors[run, fractions[0]].classes
        try:  # ids and classes are checked: only a record that cannot be read ends here
            windows = {
                fraction: split_outputs(dataset, splits[run], classes, predictors[run, fraction].window_probabilities)
                for fraction in fractions
            }
        except ValueError as error:
            parser.error(f"--data {args.data}, {run}: {error}")
        shipped = predictors[run, SHIPPED[1]]
        files[shown(run)] = {
            "fingerprint": fingerprint(os.path.join(run, args.file)),
            "variants": score_variants(windows, classes),
            "shipped_sidecar_rule": sidecar_rule_scores(
                windows[SHIPPED[1]], classes, shipped.sidecar.get("thresholds")
            ),
        }
        print(f"{run}: scored {len(files[shown(run)]['variants'])} variants", file=sys.stderr)
    write_summary(args, BENCHMARK, files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
