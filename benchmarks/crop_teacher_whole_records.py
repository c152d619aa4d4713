"""A teacher trained on short crops, read over whole records: what a student distilled on 10 s windows learns from.

    python -m benchmarks.crop_teacher_whole_records --data ../shared/data/ptbxl --runs runs/ptbxl_teacher_wide \
        --teacher-width 1.0 --out benchmarks/results/ptbxl_crop_teacher_whole_records.json

``benchmarks.ptbxl_distillation`` scores every network on sliding windows of its training length,
averaged per record. Its averaged crop teachers (``teacher_weight_average_cell``: 2.5 s crops,
weights averaged) learned from 2.5 s crops, yet the Distiller feeds a teacher the students' 10 s
windows whole, through its global pooling. For each seed's teacher (its run folder under
``--runs``, made with ``--teacher-width``) this gives the macro AUROC of both readings on validation
(fold 9) and test (fold 10, shown, never used). Run folders are read, not changed.
"""

import argparse
import dataclasses
import json
import os

import numpy as np

from benchmarks import ptbxl_distillation as benchmark
from benchmarks.paired import macro_auroc
from benchmarks.provenance import provenance
from benchmarks.published_files import check_out, shown
from data_utils.files import atomic_write

BENCHMARK = "crop_teacher_whole_records"
RECORD_SECONDS = 10  # PTB-XL's records: one window of this length is the whole record
READINGS = ("windows", "whole")


def readings(args, seed):
    """``{"windows" | "whole": {"validation" | "test": macro AUROC}}`` of ``seed``'s averaged crop teacher."""
    cell = benchmark.teacher_weight_average_cell(seed)
    whole = dataclasses.replace(cell, flags=cell.flags + ("--window-seconds", str(RECORD_SECONDS)))
    run = benchmark.folder(args, cell)
    scores = {}
    for reading, flags in zip(READINGS, (cell, whole)):
        context = benchmark.train_context(args, flags)
        scores[reading] = {}
        for part in ("validation", "test"):
            probabilities, labels = benchmark.split_probabilities(context, run, ["teacher"], part)
            scores[reading][part] = macro_auroc(labels, probabilities["teacher"])
    return scores


def markdown(results):
    lines = [
        f"# {BENCHMARK}",
        "",
        f"Command: `{results['command']}`  ",
        f"Commit {results['commit']}, {results['date']}",
    ]
    lines += [
        "",
        "| seed | validation, 2.5 s windows averaged | validation, whole record | test, windows | test, whole |",
    ]
    lines += ["|---|---|---|---|---|"]
    for row in [*results["seeds"], results["mean"]]:
        values = [row[reading][part] for part in ("validation", "test") for reading in READINGS]
        lines.append(f"| {row.get('seed', 'mean')} | " + " | ".join(f"{value:.4f}" for value in values) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the PTB-XL folder the teachers were trained on")
    parser.add_argument("--runs", required=True, help="the benchmark's --runs that holds the teachers' run folders")
    parser.add_argument("--teacher-width", type=float, required=True, help="the benchmark's --teacher-width")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", required=True, help="results JSON path (a Markdown table goes beside it)")
    args = parser.parse_args()
    problem = check_out(args.out, BENCHMARK, data=args.data)
    if problem:
        parser.error(problem)
    args.data = benchmark.checked_data(parser, args.data)
    args.runs, args.epochs, args.precision = os.path.abspath(args.runs), 40, "float32"
    teachers = [
        benchmark.teacher_file(args.runs, benchmark.teacher_weight_average_cell(seed).name) for seed in args.seeds
    ]
    missing = [shown(path) for path in teachers if not os.path.isfile(path)]
    if missing:
        parser.error(f"no averaged crop teacher at {', '.join(missing)}: train it with benchmarks.ptbxl_distillation")
    rows = [{"seed": seed, **readings(args, seed)} for seed in args.seeds]
    mean = {
        reading: {part: float(np.mean([row[reading][part] for row in rows])) for part in rows[0][reading]}
        for reading in READINGS
    }
    results = {"benchmark": BENCHMARK, **provenance(), "runs": shown(args.runs), "seeds": rows, "mean": mean}
    atomic_write(args.out, json.dumps(results, indent=1))
    atomic_write(os.path.splitext(args.out)[0] + ".md", markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
