"""Paired differences between rows of two ``ptbxl_distillation`` results files.

    python -m benchmarks.paired_rows --against benchmarks/results/ptbxl_teachers_intel.json:teacher \
        --rows benchmarks/results/ptbxl_distillation.json:teacher_window_2.5s \
        benchmarks/results/ptbxl_distillation.json:teacher_window_5s \
        --out benchmarks/results/ptbxl_teacher_crops_intel.json

Networks trained on another kind of CPU come out different (docs/results.md), so a recipe is best
compared with a reference trained on the same kind, which may live in another results file. Each
``FILE:MODEL`` names the runs of one row model (with full labels, as the teacher rows are); a run is
paired with the reference run of the same seed, leads and labelled fraction on the same test
records. Written: each row's validation and test macro AUROC per seed, their means, and the mean
paired test difference over seeds with a 95 % bootstrap interval (``paired_difference``).
"""

import argparse
import json
import os

import numpy as np

from benchmarks.provenance import provenance
from benchmarks.ptbxl_distillation import paired_difference
from data_utils.files import atomic_write


def read_row(spec):
    """``FILE:MODEL`` -> ``{(seed, leads, fraction): (run, labels (N, K), probabilities (N, K))}``, the
    file's CPU model and its commit. Raises ``ValueError`` when the file has no such runs."""
    path, _, model = spec.rpartition(":")
    if not path or not model:
        raise ValueError(f"{spec}: expected FILE:MODEL")
    with open(path) as handle:
        results = json.load(handle)
    with open(os.path.splitext(path)[0] + "_predictions.json") as handle:
        predictions = json.load(handle)
    runs = {}
    for run in results["runs"]:
        if run["model"] == model:
            key = "/".join(str(run[name]) for name in ("model", "leads", "seed", "fraction", "teacher"))
            labels = predictions.get("run_labels", {}).get(key, predictions["labels"])
            runs[(run["seed"], run["leads"], run["fraction"])] = (
                run,
                np.asarray(labels, float),
                np.asarray(predictions["runs"][key], float),
            )
    if not runs:
        raise ValueError(f"{spec}: no runs of model {model!r} in {path}")
    return runs, results["cpu"]["model"], results["commit"]


def compare(row, reference, resamples=1000):
    """The summary of ``row`` paired with ``reference`` (both from ``read_row``), per shared seed."""
    shared = sorted(set(row) & set(reference))
    if not shared:
        raise ValueError("no seed, leads and fraction in common")
    pairs = []
    for key in shared:
        labels, probabilities = row[key][1:]
        if not np.array_equal(labels, reference[key][1]):
            raise ValueError(f"seed {key[0]}: the two runs were scored on other test records")
        pairs.append((labels, probabilities, reference[key][2]))

    def scores(runs):
        return {
            "validation": [runs[key][0]["validation"]["macro_auroc"] for key in shared],
            "test": [runs[key][0]["test"]["macro_auroc"] for key in shared],
        }

    mine, theirs = scores(row), scores(reference)
    return {
        "seeds": [key[0] for key in shared],
        "row": mine,
        "reference": theirs,
        "means": {
            split: {"row": float(np.mean(mine[split])), "reference": float(np.mean(theirs[split]))}
            for split in ("validation", "test")
        },
        "paired_test_difference": paired_difference(pairs, resamples),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, help="FILE:MODEL, the reference row")
    parser.add_argument("--rows", nargs="+", required=True, help="FILE:MODEL rows compared with it")
    parser.add_argument("--out", required=True, help="results JSON to write (refused if it exists)")
    args = parser.parse_args(argv)
    if os.path.exists(args.out):
        parser.error(f"--out {args.out} exists; choose another file")
    try:
        reference, reference_cpu, reference_commit = read_row(args.against)
        rows = {spec: read_row(spec) for spec in args.rows}
        compared = {spec: compare(runs, reference) for spec, (runs, _, _) in rows.items()}
    except (OSError, KeyError, ValueError) as error:
        parser.error(str(error))
    trained = {spec: {"cpu": cpu, "commit": commit} for spec, (_, cpu, commit) in rows.items()}
    trained[args.against] = {"cpu": reference_cpu, "commit": reference_commit}
    content = {**provenance(), "against": args.against, "trained": trained, "rows": compared}
    atomic_write(args.out, json.dumps(content, indent=1))
    for spec, summary in compared.items():
        difference, low, high = summary["paired_test_difference"]
        print(f"{spec}: test {difference:+.4f} [{low:+.4f}, {high:+.4f}] over seeds {summary['seeds']}")


if __name__ == "__main__":
    main()
