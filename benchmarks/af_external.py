"""Atrial fibrillation on another device: the published CinC 2017 students on PTB-XL's lead I.

    python -m benchmarks.af_external --data ../shared/data/ptbxl --out benchmarks/results/cinc2017_af_ptbxl.json

Every model file with a sidecar in ``--models`` (default ``models/cinc2017``) reads lead I of every
PTB-XL record through ``lrhnet.predict``'s ``Predictor``, exactly as ``python -m lrhnet.predict``
would (10 s hospital recordings at 100 Hz or 500 Hz, against the handheld 300 Hz recordings the
students learned from; each 10 s record fills two thirds of one 15 s window, zero-padded, where
the students learned from records of 9 to 61 s). Reference: PTB-XL's SCP statements, whatever
their likelihood (statements of likelihood 0 count). Positives are
records with ``AFIB``; negatives are records with neither ``AFIB`` nor ``AFLT``; records with ``AFLT``
and no ``AFIB`` are reported apart (atrial flutter is not the students' class A, yet often looks
like it). Per file: sensitivity and specificity of its own decision rule (A is what ``predict``
labels the record: the arg-max, or with thresholds in the sidecar the largest probability divided
by its threshold) with Wilson 95 % intervals, the AUROC of ``p_A``, and the share of flutter records
called A; the same for the AF screen when the sidecar holds one (``p_A`` at or above its threshold,
``benchmarks.af_screen``). Nothing here is tuned on these records: the decision rule and the
screen are the ones the files ship with. The results hold each file's fingerprint (model and
sidecar), so a republished file, or a new decision rule, needs a new run.
"""

import argparse
import json
import math
import os
import sys

import numpy as np

from benchmarks.provenance import provenance
from benchmarks.published_files import check_out, fingerprint, model_files, shown
from data_utils.files import atomic_write
from data_utils.readers import open_dataset
from data_utils.scoring import per_class_auroc

AF, FLUTTER, AF_CLASS = "AFIB", "AFLT", "A"
BENCHMARK = "af_external"
QUICK_RECORDS = 100


def wilson_interval(successes, trials, z=1.959964):
    """95 % Wilson score interval ``[low, high]`` of a proportion; ``[None, None]`` without trials."""
    if trials == 0:
        return [None, None]
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return [max(0.0, centre - half), min(1.0, centre + half)]


def proportion(successes, trials):
    """``{"value", "ci95", "count": [successes, trials]}`` of a proportion."""
    return {
        "value": successes / trials if trials else None,
        "ci95": wilson_interval(successes, trials),
        "count": [int(successes), int(trials)],
    }


def af_scores(groups, p_af, called_af):
    """AF screening figures of one model.

    Args:
        groups: (N,) strings, ``"af"``, ``"flutter"`` or ``"negative"`` per record.
        p_af: (N,) the model's probability of class A.
        called_af: (N,) bool, True where the model's decision rule says A.
    Returns:
        ``{"sensitivity", "specificity", "flutter_called_af"}`` as ``proportion`` dicts and
        ``"auroc"`` (AF against negatives; flutter left out; None without both).
    """
    groups, p_af, called_af = np.asarray(groups), np.asarray(p_af, dtype=float), np.asarray(called_af, dtype=bool)
    af, negative, flutter = groups == "af", groups == "negative", groups == "flutter"
    scored = af | negative
    auroc = per_class_auroc(af[scored, None].astype(float), p_af[scored, None])[0]
    return {
        "sensitivity": proportion(int(np.sum(called_af & af)), int(np.sum(af))),
        "specificity": proportion(int(np.sum(~called_af & negative)), int(np.sum(negative))),
        "auroc": float(auroc) if math.isfinite(auroc) else None,
        "flutter_called_af": proportion(int(np.sum(called_af & flutter)), int(np.sum(flutter))),
    }


def shown_value(value):
    """``value`` to three decimals, or ``n/a`` for None."""
    return "n/a" if value is None else f"{value:.3f}"


def af_group(labels):
    """``"af"``, ``"flutter"`` (AFLT without AFIB) or ``"negative"`` from a record's SCP statements."""
    if AF in labels:
        return "af"
    return "flutter" if FLUTTER in labels else "negative"


def checked_predictors(paths):
    """``{file name: Predictor}``; raises ``ValueError`` (or ``OSError``) naming a file that cannot be
    read, that is not a single-label model with an A (atrial fibrillation) class, or whose sidecar's
    screen calls another class."""
    from lrhnet.predict import Predictor

    predictors = {}
    for path in paths:
        predictor = Predictor(path)
        screen = predictor.sidecar.get("screen")
        if screen is not None and screen["class"] != AF_CLASS:
            raise ValueError(f"{path}: its sidecar's screen calls {screen['class']!r}, not {AF_CLASS!r}")
        if predictor.sidecar["multilabel"] or AF_CLASS not in predictor.classes:
            raise ValueError(
                f"{path}: a single-label model with class {AF_CLASS!r} (atrial fibrillation) is needed; this one is "
                f"{'multi' if predictor.sidecar['multilabel'] else 'single'}-label with classes {predictor.classes}"
            )
        predictors[os.path.basename(path)] = predictor
    return predictors


def evaluate(dataset, predictors, progress=True):
    """``({file name: af_scores}, groups)`` of every predictor on every readable record of ``dataset``;
    a file whose sidecar holds an AF screen also gets ``"screen"``: its threshold and the sensitivity,
    specificity and flutter share of the screen."""
    groups = []
    p_af, called, screened = ({name: [] for name in predictors} for _ in range(3))
    for index, record in dataset.iter_records(progress=progress, desc="predicting"):
        groups.append(af_group(dataset.refs[index].labels))
        for name, predictor in predictors.items():
            probabilities = predictor.predict(record)
            p_af[name].append(probabilities[predictor.classes.index(AF_CLASS)])
            called[name].append(predictor.decide(probabilities) == [AF_CLASS])
            screened[name].append(predictor.screened(probabilities))
    files = {}
    for name, predictor in predictors.items():
        files[name] = af_scores(groups, p_af[name], called[name])
        screen = predictor.sidecar.get("screen")
        if screen is not None:
            scores = af_scores(groups, p_af[name], screened[name])
            del scores["auroc"]  # the file's own: the screen only moves the threshold on p_A
            files[name]["screen"] = {"threshold": screen["threshold"], **scores}
    return files, groups


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.af_external", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a PTB-XL folder in its native layout")
    parser.add_argument("--models", default=os.path.join("models", "cinc2017"), help="folder of the model files")
    parser.add_argument("--out", required=True, help="results JSON path")
    parser.add_argument("--quick", action="store_true", help=f"check the script on the first {QUICK_RECORDS} records")
    args = parser.parse_args(argv)
    problem = check_out(args.out, BENCHMARK, data=args.data, quick=args.quick)
    if problem:
        parser.error(problem)
    paths = model_files(args.models)
    if not paths:
        parser.error(f"--models {args.models}: no .tflite or .keras file with a .json sidecar")
    try:
        predictors = checked_predictors(paths)
        dataset = open_dataset(args.data, format="ptbxl", label_set="all", progress=True)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    if not len(dataset):
        parser.error(f"--data {args.data}: no usable PTB-XL record")
    if args.quick:
        dataset = dataset.subset(range(min(QUICK_RECORDS, len(dataset))))
    files, groups = evaluate(dataset, predictors)
    for path in paths:
        name = os.path.basename(path)
        files[name] = {
            "fingerprint": fingerprint(path),
            "thresholds": predictors[name].sidecar["thresholds"],
            **files[name],
        }
    result = {
        "benchmark": BENCHMARK,
        **provenance(),
        "quick": args.quick,
        "data": {
            "folder": shown(args.data),
            "records": len(groups),
            "skipped": len(dataset.skipped),
            **{group: groups.count(group) for group in ("af", "flutter", "negative")},
        },
        "models": shown(args.models),
        "files": files,
    }
    atomic_write(args.out, json.dumps(result, indent=1))
    for name, scores in files.items():
        screen = scores.get("screen")
        print(
            f"{name}: sensitivity {shown_value(scores['sensitivity']['value'])}, specificity "
            f"{shown_value(scores['specificity']['value'])}, AUROC {shown_value(scores['auroc'])}"
            + (
                ""
                if screen is None
                else f"; screen (p_A >= {screen['threshold']:.3f}): sensitivity "
                f"{shown_value(screen['sensitivity']['value'])}, "
                f"specificity {shown_value(screen['specificity']['value'])}"
            ),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
