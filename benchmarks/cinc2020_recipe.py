"""LRH-Net's CinC 2020 protocol through ``train.py``, for those who have the PhysioNet/CinC 2020 training data.

    python -m benchmarks.cinc2020_recipe --data PATH/TO/cinc2020 --out runs/cinc2020

PATH holds the challenge-format records (``.mat`` + ``.hea``, searched recursively) of the six
sources (CPSC, CPSC-Extra, INCART, PTB, PTB-XL, Georgia; about 43 k records). As in LRH-Net
(Chauhan et al. 2022; docs/design.md): the 24 classes scored in 2020 with three equivalent pairs
merged (``--classes scored2020``; records without one are dropped), age and sex fed to every network
(``--demographics``), 257 Hz, band-pass, per-lead z-score, windows of 4,096 samples, a width-1
SE-ResNet18 teacher on 12 leads, 90 epochs with the learning rate divided by 10 at epochs 20, 40
and 70, batch 64, selection on the validation challenge metric. Three ``train.py`` runs:
12 leads (teacher, student, KD), then 3 leads (I, II, V2) and 2 leads (I, II) (student, KD,
sequential MLKD) distilled from the 12-lead run's teacher (``--teacher-from``).

Where we differ from the paper: one stratified 80/10/10 split of all records instead of five
folds within each source; logit distillation is a per-class Bernoulli KL (the authors' code
uses a softmax across the 24 classes; neither multiplies by T^2); the challenge metric uses the 2021
weights table (LBBB scored in its 2021 group). Expect about a day on a 2-core CPU (the teacher
alone trains at about 100 records/s there); a GPU is the sensible place for the full run.

Writes ``OUT/table.md`` (challenge metric and macro F1 per model and lead set, beside the
paper's) and ``OUT/table.json``. ``--quick`` (1 epoch, narrow teacher, 100 Hz, 4 s windows)
checks the whole recipe on a small folder such as the challenge samples in ``../shared/data``.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LEAD_SETS = {
    "12": "teacher,student,distill,evaluate",
    "3": "student,distill,mlkd,evaluate",
    "2": "student,distill,mlkd,evaluate",
}
MODELS = {
    "teacher": "SE-ResNet teacher",
    "student": "LRH-Net",
    "student_kd": "LRH-Net + KD",
    "student_mlkd": "LRH-Net + MLKD",
}
PAPER = {  # Chauhan et al. 2022, challenge metric and macro F1 (%) at 12 / 3 / 2 leads (docs/design.md)
    "teacher": ((67.43, 65.37, 63.34), (63.63, 61.14, 61.14)),
    "student": ((60.46, 58.49, 56.66), (56.42, 54.86, 53.61)),
    "student_kd": ((60.67, 59.49, 57.27), (57.49, 57.47, 53.79)),
    "student_mlkd": ((None, 60.39, 58.43), (None, 56.38, 53.92)),
}


def train_commands(args):
    """The ``train.py`` argument lists, one per lead set, in order."""
    fs, window, epochs, width = (100, 4, 1, 0.125) if args.quick else (257, 4096 / 257, args.epochs, 1.0)
    common = [
        "--data",
        f"challenge:{args.data}",
        "--classes",
        "scored2020",
        "--demographics",
        "--fs",
        str(fs),
        "--window-seconds",
        f"{window:.6f}",
        "--epochs",
        str(epochs),
        "--teacher-width",
        str(width),
        "--batch-size",
        "64",
        "--seed",
        str(args.seed),
        "--quantize",
        "none",
        "--lr-schedule",
        "paper",
        "--patience",
        "0",
        "--no-augment",  # the paper's protocol trains on the records as they are
        "--resume",
    ]
    commands = {}
    for leads, stages in LEAD_SETS.items():
        teacher = (
            [] if leads == "12" else ["--teacher-from", os.path.join(args.out, "leads12", "models", "teacher.keras")]
        )
        commands[leads] = [
            os.path.join(ROOT, "train.py"),
            *common,
            "--student-leads",
            leads,
            "--stages",
            stages,
            *teacher,
            "--out",
            os.path.join(args.out, f"leads{leads}"),
        ]
    return commands


def collect(out):
    """``{model: {lead set: {"challenge_metric", "macro_f1"}}}`` from the three run reports."""
    table = {}
    for leads in LEAD_SETS:
        with open(os.path.join(out, f"leads{leads}", "report.json")) as handle:
            report = json.load(handle)
        for name, entry in report["models"].items():
            if name in MODELS and (name != "teacher" or leads == "12"):
                table.setdefault(name, {})[leads] = {
                    metric: entry["test"].get(metric) for metric in ("challenge_metric", "macro_f1")
                }
    return table


def markdown(table, commands):
    def cells(values, scale=100):
        return " / ".join("-" if v is None else f"{scale * v:.2f}" for v in values)

    lines = ["# LRH-Net on PhysioNet/CinC 2020 (our run beside the paper's)", "", "Commands:", ""]
    lines += [
        f"    python {' '.join(os.path.relpath(part, ROOT) if part.endswith('train.py') else part for part in command)}"
        for command in commands.values()
    ]
    lines += [
        "",
        "| model | CM (%) 12 / 3 / 2 leads, ours | paper | macro F1 (%) 12 / 3 / 2, ours | paper |",
        "|---|---|---|---|---|",
    ]
    for name, label in MODELS.items():
        ours = table.get(name, {})
        row = [
            cells(ours.get(leads, {}).get(metric) for leads in LEAD_SETS) for metric in ("challenge_metric", "macro_f1")
        ]
        lines.append(f"| {label} | {row[0]} | {cells(PAPER[name][0], 1)} | {row[1]} | {cells(PAPER[name][1], 1)} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of the CinC 2020 challenge-format records")
    parser.add_argument(
        "--out",
        default=os.path.join("runs", "cinc2020"),
        help="folder for the three runs and the table (default: runs/cinc2020)",
    )
    parser.add_argument("--epochs", type=int, default=90, help="epochs per training stage (default: 90, the paper's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="1 epoch, width-0.125 teacher, 100 Hz, 4 s windows: checks the recipe"
    )
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        parser.error(f"--data: {args.data} is not a folder")
    commands = train_commands(args)
    for command in commands.values():
        print("python " + " ".join(command), flush=True)
        subprocess.run([sys.executable, *command], check=True)
    table = collect(args.out)
    with open(os.path.join(args.out, "table.json"), "w") as handle:
        json.dump(table, handle, indent=1)
    with open(os.path.join(args.out, "table.md"), "w") as handle:
        handle.write(markdown(table, commands))
    print(markdown(table, commands))


if __name__ == "__main__":
    main()
