"""Post-training int8 beside QAT for the kept CinC 2017 runs: which keeps its float student's F1?

    git worktree add runs/kept_345ca16 345ca16  # the runs publish_cinc2017 kept with QAT until 2026-12-06
    python -m benchmarks.cinc2017_int8 --data ../shared/data/cinc2017/training2017 \
        --kept runs/kept_345ca16/benchmarks/results/cinc2017_seeds --out benchmarks/results/cinc2017_int8.json

For each run kept with QAT in ``--kept`` (``<method>_s<seed>``, made by ``benchmarks.publish_cinc2017``;
default ``benchmarks/results/cinc2017_seeds``, whose LRH-Net runs now hold post-training files and are
refused), the float student its int8 file was made from is converted again by post-training int8
(activation ranges chosen on the validation windows, ``lrhnet.calibration``), through the export code
``train.py --quantize ptq`` uses, on the run's own split. Every file's decision rule is tuned on
validation for itself. The results file sets the validation and test CinC 2017 F1 of the float
student, the run's QAT file and the new post-training file side by side; only the validation columns
choose between the two ways to int8: per method, ``chosen`` is the one whose mean validation loss against
the float students is lower (QAT on a tie), the ``--quantize`` to publish with.
"""

import argparse
import json
import os
import shlex
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from benchmarks.provenance import provenance  # noqa: E402
from benchmarks.published_files import ExportFolder, check_out  # noqa: E402
from data_utils.files import atomic_write  # noqa: E402

BENCHMARK = "cinc2017_int8"
METHODS = ("lrhnet", "liteheart")
KEPT = os.path.join("benchmarks", "results", "cinc2017_seeds")
RUN_FILES = ("report.json", "split.json")


class SplitMismatch(ValueError):
    """The data does not give the split a kept run was trained and scored on."""


def run_arguments(report, data):
    """``train.py``'s parsed flags for the kept run's ``report``, reading the CinC 2017 folder ``data``."""
    from kdpipeline.options import parse_args

    argv = shlex.split(report["command"])[2:]
    argv[argv.index("--data") + 1] = f"cinc2017:{data}"
    return parse_args(argv, teacher_files_exist=False, folders=False)


def int8_row(folder, data, scratch):
    """Float, QAT and post-training int8 figures (CinC 2017 F1, validation and test) of the kept run in ``folder``.

    Raises:
        SplitMismatch: the data does not reproduce the run's split (``split.json``).
    """
    from kdpipeline.compression import exported
    from kdpipeline.runner import build_context
    from lrhnet.saving import load_network

    with open(os.path.join(folder, "report.json")) as handle:
        report = json.load(handle)
    with open(os.path.join(folder, "split.json")) as handle:
        split = json.load(handle)
    ctx, info = build_context(run_arguments(report, data))
    for name in ("train", "validation", "test"):
        if info["split_names"][name] != split[name]:
            raise SplitMismatch(f"--data {data} does not give the {name} split of {folder}/split.json")
    qat = report["models"]["student_int8"]
    source = qat["from"]
    ctx.run = ExportFolder(scratch)
    ptq = exported(ctx, load_network(os.path.join(folder, "models", f"{source}.keras")), f"{source}_ptq.tflite", "int8")

    def f1(entry, split_name):
        return entry[split_name]["cinc2017_f1"]

    export = qat["export"]
    return {
        "seed": report["seed"],
        "student": source,
        "float": {"validation": f1(export, "keras_validation"), "test": f1(export, "keras_test")},
        "qat": {"validation": f1(export, "validation"), "test": f1(export, "test"), "bytes": export["bytes"]},
        "ptq": {"validation": f1(ptq, "validation"), "test": f1(ptq, "test"), "bytes": ptq["bytes"]},
    }


def summary(rows):
    """Per way to int8, the mean over seeds of its F1 and of its loss against the float student (validation, test)."""
    import numpy as np

    out = {}
    for kind in ("float", "qat", "ptq"):
        out[kind] = {split: float(np.mean([row[kind][split] for row in rows])) for split in ("validation", "test")}
        if kind != "float":
            for split in ("validation", "test"):
                losses = [row["float"][split] - row[kind][split] for row in rows]
                out[kind][f"{split}_loss"] = float(np.mean(losses))
                out[kind][f"{split}_worst_loss"] = float(np.max(losses))
    return out


def chosen_kind(mean):
    """``"ptq"`` when post-training int8 loses less validation F1 on average than QAT (``summary``'s
    ``mean``), else ``"qat"``: validation alone chooses."""
    return "ptq" if mean["ptq"]["validation_loss"] < mean["qat"]["validation_loss"] else "qat"


def kept_runs(parser, kept, methods):
    """``{method: [run folder, ...]}`` of the runs kept in ``kept`` (``<method>_s<seed>``), each checked
    to hold its report, split and the float student its int8 file was made from; a parser error otherwise."""
    if not os.path.isdir(kept):
        parser.error(f"--kept {kept} is not a folder")
    folders = {
        method: sorted(os.path.join(kept, name) for name in os.listdir(kept) if name.startswith(f"{method}_s"))
        for method in methods
    }
    for method, runs in folders.items():
        if not runs:
            parser.error(f"--kept {kept} holds no kept run of {method}")
        for folder in runs:
            missing = [name for name in RUN_FILES if not os.path.isfile(os.path.join(folder, name))]
            if missing:
                parser.error(f"{folder} lacks {', '.join(missing)}: not a run kept by benchmarks.publish_cinc2017")
            with open(os.path.join(folder, "report.json")) as handle:
                int8 = json.load(handle).get("models", {}).get("student_int8", {})
            if int8.get("quantization") != "qat":
                parser.error(
                    f"{folder}'s int8 file is not quantization-aware: no QAT file to set PTQ beside "
                    "(--kept: a folder of runs kept with QAT)"
                )
            source = int8.get("from")
            if source is None or not os.path.isfile(os.path.join(folder, "models", f"{source}.keras")):
                parser.error(f"{folder} lacks the float student its int8 file was made from")
    return folders


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the CinC 2017 training2017 folder the runs were trained on")
    parser.add_argument("--out", required=True, help="results file (.json) to write; replaces only one of its own")
    parser.add_argument("--kept", default=KEPT, help=f"folder of the kept runs (default: {KEPT})")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        parser.error(f"--data {args.data} is not a folder")
    problem = check_out(args.out, BENCHMARK, data=args.data)
    if problem:
        parser.error(problem)
    folders = kept_runs(parser, args.kept, args.methods)
    results = {"benchmark": BENCHMARK, **provenance(), "methods": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for method, runs in folders.items():
            rows = []
            for folder in runs:
                try:
                    rows.append(int8_row(folder, args.data, os.path.join(scratch, os.path.basename(folder))))
                except SplitMismatch as error:
                    parser.error(str(error))
                row = rows[-1]
                print(
                    f"{method} seed {row['seed']}: validation F1 float {row['float']['validation']:.3f}, "
                    f"qat {row['qat']['validation']:.3f}, ptq {row['ptq']['validation']:.3f}",
                    flush=True,
                )
            mean = summary(rows)
            results["methods"][method] = {"runs": rows, "mean": mean, "chosen": chosen_kind(mean)}
    atomic_write(args.out, json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
