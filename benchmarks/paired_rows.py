"""Paired differences between rows of two ``ptbxl_distillation`` results files.

    python -m benchmarks.paired_rows --against benchmarks/results/ptbxl_teachers_intel.json:teacher \
        --rows benchmarks/results/ptbxl_distillation.json:teacher \
        benchmarks/results/ptbxl_distillation.json:teacher_window_2.5s \
        benchmarks/results/ptbxl_distillation.json:teacher_window_5s \
        benchmarks/results/ptbxl_distillation.json:teacher_window_2.5s_80ep \
        benchmarks/results/ptbxl_distillation.json:teacher_demographics \
        --out benchmarks/results/ptbxl_teacher_crops_intel.json

Networks trained on another kind of CPU come out different (docs/results.md), so a recipe is best
compared with a reference trained on the same kind, which may live in another results file. Each
``FILE:MODEL`` names the runs of one row model at labelled fraction ``--fraction`` (full labels by
default) and, with ``--leads``, on one lead set (as the files spell it: ``I``, ``I,II``), one per
seed, all of one lead set and teacher (the teacher rows, say); a run is paired
with the reference run of the same seed, scored on the same test records. Written: per row, each
seed's validation and test macro AUROC and the commit its run names, their means, and the mean
paired test difference over seeds with a 95 % bootstrap interval
(``benchmarks.paired.paired_difference``).
"""

import argparse
import json
import os

import numpy as np

from benchmarks.paired import paired_difference, predictions_path, run_id, test_labels
from benchmarks.provenance import REPOSITORY, provenance


def load_json(path):
    """The content of a JSON file; ``ValueError`` naming it when it is missing or not JSON."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read it ({error})") from error


def read_row(spec, fraction=1.0, leads=None):
    """``FILE:MODEL`` -> ``{seed: (run, labels (N, K), probabilities (N, K))}`` of its runs at ``fraction``
    (on ``leads`` only, when given).

    Raises ``ValueError`` (naming the file) for a spec without both parts, a file or predictions
    file that cannot be read, no runs of MODEL, a run without its fields or scores, runs of several
    lead sets or teachers or two of one seed, and a run whose (N, K) probabilities were not kept
    or do not match its labels."""
    path, _, model = spec.rpartition(":")
    if not path or not model:
        raise ValueError(f"{spec}: expected FILE:MODEL")
    runs = [
        run
        for run in load_json(path).get("runs", [])
        if (run.get("model"), run.get("fraction")) == (model, fraction) and leads in (None, run.get("leads"))
    ]
    if not runs:
        on = "" if leads is None else f" on leads {leads}"
        raise ValueError(f"{path}: no runs of model {model!r} at labelled fraction {fraction:g}{on}")
    for run in runs:
        fields = ("leads", "teacher", "seed", "validation", "test")
        if not all(name in run for name in fields) or not all("macro_auroc" in run[s] for s in fields[-2:]):
            raise ValueError(f"{path}: a run of {model!r} lacks one of {', '.join(fields)} or its macro AUROC")
    groups = {(run["leads"], run["teacher"]) for run in runs}
    seeds = [run["seed"] for run in runs]
    if len(groups) > 1 or len(set(seeds)) < len(seeds):
        raise ValueError(f"{spec}: expected one run per seed of one lead set and teacher, found {len(runs)}")
    predictions = load_json(predictions_path(path))
    rows = {}
    for run in runs:
        kept = predictions.get("runs", {}).get(run_id(run))
        labels = test_labels(predictions, run)
        if kept is None or np.shape(kept) != labels.shape:
            raise ValueError(f"{path}: run {run_id(run)} has no kept test probabilities of its labels' shape")
        rows[run["seed"]] = (run, labels, np.asarray(kept, float))
    return rows


def compare(row, reference, resamples=1000):
    """``row`` paired with ``reference`` (both from ``read_row``) over their shared seeds: ``{"seeds",
    "row" and "reference": {"validation", "test": macro AUROC per seed, "commits"}, "means": {split:
    {"row", "reference"}}, "paired_test_difference": [difference, low, high]}``. The runs of a
    seed must carry the same test labels (the files keep no record ids)."""
    seeds = sorted(set(row) & set(reference))
    if not seeds:
        raise ValueError("no seed in common with the reference")
    pairs = []
    for seed in seeds:
        labels, probabilities = row[seed][1:]
        if not np.array_equal(labels, reference[seed][1]):
            raise ValueError(f"seed {seed}: the two runs carry other test labels (other test records)")
        pairs.append((labels, probabilities, reference[seed][2]))

    def scores(runs):
        return {
            "validation": [runs[seed][0]["validation"]["macro_auroc"] for seed in seeds],
            "test": [runs[seed][0]["test"]["macro_auroc"] for seed in seeds],
            "commits": [runs[seed][0].get("commit") for seed in seeds],
        }

    mine, theirs = scores(row), scores(reference)
    means = {
        split: {"row": float(np.mean(mine[split])), "reference": float(np.mean(theirs[split]))}
        for split in ("validation", "test")
    }
    return {
        "seeds": seeds,
        "row": mine,
        "reference": theirs,
        "means": means,
        "paired_test_difference": paired_difference(pairs, resamples),
    }


def relative_spec(spec):
    """``FILE:MODEL`` with FILE relative to the repository, so that committed results name no machine's folders."""
    path, _, model = spec.rpartition(":")
    return f"{os.path.relpath(os.path.abspath(path), REPOSITORY)}:{model}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, help="FILE:MODEL, the reference row")
    parser.add_argument("--rows", nargs="+", required=True, help="FILE:MODEL rows compared with it")
    parser.add_argument(
        "--fraction", type=float, default=1.0, help="labelled fraction of the runs compared (default: 1)"
    )
    parser.add_argument("--leads", default=None, help="compare the runs on this lead set only, e.g. I or I,II")
    parser.add_argument("--out", required=True, help="results JSON to write (refused if it exists)")
    args = parser.parse_args(argv)
    if os.path.exists(args.out):
        parser.error(f"--out {args.out} exists; choose another file")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        parser.error(f"--out: folder {folder} does not exist")
    specs = [relative_spec(spec) for spec in args.rows]
    if len(set(specs)) < len(specs) or relative_spec(args.against) in specs:
        parser.error("--rows: name each row once, and not the --against row")
    try:
        reference = read_row(args.against, args.fraction, args.leads)
        rows = [read_row(spec, args.fraction, args.leads) for spec in args.rows]
    except ValueError as error:
        parser.error(str(error))
    compared = {}
    for spec, named, runs in zip(args.rows, specs, rows):
        try:
            compared[named] = compare(runs, reference)
        except ValueError as error:
            parser.error(f"{spec}: {error}")
    header = {**provenance(), "against": relative_spec(args.against), "fraction": args.fraction, "leads": args.leads}
    content = json.dumps({**header, "rows": compared}, indent=1)
    with open(args.out, "x") as handle:  # never replaces a file that appeared since the check
        handle.write(content)
    for spec, summary in compared.items():
        difference, low, high = summary["paired_test_difference"]
        print(f"{spec}: test {difference:+.4f} [{low:+.4f}, {high:+.4f}] over seeds {summary['seeds']}")


if __name__ == "__main__":
    main()
