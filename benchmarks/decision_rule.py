"""What the single-label decision rule tuned on validation buys the published CinC 2017 files, as shipped.

    python -m benchmarks.decision_rule --data ../shared/data/cinc2017/training2017 \
        --out benchmarks/results/cinc2017_decision_rule.json

Every model file with a sidecar in ``--models`` (default ``models/cinc2017``) predicts the
validation and test records named in the folder's ``split.json`` through ``lrhnet.predict``'s
``Predictor`` (as ``python -m lrhnet.predict`` would). The per-class divisors of
``data_utils.scoring.weighted_argmax`` are tuned on the validation records for the CinC 2017 F1
(``lrhnet.training.tune_decision_rule``); the test records are scored with the arg-max and with
the tuned rule. The files themselves are not changed. First made for files published before
``train.py`` tuned the rule; ``benchmarks.run_all`` does not run it: run it again after republishing.
"""

import argparse
import json
import os
import sys

import numpy as np

from benchmarks.provenance import provenance
from benchmarks.published_files import check_out, fingerprint, model_files, shown
from data_utils.files import atomic_write
from data_utils.readers import open_dataset

BENCHMARK = "decision_rule"


def split_predictions(dataset, split, predictor):
    """``{split name: ((N, K) probabilities, (N, K) one-hot labels)}`` of ``predictor`` on the records named
    in ``split``'s ``validation`` and ``test`` lists (in the predictor's class order)."""
    found = split_outputs(dataset, split, predictor.classes, predictor.predict)
    return {name: (np.stack(outputs), labels) for name, (outputs, labels) in found.items()}


def split_rows(dataset, split, classes, names=("validation", "test")):
    """``{split name: [row of ``dataset`` per record]}`` for ``split``'s lists ``names``; ``ValueError`` when a
    record is not in ``dataset`` or is labelled with a class not in ``classes``. Reads no signal."""
    position = {record_id: index for index, record_id in enumerate(dataset.record_ids)}
    rows = {}
    for name in names:
        missing = [record_id for record_id in split[name] if record_id not in position]
        if missing:
            raise ValueError(f"{len(missing)} {name} records of split.json are not in the data, e.g. {missing[0]}")
        rows[name] = [position[record_id] for record_id in split[name]]
        unknown = sorted({dataset.refs[row].labels[0] for row in rows[name]} - set(classes))
        if unknown:
            raise ValueError(f"{name} records are labelled {unknown}, classes the model does not have")
    return rows


def split_outputs(dataset, split, classes, output, names=("validation", "test")):
    """``{split name: ([output(record) per record], (N, K) one-hot labels in ``classes`` order)}`` on the
    records named in ``split``'s lists ``names``, every list checked (``split_rows``, ``ValueError``)
    before the first record is read; a record that cannot be read raises ``data_utils``' ``RecordError``,
    a ``ValueError`` too."""
    eye = np.eye(len(classes))
    return {
        name: (
            [output(dataset.read(row)) for row in rows],
            np.stack([eye[classes.index(dataset.refs[row].labels[0])] for row in rows]),
        )
        for name, rows in split_rows(dataset, split, classes, names).items()
    }


def compare(predictions, classes):
    """Test CinC 2017 F1 (and per-class F1) with the arg-max and with the rule tuned on validation."""
    from lrhnet.training import score, tune_decision_rule

    (val_p, val_y), (test_p, test_y) = predictions["validation"], predictions["test"]
    thresholds = tune_decision_rule(val_y, val_p, classes, multilabel=False)
    rows = {}
    for rule, divisors in (("argmax", None), ("tuned", thresholds)):
        test, validation = (
            score(y, p, divisors, classes, multilabel=False) for p, y in ((test_p, test_y), (val_p, val_y))
        )
        rows[rule] = {
            "validation_cinc2017_f1": validation["cinc2017_f1"],
            "test_cinc2017_f1": test["cinc2017_f1"],
            "test_f1": {name: test[f"f1_{name}"] for name in classes},
        }
    return {"thresholds": [float(t) for t in thresholds], **rows}


def read_split(path):
    """``{"validation": [record ids], "test": [...]}`` of a ``split.json``; ``ValueError`` when it is not one."""
    try:
        with open(path) as handle:
            split = json.load(handle)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable split ({error})") from None
    if not isinstance(split, dict) or not all(
        isinstance(split.get(name), list) and split[name] for name in ("validation", "test")
    ):
        raise ValueError(f"{path}: a split names its non-empty 'validation' and 'test' record lists")
    return split


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decision_rule", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the CinC 2017 folder the files were trained on")
    parser.add_argument(
        "--models", default=os.path.join("models", "cinc2017"), help="folder of the files and split.json"
    )
    parser.add_argument("--out", required=True, help="results JSON path")
    args = parser.parse_args(argv)
    problem = check_out(args.out, BENCHMARK, data=args.data)
    if problem:
        parser.error(problem)
    paths = model_files(args.models)
    if not paths:
        parser.error(f"--models {args.models}: no .tflite or .keras file with a .json sidecar")
    from lrhnet.predict import Predictor

    try:
        split = read_split(os.path.join(args.models, "split.json"))
        predictors = {os.path.basename(path): Predictor(path) for path in paths}
        dataset = open_dataset(args.data, progress=True)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    for path in paths:  # every file is checked before the first record is predicted
        predictor = predictors[os.path.basename(path)]
        if predictor.sidecar["multilabel"]:
            parser.error(f"{path}: a multi-label model; this compares single-label decision rules")
        try:
            split_rows(dataset, split, predictor.classes)
        except ValueError as error:
            parser.error(f"--data {args.data}: {error}")
    files = {}
    for path in paths:
        name = os.path.basename(path)
        predictor = predictors[name]
        try:
            predictions = split_predictions(dataset, split, predictor)
        except ValueError as error:
            parser.error(f"--data {args.data}: {error}")
        files[name] = {"fingerprint": fingerprint(path), **compare(predictions, predictor.classes)}
        print(
            f"{name}: test CinC 2017 F1 {files[name]['argmax']['test_cinc2017_f1']:.3f} (arg-max), "
            f"{files[name]['tuned']['test_cinc2017_f1']:.3f} (tuned on validation)",
            file=sys.stderr,
        )
    result = {"benchmark": BENCHMARK, **provenance(), "data": shown(args.data), "models": shown(args.models)}
    atomic_write(args.out, json.dumps({**result, "files": files}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
