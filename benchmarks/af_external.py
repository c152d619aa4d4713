"""Atrial fibrillation on another device: the published CinC 2017 students on PTB-XL's lead I.

    python -m benchmarks.af_external --data ../shared/data/ptbxl --out benchmarks/results/cinc2017_af_ptbxl.json

Every model file with a sidecar in ``--models`` (default ``models/cinc2017``) reads lead I of every
PTB-XL record through ``lrhnet.predict``'s ``Predictor``, exactly as ``python -m lrhnet.predict``
would (10 s hospital recordings at 100 Hz or 500 Hz, against the handheld 300 Hz recordings the
students learned from). Reference: PTB-XL's SCP statements, whatever their likelihood. Positives are
records with ``AFIB``; negatives are records with neither ``AFIB`` nor ``AFLT``; records with ``AFLT``
and no ``AFIB`` are reported apart (atrial flutter is not the students' class A, yet often looks
like it). Per file: sensitivity and specificity of its own decision rule (the arg-max class is A,
as ``predict`` labels records) with Wilson 95 % intervals, the AUROC of ``p_A``, and the share of
flutter records called A. Nothing here is tuned on these records: the decision rule is the one the
files ship with. The results name each file's SHA-256, so a republished file needs a new run.
"""

import argparse
import glob
import hashlib
import json
import math
import os
import sys

import numpy as np

from benchmarks.provenance import REPOSITORY, provenance
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
        ``"auroc"`` (AF against negatives; flutter left out).
    """
    groups, p_af, called_af = np.asarray(groups), np.asarray(p_af, dtype=float), np.asarray(called_af, dtype=bool)
    af, negative, flutter = groups == "af", groups == "negative", groups == "flutter"
    scored = af | negative
    return {
        "sensitivity": proportion(int(np.sum(called_af & af)), int(np.sum(af))),
        "specificity": proportion(int(np.sum(~called_af & negative)), int(np.sum(negative))),
        "auroc": finite_or_none(per_class_auroc(af[scored, None].astype(float), p_af[scored, None])[0]),
        "flutter_called_af": proportion(int(np.sum(called_af & flutter)), int(np.sum(flutter))),
    }


def finite_or_none(value):
    """``value`` as a float, or None (JSON's null) when it is not finite."""
    return float(value) if math.isfinite(value) else None


def shown_value(value):
    """``value`` to three decimals, or ``n/a`` for None."""
    return "n/a" if value is None else f"{value:.3f}"


def af_group(labels):
    """``"af"``, ``"flutter"`` (AFLT without AFIB) or ``"negative"`` from a record's SCP statements."""
    if AF in labels:
        return "af"
    return "flutter" if FLUTTER in labels else "negative"


def model_files(folder):
    """The ``.tflite`` and ``.keras`` files of ``folder`` that have a sidecar, sorted."""
    return sorted(
        path
        for pattern in ("*.tflite", "*.keras")
        for path in glob.glob(os.path.join(folder, pattern))
        if os.path.exists(path + ".json")
    )


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def shown(path):
    """``path`` relative to the repository, as committed results name it."""
    return os.path.relpath(os.path.abspath(path), REPOSITORY)


def evaluate(dataset, paths, progress=True):
    """``{file name: af_scores + sha256}`` of every model in ``paths`` on every readable record of ``dataset``."""
    from lrhnet.predict import Predictor

    predictors = {os.path.basename(path): Predictor(path) for path in paths}
    for name, predictor in predictors.items():
        if AF_CLASS not in predictor.classes:
            raise ValueError(f"{name}: its classes {predictor.classes} have no {AF_CLASS!r} (atrial fibrillation)")
    groups, p_af, called = [], {name: [] for name in predictors}, {name: [] for name in predictors}
    for index, record in dataset.iter_records(progress=progress, desc="predicting"):
        groups.append(af_group(dataset.refs[index].labels))
        for name, predictor in predictors.items():
            probabilities = predictor.predict(record)
            p_af[name].append(probabilities[predictor.classes.index(AF_CLASS)])
            called[name].append(predictor.decide(probabilities) == [AF_CLASS])
    return {
        name: {"sha256": sha256(path), **af_scores(groups, p_af[name], called[name])}
        for name, path in zip(predictors, paths)
    }, groups


def check_out(out, benchmark=BENCHMARK):
    """What is wrong with ``--out`` (None when nothing is): it must be a ``.json`` file in an existing
    folder, and an existing file is replaced only when ``benchmark`` wrote it."""
    if not out.endswith(".json"):
        return "--out must name a .json file"
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        return f"--out {out}: its folder does not exist"
    if os.path.exists(out):
        try:
            with open(out) as handle:
                written_here = json.load(handle).get("benchmark") == benchmark
        except (OSError, ValueError, AttributeError):
            written_here = False
        if not written_here:
            return f"--out {out} exists and is not a results file of this benchmark; it is left as it is"
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.af_external", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a PTB-XL folder in its native layout")
    parser.add_argument("--models", default=os.path.join("models", "cinc2017"), help="folder of the model files")
    parser.add_argument("--out", required=True, help="results JSON path")
    parser.add_argument("--quick", action="store_true", help="check the script on the first 100 records")
    args = parser.parse_args(argv)
    problem = check_out(args.out)
    if problem:
        parser.error(problem)
    paths = model_files(args.models)
    if not paths:
        parser.error(f"--models {args.models}: no .tflite or .keras file with a .json sidecar")
    dataset = open_dataset(args.data, format="ptbxl", label_set="all", progress=True)
    if not len(dataset):
        parser.error(f"--data {args.data}: no usable PTB-XL record")
    if args.quick:
        dataset = dataset.subset(range(min(QUICK_RECORDS, len(dataset))))
    files, groups = evaluate(dataset, paths)
    result = {
        "benchmark": BENCHMARK,
        **provenance(),
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
        print(
            f"{name}: sensitivity {shown_value(scores['sensitivity']['value'])}, specificity "
            f"{shown_value(scores['specificity']['value'])}, AUROC {shown_value(scores['auroc'])}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
