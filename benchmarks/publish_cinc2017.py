"""Train the two published CinC 2017 students with ``train.py`` and publish them under ``models/cinc2017``.

    TF_NUM_INTRAOP_THREADS=1 python -m benchmarks.publish_cinc2017 --data ../shared/data/cinc2017/training2017

For each method (``lrhnet``, ``liteheart``) one ``train.py`` run on lead I at 100 Hz with 15 s
windows, seed 0, into ``--runs/<method>`` (resumable: a killed call continues where it stopped):
- lrhnet: teacher, student, KD, MLKD, then quantization-aware int8 of the MLKD student;
- liteheart: semi-supervised LiteHeart (every record labelled) from the lrhnet run's teacher
  (``--teacher-from``, so both students learn from one teacher), then QAT int8.
Then it copies into ``--models``: ``<method>_int8.tflite`` and ``<method>.keras`` with their sidecars,
``labels.txt`` and ``split.json``; the run reports into ``--results`` as
``cinc2017_published_<method>.json``; and writes ``MODEL_CARD.md`` from every report there
(``benchmarks.model_card``). ``--quick`` (1 epoch, narrow teacher) checks the script.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

from benchmarks.model_card import (  # noqa: E402
    FLOAT_MODEL,
    SETTINGS_OF_THE_TIME,
    int8_export,
    read_reports,
    write_model_card,
)
from benchmarks.provenance import provenance  # noqa: E402
from benchmarks.published_files import install  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
METHODS = {
    "lrhnet": "teacher,student,distill,mlkd,quantize,export,evaluate",
    "liteheart": "distill,quantize,export,evaluate",
}
SHARED_TEACHER = os.path.join("lrhnet", "models", "teacher.keras")


def train_command(args, method):
    """The ``train.py`` argument list of one published student."""
    teacher = [] if "teacher" in METHODS[method] else ["--teacher-from", os.path.join(args.runs, SHARED_TEACHER)]
    return [
        os.path.relpath(os.path.join(ROOT, "train.py")),
        "--data",
        f"cinc2017:{args.data}",
        "--teacher-leads",
        "I",
        "--student-leads",
        "I",
        "--fs",
        "100",
        "--window-seconds",
        "15",
        "--epochs",
        str(args.epochs),
        "--teacher-width",
        str(args.teacher_width),
        "--seed",
        "0",
        "--method",
        method,
        "--quantize",
        "qat",
        "--stages",
        METHODS[method],
        "--out",
        os.path.join(args.runs, method),
        "--resume",
        *SETTINGS_OF_THE_TIME,  # as the committed students were trained: T², step decay, every epoch, no augmentation
        *teacher,
    ]


def publish(args, method, made_by):
    """Copy one run's int8 file, float student, sidecars, split and report (with ``made_by``, this
    script's provenance, as ``"published"``) into place; returns the report."""
    run = os.path.join(args.runs, method)
    with open(os.path.join(run, "report.json")) as handle:
        report = {**json.load(handle), "published": made_by}
    install(
        os.path.join(run, "exports", "student_int8.tflite"),
        os.path.join(run, "models", f"{FLOAT_MODEL[method]}.keras"),
        args.models,
        f"{method}_int8.tflite",
        f"{method}.keras",
        keras_thresholds=int8_export(report).get("keras_thresholds"),  # runs before 2026-12-03: None (arg-max)
    )
    shutil.copyfile(os.path.join(run, "split.json"), os.path.join(args.models, "split.json"))
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, f"cinc2017_published_{method}.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the CinC 2017 folder (REFERENCE.csv and the .mat/.hea records)")
    parser.add_argument("--epochs", type=int, default=12, help="epochs per training stage (default: 12)")
    parser.add_argument("--teacher-width", type=float, default=0.5, help="teacher width multiplier (default: 0.5)")
    parser.add_argument(
        "--runs",
        default=os.path.join("runs", "cinc2017_published"),
        help="train.py run folders (default: runs/cinc2017_published)",
    )
    parser.add_argument(
        "--models",
        default=os.path.join("models", "cinc2017"),
        help="where the published files go (default: models/cinc2017)",
    )
    parser.add_argument(
        "--results",
        default=os.path.join("benchmarks", "results"),
        help="where the run reports go (default: benchmarks/results)",
    )
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="1 epoch and a width-0.125 teacher: checks the script")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.teacher_width = 1, 0.125
    if "lrhnet" not in args.methods and not os.path.isfile(os.path.join(args.runs, SHARED_TEACHER)):
        parser.error(
            f"liteheart distils from the lrhnet run's teacher, {os.path.join(args.runs, SHARED_TEACHER)}: publish "
            "lrhnet first"
        )
    made_by, reports = provenance(), {}
    for method in (method for method in METHODS if method in args.methods):  # lrhnet first: it trains the teacher
        command = [sys.executable, *train_command(args, method)]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)
        reports[method] = publish(args, method, made_by)
    # the card also describes students published by earlier calls
    path = write_model_card(read_reports(args.results), args.models, args.results)
    print(f"published {', '.join(reports)} in {args.models}; model card {path}")


if __name__ == "__main__":
    main()
