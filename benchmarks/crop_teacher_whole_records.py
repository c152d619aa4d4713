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
PARTS = ("validation", "test")


def teacher_problem(args, seed):
    """Why ``seed``'s run folder under ``--runs`` holds no averaged crop teacher of ``--teacher-width``
    (None when it does): no saved teacher, split or report, or a report of another recipe."""
    run = benchmark.folder(args, benchmark.teacher_weight_average_cell(seed))
    needed = [os.path.join(run, name) for name in ("models/teacher.keras", "split.json", "report.json")]
    missing = [shown(path) for path in needed if not os.path.isfile(path)]
    if missing:
        return f"{', '.join(missing)} missing: train the teacher with benchmarks.ptbxl_distillation"
    with open(needed[2]) as handle:
        config = json.load(handle).get("config", {})
    wanted = {
        "window_seconds": benchmark.CROP_SECONDS,
        "weight_average": benchmark.WEIGHT_AVERAGE,
        "teacher_width": args.teacher_width,
    }
    other = {key: config.get(key) for key, value in wanted.items() if config.get(key) != value}
    return f"{shown(run)} was trained with {other}, not {wanted}" if other else None


def readings(args, seed):
    """``{"windows" | "whole": {"validation" | "test": macro AUROC}}`` of ``seed``'s averaged crop teacher."""
    cell = benchmark.teacher_weight_average_cell(seed)
    whole = dataclasses.replace(cell, flags=cell.flags + ("--window-seconds", str(RECORD_SECONDS)))
    run = benchmark.folder(args, cell)
    scores = {}
    for reading, read_as in zip(READINGS, (cell, whole)):
        context = benchmark.train_context(args, read_as)
        scores[reading] = {}
        for part in PARTS:
            probabilities, labels = benchmark.split_probabilities(context, run, ["teacher"], part)
            scores[reading][part] = macro_auroc(labels, probabilities["teacher"])
    return scores


def markdown(results):
    """The results as a Markdown table: one row per seed and their mean, validation then test."""
    crops = f"{benchmark.CROP_SECONDS:g} s windows averaged"
    lines = [
        f"# {BENCHMARK}",
        "",
        f"Command: `{results['command']}`  ",
        f"Commit {results['commit']}, {results['date']}",
    ]
    lines += ["", f"| seed | validation, {crops} | validation, whole record | test, {crops} | test, whole record |"]
    lines += ["|---|---|---|---|---|"]
    for row in [*results["seeds"], results["mean"]]:
        values = [row[reading][part] for part in PARTS for reading in READINGS]
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
    table = os.path.splitext(args.out)[0] + ".md"
    problem = check_out(args.out, BENCHMARK, data=args.data)
    if problem is None and os.path.exists(table) and not os.path.exists(args.out):
        problem = f"{table} exists beside no results of this benchmark; it is left as it is: choose another --out"
    if problem is None and not os.path.isdir(args.data):
        problem = f"--data {args.data} is not a folder (PTB-XL's 10 s records)"
    if problem is None and len(set(args.seeds)) < len(args.seeds):
        problem = "--seeds names a seed twice"
    args.data, args.runs = os.path.abspath(args.data), os.path.abspath(args.runs)
    args.epochs, args.precision = 40, "float32"  # what the benchmark's train.py calls were given
    for seed in args.seeds:
        problem = problem or teacher_problem(args, seed)
    if problem:
        parser.error(problem)
    rows = [{"seed": seed, **readings(args, seed)} for seed in args.seeds]
    mean = {
        reading: {part: float(np.mean([row[reading][part] for row in rows])) for part in PARTS} for reading in READINGS
    }
    results = {"benchmark": BENCHMARK, **provenance(), "runs": shown(args.runs), "teacher_width": args.teacher_width}
    results.update(seeds=rows, mean=mean)
    atomic_write(args.out, json.dumps(results, indent=1))
    atomic_write(table, markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
