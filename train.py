"""Command line for the ECG distillation pipeline.

Today it runs the data stage: it reads a dataset folder, caches the preprocessed signals, splits
the records, builds the teacher/student ``tf.data`` pipelines, reads one epoch of each split, and
writes ``data_report.json`` to ``--out``. The model stages (teacher, student, distillation,
compression, export) are added by later issues.

With no flags it uses the real LUDB records bundled under ``tests/data`` (no download needed).
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "tests", "data", "ludb")


def parse_args(argv):
    from data_utils.readers import FORMATS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="dataset folder or FORMAT:PATH, FORMAT one of " + ", ".join(FORMATS) + "; or synthetic[:N] for generated 12-lead records (default: bundled LUDB sample)")
    parser.add_argument("--teacher-leads", default="12", help="teacher leads: a count (12, 6, 4, 3, 2, 1) or names such as I,II,V2 (default: 12)")
    parser.add_argument("--student-leads", default="1", help="student leads, a subset of the teacher's (default: 1 = lead I)")
    parser.add_argument("--classes", default=None, help="challenge format: all, scored2021 or scored2020 (default: all)")
    parser.add_argument("--label-set", default="superdiagnostic", help="PTB-XL label set (default: superdiagnostic)")
    parser.add_argument("--fs", type=float, default=100.0, help="sampling rate the models see, Hz (default: 100)")
    parser.add_argument("--window-seconds", type=float, default=10.0, help="window length in seconds (default: 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the crops (default: 0)")
    parser.add_argument("--cache-dir", default=None, help="where preprocessed signals are cached (default: $ECG_KD_CACHE or ~/.cache/ecg-kd)")
    parser.add_argument("--out", default=os.path.join("runs", "default"), help="output folder (default: runs/default)")
    args = parser.parse_args(argv)

    from data_utils.leads import resolve_leads

    from data_utils.readers import detect_format, split_format

    args.format, args.data = split_format(args.data)
    try:
        args.format = args.format or detect_format(args.data)
    except ValueError as error:
        parser.error(f"--data: {error}")
    try:
        args.teacher_leads, args.student_leads = resolve_leads(args.teacher_leads), resolve_leads(args.student_leads)
    except ValueError as error:
        parser.error(str(error))
    if not set(args.student_leads) <= set(args.teacher_leads):
        parser.error(f"student leads {','.join(args.student_leads)} are not a subset of the teacher leads {','.join(args.teacher_leads)}")
    if args.fs <= 0 or args.window_seconds <= 0 or args.batch_size <= 0:
        parser.error("--fs, --window-seconds and --batch-size must be positive")
    return args


def data_stage(args):
    """Index, cache, split and iterate the pipelines; return the report dict."""
    from data_utils import Preprocessing, open_dataset
    from data_utils.cache import build_cache
    from data_utils.pipeline import ECGPipeline
    from data_utils.splits import split_indices

    options = {
        "challenge": {"vocabulary": args.classes or "all"},
        "ptbxl": {"label_set": args.label_set, "fs": 100 if args.fs <= 100 else 500},
    }.get(args.format, {})
    dataset = open_dataset(args.data, format=args.format, progress=True, **options)
    preprocessing = Preprocessing(fs=args.fs, band=(0.5, min(40.0, 0.45 * args.fs)))
    cache = build_cache(dataset, preprocessing, args.teacher_leads, args.cache_dir, progress=True)
    if len(cache) < 3:
        raise SystemExit(f"error: only {len(cache)} usable records in {args.data}; at least 3 are needed to split")
    split = split_indices(dataset, seed=args.seed)
    pipeline = ECGPipeline(cache, args.teacher_leads, args.student_leads, args.window_seconds)
    batches = {}
    for name, indices in split.items():
        if len(indices):
            stream = pipeline.train(indices, args.batch_size, args.seed) if name == "train" else pipeline.evaluate(indices, args.batch_size)
            batches[name] = sum(int(labels.shape[0]) for _, labels in stream)
    summary = dataset.summary()
    return {
        "dataset": {"path": dataset.location, **{k: v for k, v in summary.items() if k != "skipped"}},
        "skipped": summary["skipped"],
        "notes": dataset.notes,
        "preprocessing": preprocessing.as_dict(),
        "window_samples": pipeline.window,
        "teacher_leads": list(args.teacher_leads),
        "student_leads": list(args.student_leads),
        "split": {name: len(indices) for name, indices in split.items()},
        "records_read_per_split": batches,
        "cache": cache.directory,
        "seed": args.seed,
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
    }


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    report = data_stage(args)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "data_report.json")
    with open(path + ".tmp", "w") as handle:
        json.dump(report, handle, indent=2)
    os.replace(path + ".tmp", path)
    print(f"\n{report['dataset']['format']} data from {report['dataset']['path']}")
    print(f"  records {report['dataset']['records']} usable, {len(report['skipped'])} skipped; classes {len(report['dataset']['classes'])}")
    print(f"  teacher leads {','.join(report['teacher_leads'])}; student leads {','.join(report['student_leads'])}; window {report['window_samples']} samples at {args.fs:g} Hz")
    print("  split " + ", ".join(f"{name} {count}" for name, count in report["split"].items()))
    print(f"\nData stage done in {time.time() - started:.1f} s; report: {path}")
    print("Model stages (teacher, student, distillation, compression, export) are not implemented yet.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
