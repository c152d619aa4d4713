"""Which teacher the CinC 2017 students should learn from: ``train.py`` teacher recipes, compared on validation.

    python -m benchmarks.cinc2017_teacher --data ../shared/data/cinc2017/training2017 \
        --out benchmarks/results/cinc2017_teacher.json

Each variant is one ``train.py --stages teacher`` run per seed on lead I of CinC 2017, on the
stratified 80/10/10 split of that seed (seed 0: the split of the published students): a width-0.5 SE-ResNet with
``train.py``'s defaults with ``--epochs 40`` (at most 40 epochs, cosine schedule with warm-up, early stopping after 10
epochs without a better validation CinC 2017 F1, the best epoch restored, online augmentation),
100 Hz and 15 s windows, plus the variant's flags (``VARIANTS``). Records longer than a window are
scored by averaging windows every half window. A recipe is chosen on the validation F1 alone; the
test F1 is recorded beside it and never used to choose. A teacher of another rate or window
(``fs300``, ``window30``) can only teach students that read the same: choosing one changes the
students' recipe too.

Runs go to ``--runs/<variant>_s<seed>`` and resume (a finished run is read, a killed one continues);
rows already in ``--out`` are kept with ``--resume``. ``--only REGEX`` keeps the variants whose name
matches; ``--quick`` checks the script (1 epoch, a width-0.125 teacher, 5 s windows).
"""

import argparse
import json
import os
import re
import subprocess
import sys

from benchmarks.provenance import REPOSITORY, provenance
from benchmarks.resume import earlier_results
from data_utils.files import atomic_write

BASE_FLAGS = ("--teacher-leads", "I", "--student-leads", "I", "--stages", "teacher", "--resume")
RECIPE = {"--fs": "100", "--window-seconds": "15", "--teacher-width": "0.5", "--epochs": "40"}
QUICK = {"--window-seconds": "5", "--teacher-width": "0.125", "--epochs": "1"}
VARIANTS = {  # name -> train.py flags added to (or replacing those of) RECIPE
    "defaults": {},
    "invert": {"--augment-invert": "0.5"},
    "balance_sqrt": {"--class-balance": "sqrt"},
    "fs300": {"--fs": "300"},
    "window30": {"--window-seconds": "30"},
}


def train_command(args, variant, seed):
    """The ``train.py`` argument list of one variant and seed."""
    flags = {**RECIPE, **(QUICK if args.quick else {}), **VARIANTS[variant]}
    return [
        "train.py",
        "--data",
        f"cinc2017:{args.data}",
        *BASE_FLAGS,
        *(item for pair in flags.items() for item in pair),
        "--seed",
        str(seed),
        "--out",
        os.path.join(args.runs, f"{variant}_s{seed}"),
    ]


def row_of(report, variant, seed):
    """The results row of a finished teacher run's ``report.json``."""
    teacher = report["models"]["teacher"]
    return {
        "variant": variant,
        "seed": seed,
        "flags": VARIANTS[variant],
        "params": teacher["params"],
        "validation": teacher["selection"],
        "test": {key: value for key, value in teacher["test"].items() if key != "per_class"},
        "test_per_class": teacher["test"].get("per_class"),
        "best_epoch": teacher["best_epoch"],
        "epochs_run": teacher["epochs_run"],
        "seconds": report["seconds"],
        "command": report["command"],
    }


def markdown(results):
    """A table of the variants, best validation F1 first."""
    lines = [
        "# CinC 2017 teacher recipes (lead I)",
        "",
        *(f"Command: `{call['command']}`, commit {call['commit']}, {call['date']}  " for call in results["calls"]),
        f"CPU: {results['calls'][-1]['cpu']['model']} ({', '.join(results['calls'][-1]['cpu']['flags'])})",
        "",
        "Chosen on validation CinC 2017 F1 (mean over seeds); test F1 shown, not used to choose.",
        "",
        "| variant | flags | seeds | best epochs | validation F1 | test F1 | test macro AUROC | minutes per run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_variant = {}
    for row in results["rows"]:
        by_variant.setdefault(row["variant"], []).append(row)

    def mean(rows, pick):
        return sum(pick(row) for row in rows) / len(rows)

    ranked = sorted(by_variant.items(), key=lambda item: -mean(item[1], lambda r: r["validation"]["cinc2017_f1"]))
    for variant, rows in ranked:
        flags = " ".join(f"`{flag} {value}`" for flag, value in rows[0]["flags"].items()) or "(the recipe)"
        lines.append(
            f"| {variant} | {flags} | {', '.join(str(r['seed']) for r in rows)} | "
            f"{', '.join(str(r['best_epoch']) for r in rows)} | "
            f"{mean(rows, lambda r: r['validation']['cinc2017_f1']):.3f} | "
            f"{mean(rows, lambda r: r['test']['cinc2017_f1']):.3f} | "
            f"{mean(rows, lambda r: r['test']['macro_auroc']):.3f} | "
            f"{mean(rows, lambda r: r['seconds']) / 60:.0f} |"
        )
    return "\n".join(lines) + "\n"


def write(path, results):
    atomic_write(path, json.dumps(results, indent=1))
    atomic_write(os.path.splitext(path)[0] + ".md", markdown(results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the CinC 2017 folder (REFERENCE.csv and the records)")
    parser.add_argument("--out", required=True, help="results JSON (a Markdown table is written beside it)")
    parser.add_argument("--runs", default=os.path.join("runs", "cinc2017_teacher"), help="train.py run folders")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", default=None, help="keep the variants whose name matches this regular expression")
    parser.add_argument("--resume", action="store_true", help="keep the rows in --out and skip them")
    parser.add_argument("--quick", action="store_true", help="1 epoch, a narrow teacher, 5 s windows")
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        parser.error(f"--data {args.data} is not a folder")
    try:
        variants = [name for name in VARIANTS if args.only is None or re.search(args.only, name)]
    except re.error as error:
        parser.error(f"--only: {error}")
    if not variants:
        parser.error(f"--only {args.only!r} matches none of {', '.join(VARIANTS)}")
    earlier = earlier_results(parser, args.out, args.resume, keys=("calls", "rows"))
    args.data, args.runs = (os.path.relpath(os.path.abspath(path), REPOSITORY) for path in (args.data, args.runs))
    results = earlier or {"calls": [], "rows": []}
    results["calls"].append(provenance())
    for variant in variants:
        for seed in args.seeds:
            if any(row["variant"] == variant and row["seed"] == seed for row in results["rows"]):
                continue
            command = train_command(args, variant, seed)
            print("=== " + " ".join(command), flush=True)
            subprocess.run([sys.executable, *command], check=True, cwd=REPOSITORY)
            with open(os.path.join(REPOSITORY, command[command.index("--out") + 1], "report.json")) as handle:
                results["rows"].append(row_of(json.load(handle), variant, seed))
            write(args.out, results)
    write(args.out, results)
    print(markdown(results))


if __name__ == "__main__":
    main()
