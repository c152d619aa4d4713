"""Publish PTB-XL networks in ``models/ptbxl``: the 12-lead teacher and per lead set the student chosen on fold 9.

    python -m benchmarks.publish_ptbxl --data ../shared/data/ptbxl

Reads the PTB-XL benchmark (``--results``, ``benchmarks/results/ptbxl_distillation.json``, and its
run folders ``--runs``); trains nothing. Every choice is made on validation (fold 9) only:
- per lead set, among the student rows of ``--fraction`` labels (default 1: every training label;
  plain, KD, MLKD, KD from the ensemble, carry weights, LiteHeart), the row with the best mean
  validation macro AUROC over seeds, then that row's seed with the best validation score;
- the teacher: the 12-lead teacher (every training label) of the seed with the best validation score.
Each chosen network is exported as post-training int8 TFLite (``<name>.tflite``; activation ranges
chosen on fold 9 by ``lrhnet.calibration``) with its sidecar (``<name>.tflite.json``: leads, classes,
preprocessing, thresholds tuned on fold 9), and copied as ``<name>.keras`` with a sidecar of its own.
``ptbxl_published.json`` in ``--results-dir`` (``benchmarks/results``) records what was chosen, from which
rows, the validation scores that chose it and every file's test metrics; ``MODEL_CARD.md`` and the
README's table are rendered from it (``python -m benchmarks.run_all --tables-only``).
"""

import argparse
import json
import os
import shutil

from benchmarks.provenance import REPOSITORY, provenance
from benchmarks.ptbxl_distillation import LEAD_SETS, is_synthetic, plan, train_context
from benchmarks.ptbxl_model_card import write_model_card
from data_utils.files import atomic_write

TEACHER = "teacher_12_leads"


def published_name(leads):
    """The file name of the student on ``leads``: ``student_I``, ``student_I_II``, ``student_I_II_V2``."""
    return "student_" + leads.replace(",", "_")


def choose(results, fraction=1.0):
    """The networks to publish, chosen on validation only.

    Args:
        results: the benchmark's results (``runs`` and ``summary``).
    Returns:
        ``{published name: {"row": summary row, "run": the chosen seed's run entry, "candidates":
        [(model, teacher, validation macro AUROC)]}}``; a lead set without student rows is left out.
    Raises:
        ValueError: no teacher row.
    """

    def validation(entry):
        return entry.get("validation_macro_auroc", (entry.get("validation") or {}).get("macro_auroc"))

    def best_seed(row):
        runs = [
            run
            for run in results["runs"]
            if all(run[key] == row[key] for key in ("model", "teacher", "leads", "fraction"))
            and validation(run) is not None
        ]
        return max(runs, key=validation)

    summary = [row for row in results["summary"] if validation(row) is not None]
    teachers = [row for row in summary if row["model"] == "teacher" and row["teacher"] == "all"]
    if not teachers:
        raise ValueError("the results hold no teacher trained on every training label")
    chosen = {TEACHER: {"row": teachers[0], "run": best_seed(teachers[0]), "candidates": []}}
    for leads in LEAD_SETS:
        rows = [
            row
            for row in summary
            if row["leads"] == leads
            and row["fraction"] == fraction
            and row["model"] not in ("teacher", "same_lead_ceiling")
        ]
        if rows:
            best = max(rows, key=validation)
            candidates = [(row["model"], row["teacher"], validation(row)) for row in rows]
            chosen[published_name(leads)] = {"row": best, "run": best_seed(best), "candidates": candidates}
    return chosen


class ExportFolder:
    """Where ``kdpipeline.compression.exported`` writes (``exports/<file>``): the part of a run folder it uses."""

    def __init__(self, root):
        self.root = root

    def path(self, *parts):
        return os.path.join(self.root, *parts)


def saved_name(cell, row):
    """The name under which ``cell``'s run folder saved the network of summary ``row``."""
    return next(
        name for name, (model, teacher) in cell.rows.items() if (model, teacher) == (row["model"], row["teacher"])
    )


def publish(args, results, name, choice):
    """Export the chosen network of ``name`` into ``--models``; returns its entry of the results file."""
    from kdpipeline.compression import exported
    from lrhnet.saving import load_network

    bench = argparse.Namespace(
        data=args.data, runs=args.runs, epochs=results["epochs"], teacher_width=results["teacher_width"]
    )
    cell = {cell.name: cell for cell in plan(results["seeds"])}[os.path.basename(choice["run"]["run"])]
    context = train_context(bench, cell)
    context.run = ExportFolder(args.staging)
    saved = saved_name(cell, choice["row"])
    view = "teacher" if saved == "teacher" else "student"
    source = os.path.join(args.runs, cell.name, "models", f"{saved}.keras")
    entry = exported(context, load_network(source), f"{name}.tflite", "int8", view=view)
    os.makedirs(args.models, exist_ok=True)
    for suffix in (".tflite", ".tflite.json"):
        shutil.copyfile(context.run.path("exports", name + suffix), os.path.join(args.models, name + suffix))
    shutil.copyfile(context.run.path("exports", "labels.txt"), os.path.join(args.models, "labels.txt"))
    shutil.copyfile(source, os.path.join(args.models, f"{name}.keras"))
    with open(os.path.join(args.models, f"{name}.tflite.json")) as handle:
        sidecar = json.load(handle)
    keras_sidecar = {**sidecar, "kind": "keras float32", "thresholds": entry["keras_thresholds"]}
    keras_sidecar.pop("int8_calibration", None)
    atomic_write(os.path.join(args.models, f"{name}.keras.json"), json.dumps(keras_sidecar, indent=1))
    return {
        "files": [os.path.relpath(os.path.join(args.models, name + suffix), REPOSITORY) for suffix in FILES],
        "row": {key: choice["row"][key] for key in ("model", "teacher", "leads", "fraction")},
        "seed": choice["run"]["seed"],
        "run": choice["run"]["run"],
        "validation_macro_auroc": {
            "row_mean": choice["row"]["validation_macro_auroc"],
            "seed": choice["run"]["validation"]["macro_auroc"],
        },
        "candidates": [
            {"model": model, "teacher": teacher, "validation_macro_auroc": score}
            for model, teacher, score in choice["candidates"]
        ],
        "leads": sidecar["leads"],
        "params": choice["run"]["params"],
        "learned_from": choice["run"].get("learned_from"),
        "export": entry,
    }


FILES = (".tflite", ".tflite.json", ".keras", ".keras.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the PTB-XL folder the benchmark read (or its synthetic spec)")
    parser.add_argument("--results", default=os.path.join("benchmarks", "results", "ptbxl_distillation.json"))
    parser.add_argument("--runs", default=os.path.join("runs", "ptbxl_benchmark"), help="the benchmark's run folders")
    parser.add_argument("--fraction", type=float, default=1.0, help="the labelled fraction whose students compete")
    parser.add_argument("--models", default=os.path.join("models", "ptbxl"), help="where the files go")
    parser.add_argument("--staging", default=os.path.join("runs", "ptbxl_published"), help="the exports before copying")
    parser.add_argument(
        "--results-dir",
        default=os.path.join("benchmarks", "results"),
        help="where ptbxl_published.json (what was published and why) goes (default: benchmarks/results)",
    )
    args = parser.parse_args()
    if not (is_synthetic(args.data) or os.path.isdir(args.data)):
        parser.error(f"--data: {args.data} is neither a folder nor synthetic[:SPEC]")
    if not os.path.isdir(args.results_dir):
        parser.error(f"--results-dir: {args.results_dir} is not a folder")
    if not os.path.isfile(args.results):
        parser.error(f"--results: {args.results} is not a file; run benchmarks.ptbxl_distillation first")
    with open(args.results) as handle:
        results = json.load(handle)
    try:
        chosen = choose(results, args.fraction)
    except ValueError as error:
        parser.error(f"--results {args.results}: {error}")
    missing = [
        os.path.basename(choice["run"]["run"])
        for choice in chosen.values()
        if not os.path.isdir(os.path.join(args.runs, os.path.basename(choice["run"]["run"])))
    ]
    if missing:
        parser.error(f"--runs {args.runs} lacks the chosen runs {', '.join(missing)}; run the benchmark here first")
    args.data = args.data if is_synthetic(args.data) else os.path.abspath(args.data)
    args.runs = os.path.abspath(args.runs)
    published = {name: publish(args, results, name, choice) for name, choice in chosen.items()}
    source = {key: results[key] for key in ("command", "commit", "date")}
    content = {**provenance(), "fraction": args.fraction, "benchmark": source, "published": published}
    out = os.path.join(args.results_dir, "ptbxl_published.json")
    atomic_write(out, json.dumps(content, indent=1))
    card = write_model_card(args.results_dir, args.models)
    print(f"published {', '.join(published)} in {args.models}; {out}; {card}")


if __name__ == "__main__":
    main()
