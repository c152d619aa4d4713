"""Publish PTB-XL networks in ``models/ptbxl``: the 12-lead teacher and per lead set the student chosen on fold 9.

    python -m benchmarks.publish_ptbxl --data ../shared/data/ptbxl

Reads the PTB-XL benchmark (``--results``, ``benchmarks/results/ptbxl_distillation.json``, and its
run folders ``--runs``); trains nothing. Every choice is made on validation (fold 9) only, among
rows with every seed of the benchmark:
- per lead set (``--lead-sets``, default: the benchmark's), among the student rows of ``--fraction``
  labels (default 1: every training label; plain, KD, MLKD, KD from the ensemble, KD × T², carry weights,
  LiteHeart), the row with the best mean validation macro AUROC over seeds, then that row's seed
  with the best validation score;
- the teacher: the 12-lead teacher (every training label) of the seed with the best validation score.
Each chosen network is exported, first into ``--staging``, as post-training int8 TFLite
(``<name>.tflite``; activation ranges chosen on fold 9 by ``lrhnet.calibration``) with its sidecar
(``<name>.tflite.json``: leads, classes, preprocessing, thresholds tuned on fold 9), and only when
every export has worked are they copied into ``--models`` with the float ``<name>.keras`` (its
own sidecar and thresholds), ``labels.txt`` and the teacher run's ``split.json``.
``ptbxl_published.json`` in ``--results-dir`` records what was chosen, from which rows, the
validation scores that chose it and every file's test metrics; ``MODEL_CARD.md`` is written from it.
``--keep-published`` keeps the students an earlier call published on other lead sets (their files
and records, each with the call that published it), so that lead sets can be published as their
benchmark rows are completed; it refuses when a kept student's files, run, validation choice or
split are no longer those it was published with.
"""

import argparse
import json
import os
import re
import shutil

from benchmarks.provenance import REPOSITORY, provenance
from benchmarks.ptbxl_distillation import LEAD_SETS, SCARCE_FRACTIONS, checked_data, plan, train_context
from benchmarks.ptbxl_model_card import write_model_card
from benchmarks.published_files import ExportFolder, fingerprint, install
from data_utils.files import atomic_write

TEACHER = "teacher_12_leads"
FILES = (".tflite", ".tflite.json", ".keras", ".keras.json")  # what each published network is made of
# What publishing writes into --models; anything else there is not ours to overwrite.
OURS = re.compile(
    r"^(teacher_12_leads|student_[A-Za-z0-9_]+)\.(tflite|keras)(\.json)?$|^(labels\.txt|split\.json|MODEL_CARD\.md)$"
)


def published_name(leads):
    """The file name of the student on ``leads``: ``student_I``, ``student_I_II``, ``student_I_II_V2``."""
    return "student_" + leads.replace(",", "_")


def validation_score(entry):
    """The validation macro AUROC of a summary row (mean over seeds) or of a run."""
    return entry.get("validation_macro_auroc", (entry.get("validation") or {}).get("macro_auroc"))


def choose(results, fraction=1.0, lead_sets=None):
    """The networks to publish, chosen on validation only, among rows with every seed of the benchmark.

    Args:
        results: the benchmark's results (``seeds``, ``runs`` and ``summary``).
        fraction: the labelled fraction whose students compete.
        lead_sets: the students' lead sets to publish (default: every lead set of the benchmark).
    Returns:
        ``{published name: {"row": summary row, "run": the chosen seed's run entry, "candidates":
        [(model, teacher, validation macro AUROC)]}}``.
    Raises:
        ValueError: no complete teacher row, or a lead set without a complete student row.
    """
    seeds = len(results["seeds"])
    complete = [row for row in results["summary"] if row["runs"] == seeds and validation_score(row) is not None]

    def best_seed(row):
        group = ("model", "teacher", "leads", "fraction")
        return max((run for run in results["runs"] if all(run[k] == row[k] for k in group)), key=validation_score)

    teachers = [row for row in complete if row["model"] == "teacher" and row["teacher"] == "all"]
    if not teachers:
        raise ValueError(f"no teacher on every training label has all {seeds} seeds recorded")
    chosen = {TEACHER: {"row": teachers[0], "run": best_seed(teachers[0]), "candidates": []}}
    for leads in lead_sets or results.get("lead_sets", LEAD_SETS):
        rows = [
            row
            for row in complete
            if row["leads"] == leads and row["fraction"] == fraction and row["model"] not in NOT_STUDENTS
        ]
        if not rows:
            raise ValueError(f"no student row of {fraction:.0%} labels on {leads} has all {seeds} seeds recorded yet")
        best = max(rows, key=validation_score)
        candidates = [(row["model"], row["teacher"], validation_score(row)) for row in rows]
        chosen[published_name(leads)] = {"row": best, "run": best_seed(best), "candidates": candidates}
    return chosen


NOT_STUDENTS = ("teacher", "same_lead_ceiling")


def saved_name(cell, row):
    """The name under which ``cell``'s run folder saved the network of summary ``row``."""
    wanted = (row["model"], row["teacher"])
    return next(name for name, made in cell.rows.items() if tuple(made) == wanted)


def benchmark_cells(results):
    """``{cell name: Cell}`` of the plan the benchmark ran (its recorded seeds, fractions and lead sets)."""
    fractions = results.get("fractions", SCARCE_FRACTIONS)
    lead_sets, ensembles = results.get("lead_sets", LEAD_SETS), results.get("ensembles", True)
    cells = plan(results["seeds"], fractions, lead_sets, ensembles, results.get("teacher_recipe", "whole"))
    return {cell.name: cell for cell in cells}


def stage(args, results, name, choice):
    """Export the chosen network of ``name`` into ``--staging``; returns ``(its entry, the float source)``."""
    from kdpipeline.compression import exported
    from lrhnet.saving import load_network

    bench = argparse.Namespace(
        data=args.data,
        runs=args.runs,
        epochs=results["epochs"],
        teacher_width=results["teacher_width"],
        precision=results.get("precision", "float32"),
    )
    cell = benchmark_cells(results)[os.path.basename(choice["run"]["run"])]
    context = train_context(bench, cell)  # raises ValueError when --data holds other records than the run's
    context.run = ExportFolder(args.staging)
    saved = saved_name(cell, choice["row"])
    source = os.path.join(args.runs, cell.name, "models", f"{saved}.keras")
    view = "teacher" if saved == "teacher" else "student"
    entry = exported(context, load_network(source), f"{name}.tflite", "int8", view=view)
    return {
        "files": [os.path.relpath(os.path.join(args.models, name + suffix), REPOSITORY) for suffix in FILES],
        "row": {key: choice["row"][key] for key in ("model", "teacher", "leads", "fraction")},
        "seed": choice["run"]["seed"],
        "run": choice["run"]["run"],
        "commit": choice["run"].get("commit"),
        "validation_macro_auroc": {
            "row_mean": validation_score(choice["row"]),
            "seed": validation_score(choice["run"]),
        },
        "candidates": [
            {"model": model, "teacher": teacher, "validation_macro_auroc": score}
            for model, teacher, score in choice["candidates"]
        ],
        "leads": list(context.args.teacher_leads if view == "teacher" else context.args.student_leads),
        "params": choice["run"]["params"],
        "learned_from": choice["run"].get("learned_from"),
        "export": entry,
    }, source


def kept_entries(results_dir, models, chosen, results, fraction):
    """The entries of ``ptbxl_published.json`` in ``results_dir`` that this call keeps
    (``--keep-published``): every published student it does not choose again, each with
    ``published_by`` (the call that published it).

    Raises ``ValueError`` when there is nothing to keep; when the earlier students were chosen at
    another labelled fraction; when a kept network's files are missing or (for entries that record
    them) are not the files it published; or when the benchmark ``results`` no longer hold its run
    as it was, or would now choose another row or seed for its lead set.
    """
    path = os.path.join(results_dir, "ptbxl_published.json")
    if not os.path.isfile(path):
        raise ValueError(f"--keep-published: {path} does not exist; nothing was published to keep")
    try:
        with open(path) as handle:
            earlier = json.load(handle)
        made_by = {key: earlier[key] for key in ("command", "commit", "date", "benchmark")}
        entries, earlier_fraction = earlier["published"], float(earlier["fraction"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--keep-published: {path} is not a record of published networks ({error!r})") from None
    if earlier_fraction != fraction:
        raise ValueError(
            f"--keep-published: the published students were chosen among {earlier_fraction:.0%} labels, this call "
            f"among {fraction:.0%}"
        )
    kept = {}
    for name, entry in entries.items():
        if name in chosen:
            continue
        missing = [name + suffix for suffix in FILES if not os.path.isfile(os.path.join(models, name + suffix))]
        if missing:
            raise ValueError(f"--keep-published: {name} is recorded as published but {', '.join(missing)} is missing")
        if entry.get("fingerprints") and entry["fingerprints"] != file_fingerprints(models, name):
            raise ValueError(f"--keep-published: {name}'s files in {models} are not the ones it published")
        check_still_chosen(name, entry, results, fraction)
        kept[name] = {**entry, "published_by": entry.get("published_by", made_by)}
    return kept


def check_still_chosen(name, entry, results, fraction):
    """Raise ``ValueError`` unless ``results`` still hold ``entry``'s run, with the validation score
    that chose it, and would choose the same row and seed for its lead set today."""
    row = entry["row"]
    recorded = [
        run
        for run in results["runs"]
        if all(run[key] == row[key] for key in ("model", "teacher", "leads", "fraction"))
        and run["seed"] == entry["seed"]
        and run.get("run") == entry["run"]
    ]
    if not recorded or validation_score(recorded[0]) != entry["validation_macro_auroc"]["seed"]:
        raise ValueError(
            f"--keep-published: the benchmark no longer holds {name}'s run ({entry['run']}) as it was published: "
            "publish its lead set again"
        )
    now = choose(results, fraction, [row["leads"]])[name]
    if (now["row"]["model"], now["row"]["teacher"], now["run"]["seed"]) != (
        row["model"],
        row["teacher"],
        entry["seed"],
    ):
        raise ValueError(
            f"--keep-published: on validation the benchmark now chooses {now['row']['model']} (teacher "
            f"{now['row']['teacher']}, seed {now['run']['seed']}) for {name}: publish its lead set again"
        )


def file_fingerprints(models, name):
    """``{".tflite": ..., ".keras": ...}``: the fingerprint (file and sidecar) of ``name``'s files."""
    return {suffix: fingerprint(os.path.join(models, name + suffix)) for suffix in (".tflite", ".keras")}


def check_same_split(args, chosen):
    """Raise ``ValueError`` when the chosen teacher's run split the records otherwise than the published
    ``split.json`` that kept students were scored on."""
    published = os.path.join(args.models, "split.json")
    teacher_run = os.path.join(args.runs, os.path.basename(chosen[TEACHER]["run"]["run"]), "split.json")
    if not (os.path.isfile(published) and os.path.isfile(teacher_run)):
        raise ValueError(f"--keep-published: {published} or {teacher_run} is missing; the splits cannot be compared")
    with open(published) as one, open(teacher_run) as other:
        if json.load(one) != json.load(other):
            raise ValueError(
                f"--keep-published: {teacher_run} splits the records otherwise than {published}, which the kept "
                "students were scored on: publish every lead set again"
            )


def in_published_order(entries):
    """``entries`` with the teacher first, then the students in lead-set order, then any other."""
    order = [TEACHER] + [published_name(leads) for leads in LEAD_SETS]
    return dict(sorted(entries.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def foreign_files(folder):
    """Files in ``folder`` that publishing does not write (none when the folder does not exist)."""
    return sorted(name for name in os.listdir(folder) if not OURS.match(name)) if os.path.isdir(folder) else []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the PTB-XL folder the benchmark read (or its synthetic spec)")
    parser.add_argument("--results", default=os.path.join("benchmarks", "results", "ptbxl_distillation.json"))
    parser.add_argument("--runs", default=os.path.join("runs", "ptbxl_benchmark"), help="the benchmark's run folders")
    parser.add_argument("--fraction", type=float, default=1.0, help="the labelled fraction whose students compete")
    parser.add_argument(
        "--lead-sets", nargs="+", default=None, help="the students' lead sets to publish (default: the benchmark's)"
    )
    parser.add_argument("--models", default=os.path.join("models", "ptbxl"), help="where the files go")
    parser.add_argument(
        "--keep-published",
        action="store_true",
        help="keep the students published earlier on other lead sets (files and records) and replace only the "
        "teacher and this call's lead sets",
    )
    parser.add_argument("--staging", default=os.path.join("runs", "ptbxl_published"), help="the exports before copying")
    parser.add_argument(
        "--results-dir",
        default=os.path.join("benchmarks", "results"),
        help="where ptbxl_published.json (what was published and why) goes (default: benchmarks/results)",
    )
    args = parser.parse_args()
    args.data = checked_data(parser, args.data)
    for flag, path in (("--results-dir", args.results_dir), ("--runs", args.runs)):
        if not os.path.isdir(path):
            parser.error(f"{flag}: {path} is not a folder")
    if not os.path.isfile(args.results):
        parser.error(f"--results: {args.results} is not a file; run benchmarks.ptbxl_distillation first")
    foreign = foreign_files(args.models)
    if foreign:
        parser.error(
            f"--models {args.models} holds files publishing does not write ({', '.join(foreign)}): choose "
            "a new or empty folder"
        )
    with open(args.results) as handle:
        results = json.load(handle)
    unknown = sorted(set(args.lead_sets or ()) - set(results.get("lead_sets", LEAD_SETS)))
    if unknown:
        parser.error(f"--lead-sets: the benchmark has no students on {', '.join(unknown)}")
    try:
        chosen = choose(results, args.fraction, args.lead_sets)
    except ValueError as error:
        parser.error(f"--results {args.results}: {error}")
    try:
        kept = (
            kept_entries(args.results_dir, args.models, chosen, results, args.fraction) if args.keep_published else {}
        )
        if kept:
            check_same_split(args, chosen)
    except ValueError as error:
        parser.error(str(error))
    written = {name + suffix for name in [*chosen, *kept] for suffix in FILES}
    written |= {"labels.txt", "split.json", "MODEL_CARD.md"}
    stale = sorted(set(os.listdir(args.models)) - written) if os.path.isdir(args.models) else []
    if stale:
        parser.error(
            f"--models {args.models} holds published files this call would not replace ({', '.join(stale)}); "
            "the new card would not describe them: publish every lead set again, add --keep-published, or choose a "
            "new folder"
        )
    args.runs = os.path.abspath(args.runs)
    runs = {os.path.basename(choice["run"]["run"]) for choice in chosen.values()}
    missing = sorted(name for name in runs if not os.path.isdir(os.path.join(args.runs, name)))
    if missing:
        parser.error(f"--runs {args.runs} lacks the chosen runs {', '.join(missing)}; run the benchmark here")
    staged = {}
    for name, choice in chosen.items():
        try:
            staged[name] = stage(args, results, name, choice)
        except ValueError as error:
            parser.error(str(error))
    exports = os.path.join(args.staging, "exports")
    for name, (entry, source) in staged.items():  # every export worked: now the published folder is written
        install(
            os.path.join(exports, f"{name}.tflite"),
            source,
            args.models,
            f"{name}.tflite",
            f"{name}.keras",
            entry["export"]["keras_thresholds"],
        )
    teacher_run = os.path.join(args.runs, os.path.basename(chosen[TEACHER]["run"]["run"]))
    shutil.copyfile(os.path.join(teacher_run, "split.json"), os.path.join(args.models, "split.json"))
    source = {key: results[key] for key in ("command", "commit", "date")}
    new = {name: {**entry, "fingerprints": file_fingerprints(args.models, name)} for name, (entry, _) in staged.items()}
    published = in_published_order({**kept, **new})
    earlier_calls = [entry["published_by"] for entry in kept.values()]
    earlier_calls = [call for i, call in enumerate(earlier_calls) if call not in earlier_calls[:i]]
    content = {**provenance(), "fraction": args.fraction, "benchmark": source, "published": published}
    content.update({"earlier": earlier_calls} if earlier_calls else {})
    out = os.path.join(args.results_dir, "ptbxl_published.json")
    atomic_write(out, json.dumps(content, indent=1))
    card = write_model_card(args.results_dir, args.models)
    print(f"published {', '.join(published)} in {args.models}; {out}; {card}")


if __name__ == "__main__":
    main()
