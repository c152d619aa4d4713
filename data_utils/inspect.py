"""``python -m data_utils.inspect PATH [--json]``: what a dataset folder holds and what cannot be read.

Reads every record once. Prints a summary (or, with ``--json``, exactly one JSON object with keys
``format``, ``records``, ``skipped``, ``fs``, ``leads``, ``classes``, ``notes``). A folder of
records without labels (headers with an empty ``#Dx``, PTB-XL records without their database) is
listed as format ``unlabeled``, with the note that it is usable for predict, not for training.
Exits 1 with a one-line reason when the folder holds no readable ECG.
"""

import argparse
import collections
import json
import logging
import sys

from data_utils.errors import NO_LABELS, DatasetFormatError, UnlabeledFolder
from data_utils.readers import FORMATS, UNLABELED, detect_format, open_dataset, split_format


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m data_utils.inspect", description=__doc__.splitlines()[0])
    parser.add_argument("path", help="dataset folder, or FORMAT:PATH to skip detection")
    parser.add_argument("--format", choices=FORMATS, help="dataset format (detected when omitted)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--vocabulary",
        default="all",
        choices=("all", "scored2021", "scored2020"),
        help="challenge format: label vocabulary (default: all)",
    )
    parser.add_argument("--label-set", default="superdiagnostic", help="PTB-XL label set (default: superdiagnostic)")
    parser.add_argument("--fs", type=int, default=500, choices=(100, 500), help="PTB-XL rate to read (default: 500)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s: %(message)s")

    fmt, path = split_format(args.path)
    fmt = args.format or fmt
    progress = False if args.json else None
    try:
        try:
            fmt = fmt or detect_format(path)
        except UnlabeledFolder:
            fmt = UNLABELED
        options = {
            "challenge": {"vocabulary": args.vocabulary},
            "ptbxl": {"label_set": args.label_set, "fs": args.fs},
        }.get(fmt, {})
        dataset = open_dataset(path, format=fmt, progress=progress, **options).validate(progress=progress)
        unrestricted = (fmt == "challenge" and args.vocabulary == "all") or fmt in (
            "cinc2017",
            "ludb",
        )  # not a vocabulary or label set leaving records out
        if fmt != UNLABELED and unrestricted and dataset.only_unlabeled:
            dataset = open_dataset(path, format=UNLABELED, progress=progress).validate(progress=progress)
    except (DatasetFormatError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if dataset.format == UNLABELED:
        dataset.notes.append(NO_LABELS)
    summary = {**dataset.summary(), "notes": dataset.notes}
    if summary["records"] == 0:
        print(f"error: {args.path}: no readable ECG ({len(summary['skipped'])} records skipped)", file=sys.stderr)
        if args.json:
            print(json.dumps(summary))
        return 1
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"format   {summary['format']}")
    print(f"records  {summary['records']} loaded, {len(summary['skipped'])} skipped")
    rates = collections.Counter(ref.fs for ref in dataset.refs)
    print(f"fs       {', '.join(f'{fs:g} Hz ({rates[fs]})' for fs in summary['fs'])}")
    print(f"leads    {', '.join(summary['leads'])}")
    for note in dataset.notes:
        print(f"note     {note}")
    if summary["classes"]:
        print("classes")
    for name, count in sorted(summary["classes"].items(), key=lambda item: -item[1]):
        print(f"  {count:7d}  {name}")
    if summary["skipped"]:
        print("skipped")
        for skip in summary["skipped"]:
            print(f"  {skip['record']}: {skip['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
