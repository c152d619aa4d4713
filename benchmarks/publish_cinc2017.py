"""Train the two published CinC 2017 students with ``train.py`` over several seeds and publish, per
method, the seed best on validation under ``models/cinc2017``.

    python -m benchmarks.publish_cinc2017 --data ../shared/data/cinc2017/training2017 \\
        --train-flags "--augment-invert 0.5"

For each seed of ``--seeds`` in turn and each method (``lrhnet``, ``liteheart``) one ``train.py`` run on lead I
at ``--fs`` (100 Hz unless given) with 15 s windows into ``--runs/<method>_s<seed>`` (resumable: a killed
call continues where it stopped), every seed on the split of ``--split-seed`` (the published ``split.json``):
- lrhnet: teacher, student, KD, MLKD, then int8 of the distilled student best on validation (KD or
  MLKD), with its decision rule tuned on validation;
- liteheart: semi-supervised LiteHeart (every record labelled) from the same seed's lrhnet teacher
  (``--teacher-from``, so both students of a seed learn from one teacher), then int8.
``--quantize METHOD=KIND`` picks each method's way to int8 (``train.py --quantize``: ``qat``, the
default, quantization-aware fine-tuning; ``ptq``, post-training), say ``--quantize lrhnet=ptq`` where
``benchmarks.cinc2017_int8`` found post-training int8 better on validation. A kept run that differs in
``--quantize`` alone is not trained again: ``train.py --resume`` in its run folder, which must still hold
it, makes its int8 file again from the same float student, and the run is kept anew.
A finished run is kept in ``--kept/<method>_s<seed>``: its report, split, deployed float student and int8
file (lrhnet: also the teacher, until the seed's liteheart run is kept). Kept runs are small enough to
commit, and a later call, even on a fresh clone, trains only the seeds not kept yet (refusing kept runs
of other flags, and publishing only kept runs of one split): a recipe of several hours can be trained a
seed at a time (``--train-only``: train and keep, publish nothing).
``--settings current`` (the default) trains with ``train.py``'s current defaults (cosine schedule, early
stopping, online augmentation, KD without T²) for at most ``--epochs`` 40; ``--settings 2026-11`` with the
settings the first published students were made with (``SETTINGS_OF_THE_TIME``: T², the paper's step
decay, every one of 12 epochs, no augmentation). ``--train-flags`` adds ``train.py`` flags (a teacher
recipe chosen on validation, say ``"--augment-invert 0.5"``) to both methods' runs (so
``--consistency-weight`` reaches LRH-Net's KD student too); flags this script sets itself are refused
there, and every run's command is checked by ``train.py``'s parser before the first one trains.
Per method the seed whose deployed float student scores the best validation CinC 2017 F1 is
published (the test split never chooses): ``<method>_int8.tflite`` and ``<method>.keras`` with their
sidecars, ``labels.txt`` and ``split.json`` into ``--models``; its run report, with every seed's
validation and test F1 (``published_seeds``), into ``--results`` as ``cinc2017_published_<method>.json``.
Each published file's sidecar also gets an AF screen, one threshold on ``p_A`` chosen on the run's
validation records (``benchmarks.af_screen``; its validation and test figures in the report's ``af_screen``;
validation records that give no screen stop the call, or with ``--quick`` leave the screen out).
Then ``MODEL_CARD.md`` from every report there (``benchmarks.model_card``). Nothing is published until
every run has finished. ``--quick`` (1 epoch, narrow teacher) checks the script.
"""

import argparse
import contextlib
import filecmp
import io
import json
import math
import os
import shlex
import shutil
import subprocess
import sys

from benchmarks.model_card import (  # noqa: E402
    SETTINGS_OF_THE_TIME,
    deployed_model,
    int8_export,
    read_reports,
    write_model_card,
)
from benchmarks.provenance import provenance  # noqa: E402
from benchmarks.published_files import install, keras_sidecar, shown  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
METHODS = {
    "lrhnet": "teacher,student,distill,mlkd,quantize,export,evaluate",
    "liteheart": "distill,quantize,export,evaluate",
}
# --settings: train.py flags added to every run, and the default --epochs
SETTINGS = {"current": ((), 40), "2026-11": (SETTINGS_OF_THE_TIME, 12)}


def run_folder(args, method, seed):
    return os.path.join(args.runs, f"{method}_s{seed}")


def kept_folder(args, method, seed):
    return os.path.join(args.kept, f"{method}_s{seed}")


def is_kept(args, method, seed):
    return os.path.isfile(os.path.join(kept_folder(args, method, seed), "report.json"))


def kept_teacher(args, seed):
    """The teacher a seed's liteheart run distils from: the one its lrhnet run trained and kept."""
    return os.path.join(kept_folder(args, "lrhnet", seed), "models", "teacher.keras")


def kept_files(report, method):
    """What a finished run keeps, as paths inside its run folder; ``report.json`` last, so that a kept
    folder holding a report is whole."""
    files = ["split.json", os.path.join("models", f"{deployed_model(report)}.keras")]
    exports = ("student_int8.tflite", "student_int8.tflite.json", "labels.txt")
    files += [os.path.join("exports", name) for name in exports]
    return files + ([os.path.join("models", "teacher.keras")] if method == "lrhnet" else []) + ["report.json"]


def keep(run, kept, method):
    """Copy the files of ``kept_files`` from the finished run folder ``run`` into the folder ``kept``
    (files an earlier, stopped copy left there are replaced). A kept run made again (its int8 file) loses
    its report first, so that a stopped copy never leaves a report beside files of another run."""
    with open(os.path.join(run, "report.json")) as handle:
        report = json.load(handle)
    if os.path.isfile(os.path.join(kept, "report.json")):
        os.remove(os.path.join(kept, "report.json"))  # this script's own copy, written again last
    for name in kept_files(report, method):
        os.makedirs(os.path.dirname(os.path.join(kept, name)), exist_ok=True)
        shutil.copyfile(os.path.join(run, name), os.path.join(kept, name))


def drop_kept_teacher(args, seed):
    """Once a seed's liteheart run is kept, no later call needs the copy of its teacher that ``keep`` made
    (~9 MB): remove that copy when this call's lrhnet run folder holds the teacher too."""
    path = kept_teacher(args, seed)
    if os.path.isfile(path) and os.path.isfile(
        os.path.join(run_folder(args, "lrhnet", seed), "models", "teacher.keras")
    ):
        os.remove(path)
        print(f"{path}: removed, liteheart seed {seed} is kept (the teacher stays in its run folder)", flush=True)


def train_command(args, method, seed):
    """The ``train.py`` argument list of one published student and seed."""
    return [
        os.path.relpath(os.path.join(ROOT, "train.py")),
        "--data",
        f"cinc2017:{args.data}",
        "--teacher-leads",
        "I",
        "--student-leads",
        "I",
        "--fs",
        f"{args.fs:.12g}",
        "--window-seconds",
        "15",
        "--epochs",
        str(args.epochs),
        "--teacher-width",
        str(args.teacher_width),
        "--seed",
        str(seed),
        "--split-seed",
        str(args.split_seed),
        "--method",
        method,
        "--quantize",
        args.quantize[method],
        "--stages",
        METHODS[method],
        "--out",
        run_folder(args, method, seed),
        "--resume",
        *SETTINGS[args.settings][0],
        *shlex.split(args.train_flags),
        *([] if "teacher" in METHODS[method] else ["--teacher-from", kept_teacher(args, seed)]),
    ]


def script_flags(args):
    """The ``train.py`` flags this script sets itself, which ``--train-flags`` may not name."""
    no_extra = argparse.Namespace(**{**vars(args), "train_flags": ""})
    commands = [train_command(no_extra, method, 0) for method in METHODS]
    return sorted({part for command in commands for part in command if part.startswith("--")})


def command_problem(command):
    """What ``train.py``'s parser refuses in the ``train.py`` argument list ``command`` (None when
    nothing): checked before any run trains, with the teacher a liteheart run will distil from not there
    yet."""
    from kdpipeline.options import parse_args

    try:
        with contextlib.redirect_stderr(io.StringIO()) as refusal, contextlib.redirect_stdout(io.StringIO()):
            parse_args(command[1:], teacher_files_exist=False)
    except SystemExit as stop:
        lines = refusal.getvalue().strip().splitlines() or [f"it stops (exit {stop.code}) without training"]
        return lines[-1].removeprefix("train.py: error: ")
    return None


def config_of(command):
    """The run configuration ``train.py`` records for ``command`` (its ``report.json`` ``"config"``)."""
    from kdpipeline.options import parse_args
    from kdpipeline.runner import run_config

    return run_config(parse_args(command[1:], teacher_files_exist=False, folders=False))


def kept_report(args, method, seed):
    with open(os.path.join(kept_folder(args, method, seed), "report.json")) as handle:
        return json.load(handle)


def kept_changes(args, method, seed):
    """The ``train.py`` configuration keys in which the kept run of ``method`` and ``seed`` differs from what
    this call would train (where the data and the teacher lie aside), or None when its report records no
    configuration."""
    from kdpipeline.runner import changed_flags

    report = kept_report(args, method, seed)
    if not isinstance(report.get("config"), dict):
        return None
    wanted = config_of(train_command(args, method, seed))
    return changed_flags(report["config"], wanted, ignored=("data", "path", "teacher_from"))


def requantize_problem(args, method, seed):
    """Why ``train.py --resume`` in the run folder of ``method`` and ``seed`` under ``--runs`` could not make
    the kept run's int8 file again (None when it could): the folder must still hold the kept float
    student (byte for byte; a run an earlier call stopped while making its int8 file again qualifies), the
    files ``keep`` copies, and a configuration this call's differs from in ``REDONE_FROM`` flags alone;
    a liteheart run needs the teacher file it distilled from."""
    from kdpipeline.rundir import STATE, RunFolderError, read_state
    from kdpipeline.runner import REDONE_FROM, changed_flags, flag_names

    run = run_folder(args, method, seed)
    report = kept_report(args, method, seed)
    name = os.path.join("models", f"{deployed_model(report)}.keras")
    held = os.path.join(run, name)
    if not os.path.isfile(held) or not filecmp.cmp(held, os.path.join(kept_folder(args, method, seed), name), False):
        return f"its run folder {run} no longer holds its float student {name}"
    lacking = [part for part in kept_files(report, method)[:-1] if not os.path.isfile(os.path.join(run, part))]
    if lacking:
        return f"its run folder {run} lacks {lacking[0]}"
    try:
        config = read_state(run).get("config", {}) if os.path.isfile(os.path.join(run, STATE)) else {}
    except RunFolderError as error:
        return str(error)
    changed = [
        key for key in changed_flags(config, config_of(train_command(args, method, seed))) if key not in REDONE_FROM
    ]
    if changed:
        return f"train.py --resume in {run} would refuse other values of {flag_names(changed)}"
    if method == "liteheart" and not os.path.isfile(kept_teacher(args, seed)):
        teacher = os.path.join(run_folder(args, "lrhnet", seed), "models", "teacher.keras")
        return (
            f"train.py --resume needs the teacher it distilled from, {kept_teacher(args, seed)}, which is gone "
            f"(copy it there from {teacher} if that run folder holds it)"
        )
    return None


def kept_problem(args, method, seed):
    """Why the kept run of ``method`` and ``seed`` is not what this call would train or make its int8 file
    again for (None when it is): no recorded configuration, flags that changed the numbers, or another
    ``--quantize`` that ``requantize_problem`` stops."""
    changed = kept_changes(args, method, seed)
    if changed is None:
        return "its report records no train.py configuration"
    if changed == ["quantize"]:
        problem = requantize_problem(args, method, seed)
        return problem and f"it was made with another --quantize, and to make its int8 file again {problem}"
    if changed:
        from kdpipeline.runner import flag_names

        return f"it was trained with other values of {flag_names(changed)}"
    return None


def seed_row(report, seed, run):
    """One seed's figures: validation and test CinC 2017 F1 of its deployed float student, and the test
    F1 of its int8 file."""
    name = deployed_model(report)
    student = report["models"][name]
    return {
        "seed": seed,
        "deployed": name,
        "validation": student["selection"]["cinc2017_f1"],
        "test_float": student["test"]["cinc2017_f1"],
        "test_int8": int8_export(report)["test"]["cinc2017_f1"],
        "run": shown(run),
    }


def chosen_seed(rows):
    """The seed of the row with the best validation F1 (the first of equals); test figures play no part."""
    return max(rows, key=lambda row: row["validation"])["seed"]


def chosen_report(args, method, seeds, made_by):
    """The report of the seed of ``method`` to publish, with ``made_by`` (this script's provenance) as
    ``"published"`` and every seed's figures as ``"published_seeds"``."""
    kept = {seed: kept_report(args, method, seed) for seed in seeds}
    rows = [seed_row(report, seed, kept_folder(args, method, seed)) for seed, report in kept.items()]
    seed = chosen_seed(rows)
    report = kept[seed]
    report.update(published=made_by, published_seeds={"chosen": seed, "rows": rows})
    return report


def chosen_files(args, method, report):
    """The published names and kept sources of ``report``'s chosen seed: ``{"int8": (name, path), "float":
    (name, path)}``, and the float student's thresholds (runs before 2026-12-03: None, the arg-max)."""
    run = kept_folder(args, method, report["published_seeds"]["chosen"])
    files = {
        "int8": (f"{method}_int8.tflite", os.path.join(run, "exports", "student_int8.tflite")),
        "float": (f"{method}.keras", os.path.join(run, "models", f"{deployed_model(report)}.keras")),
    }
    return files, int8_export(report).get("keras_thresholds")


def af_screens(args, method, report, dataset):
    """``({published file name: sidecar screen entry}, {published file name: screen figures})``: the AF screen
    of each file of ``report``'s chosen seed, chosen on that run's validation records
    (``benchmarks.af_screen``), each screened sidecar checked. Raises ``ValueError`` naming the file,
    ``ScreenRefused`` when the validation records give no screen."""
    from benchmarks.af_screen import ScreenRefused, choose_screen
    from benchmarks.decision_rule import read_split, split_predictions
    from lrhnet.predict import Predictor
    from lrhnet.sidecar import check_sidecar

    run = kept_folder(args, method, report["published_seeds"]["chosen"])
    files, keras_thresholds = chosen_files(args, method, report)
    try:
        with open(files["int8"][1] + ".json") as handle:
            int8_sidecar = json.load(handle)
        split = read_split(os.path.join(run, "split.json"))
    except (ValueError, OSError) as error:
        raise ValueError(f"the AF screens of {method} ({run}): {error}") from None
    sidecars = {"int8": int8_sidecar, "float": keras_sidecar(int8_sidecar, keras_thresholds)}
    entries, figures = {}, {}
    for kind, (name, path) in files.items():
        try:
            predictor = Predictor(path, sidecar=sidecars[kind])
            entries[name], figures[name] = choose_screen(
                split_predictions(dataset, split, predictor), predictor.classes
            )
            check_sidecar({**sidecars[kind], "screen": entries[name]}, f"the screened sidecar of {name}")
        except (ValueError, OSError) as error:
            refused = ScreenRefused if isinstance(error, ScreenRefused) else ValueError
            raise refused(f"the AF screen of {name} ({path}, data {shown(args.data)}): {error}") from None
    return entries, figures


def chosen_screens(args, reports, dataset):
    """``{method: {published file name: sidecar screen entry}}`` from ``af_screens``, each report given its
    ``"af_screen"`` figures. With ``--quick`` a method whose validation records give no screen
    (``ScreenRefused``) publishes without one; any other error stops the call (``ValueError``)."""
    from benchmarks.af_screen import ScreenRefused

    screens = {}
    for method, report in reports.items():
        try:
            screens[method], report["af_screen"] = af_screens(args, method, report, dataset)
        except ScreenRefused as error:
            if not args.quick:
                raise
            print(f"{method}: no AF screen (--quick): {error}", flush=True)
            screens[method] = {}
    return screens


def publish(args, method, report, screens):
    """Copy the int8 file, float student, sidecars (with ``screens``, their AF screen entries) and split of
    ``report``'s chosen seed into ``--models`` and ``report`` into ``--results``."""
    run = kept_folder(args, method, report["published_seeds"]["chosen"])
    files, keras_thresholds = chosen_files(args, method, report)
    (tflite_name, tflite), (keras_name, keras) = files["int8"], files["float"]
    install(tflite, keras, args.models, tflite_name, keras_name, keras_thresholds, screens)
    shutil.copyfile(os.path.join(run, "split.json"), os.path.join(args.models, "split.json"))
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, f"cinc2017_published_{method}.json"), "w") as handle:
        json.dump(report, handle, indent=1)


def split_problem(args, runs):
    """Why the kept runs ``[(seed, method), ...]`` cannot be published together (None when they can):
    every one must have been trained and scored on one split."""
    splits = {}
    for seed, method in runs:
        with open(os.path.join(kept_folder(args, method, seed), "split.json")) as handle:
            splits.setdefault(handle.read(), []).append(f"{method} seed {seed}")
    if len(splits) > 1:
        return "the kept runs were split differently: " + "; ".join(", ".join(names) for names in splits.values())
    return None


def published_split_problem(args, reports):
    """Why the chosen runs cannot join the files already in ``--models`` (None when they can): a method this
    call does not publish keeps its files there, so they must share the split of ``--models/split.json``."""
    published = os.path.join(args.models, "split.json")
    others = [method for method in METHODS if method not in reports]
    if not os.path.isfile(published) or not any(
        os.path.isfile(os.path.join(args.models, f"{method}_int8.tflite")) for method in others
    ):
        return None
    for method, report in reports.items():
        split = os.path.join(kept_folder(args, method, report["published_seeds"]["chosen"]), "split.json")
        if not filecmp.cmp(split, published, False):
            return (
                f"{method} seed {report['published_seeds']['chosen']} was split otherwise than the files of "
                f"{', '.join(others)} already in {args.models} ({published}): publish every method together"
            )
    return None


def missing_files(args, reports):
    """The first file a method's chosen kept run lacks for publishing (None when none is missing)."""
    for method, report in reports.items():
        folder = kept_folder(args, method, report["published_seeds"]["chosen"])
        names = [name for name in kept_files(report, method) if not name.endswith("teacher.keras")]
        missing = [name for name in names if not os.path.isfile(os.path.join(folder, name))]
        if missing:
            return f"{os.path.join(folder, missing[0])} is missing"
    return None


# where each kind of file goes when not given; --quick: all under runs/cinc2017_quick, never over the committed ones
FOLDERS = {
    "runs": (os.path.join("runs", "cinc2017_published"), "train.py run folders"),
    "kept": (os.path.join("benchmarks", "results", "cinc2017_seeds"), "what each finished run keeps, to commit"),
    "models": (os.path.join("models", "cinc2017"), "where the published files go"),
    "results": (os.path.join("benchmarks", "results"), "where the run reports go"),
}


def parse_publish_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--data", required=True, help="the CinC 2017 folder (REFERENCE.csv and the .mat/.hea records)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default: 0 1 2)")
    parser.add_argument(
        "--split-seed", type=int, default=0, help="seed of the split every run shares (default: 0, as published)"
    )
    parser.add_argument("--settings", choices=sorted(SETTINGS), default="current", help="(default: current)")
    parser.add_argument(
        "--train-flags",
        default="",
        help='more train.py flags, one string: "--augment-invert 0.5"; one flag alone: --train-flags=--no-augment',
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs per training stage, at most (default: current 40, 2026-11 12)"
    )
    parser.add_argument("--teacher-width", type=float, default=0.5, help="teacher width multiplier (default: 0.5)")
    parser.add_argument("--fs", type=float, default=100.0, help="sampling rate the networks see, Hz (default: 100)")
    for name, (default, purpose) in FOLDERS.items():
        parser.add_argument(f"--{name}", help=f"{purpose} (default: {default}; with --quick under runs/cinc2017_quick)")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=list(METHODS))
    parser.add_argument(
        "--quantize",
        nargs="+",
        action="extend",
        default=[],
        metavar="METHOD=KIND",
        help="a method's way to int8, KIND qat or ptq (train.py --quantize): --quantize lrhnet=ptq (default: qat)",
    )
    parser.add_argument("--train-only", action="store_true", help="train and keep the runs of --seeds, publish nothing")
    parser.add_argument("--quick", action="store_true", help="1 epoch and a width-0.125 teacher: checks the script")
    args = parser.parse_args()
    for name, (default, _) in FOLDERS.items():
        if getattr(args, name) is None:
            setattr(args, name, os.path.join("runs", "cinc2017_quick", name) if args.quick else default)
    if not (math.isfinite(args.fs) and args.fs > 0):
        parser.error(f"--fs must be a positive number of Hz, not {args.fs:g}")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, not {args.epochs}")
    args.epochs = SETTINGS[args.settings][1] if args.epochs is None else args.epochs
    if args.quick:
        args.epochs, args.teacher_width = 1, 0.125
    args.quantize = quantize_choices(parser, args.quantize)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds {' '.join(map(str, args.seeds))} names a seed twice")
    if os.path.realpath(args.kept) == os.path.realpath(args.runs):
        parser.error(f"--kept and --runs are one folder ({args.kept}): kept runs need a folder of their own")
    try:
        extra = [part.split("=")[0] for part in shlex.split(args.train_flags) if part.startswith("--")]
    except ValueError as error:
        parser.error(f"--train-flags: {error}")
    named = sorted({flag for flag in script_flags(args) for part in extra if flag.startswith(part)})  # or abbreviates
    if named:
        parser.error(f"--train-flags: {', '.join(named)} is set by this script; use its own flags")
    return parser, args


def quantize_choices(parser, pairs):
    """``{method: "qat" | "ptq"}`` from ``--quantize`` ``METHOD=KIND`` pairs (unnamed methods: qat)."""
    choices = {}
    for pair in pairs:
        method, _, kind = pair.partition("=")
        if method not in METHODS or kind not in ("qat", "ptq"):
            parser.error(f"--quantize {pair}: give METHOD=KIND, METHOD one of {', '.join(METHODS)}, KIND qat or ptq")
        if method in choices:
            parser.error(f"--quantize names {method} twice")
        choices[method] = kind
    return {**dict.fromkeys(METHODS, "qat"), **choices}


def refusal(args, runs, todo):
    """Why this call cannot train ``todo``, make the int8 files of kept runs of another ``--quantize`` again
    and publish ``runs`` (``[(seed, method), ...]``; None when it can), found before anything trains."""
    from kdpipeline.rundir import STATE

    for seed, method in runs:
        problem = command_problem(train_command(args, method, seed))
        if problem:
            return f"train.py refuses the {method} run of seed {seed}: {problem}"
        if os.path.exists(os.path.join(kept_folder(args, method, seed), STATE)):
            return f"{kept_folder(args, method, seed)} is a train.py run folder, not a kept run: use another --kept"
    kept = [(seed, method) for seed, method in runs if (seed, method) not in todo]
    for seed, method in kept:
        problem = kept_problem(args, method, seed)
        if problem:
            return f"{method} seed {seed} kept in {kept_folder(args, method, seed)}: {problem}; use another --kept"
    for seed in sorted({seed for seed, _ in runs}):
        problem = pairing_problem(args, seed, (seed, "lrhnet") in todo, (seed, "liteheart") in todo)
        if problem:
            return problem
    return split_problem(args, kept)


def pairing_problem(args, seed, lrhnet_trains, liteheart_trains):
    """Why a seed's liteheart run would not learn from its lrhnet run's teacher (None when it would)."""
    liteheart_kept, teacher = is_kept(args, "liteheart", seed), kept_teacher(args, seed)
    if liteheart_kept and (lrhnet_trains or not is_kept(args, "lrhnet", seed)):
        return f"liteheart seed {seed} is kept but not the lrhnet run that trained its teacher: use another --kept"
    if liteheart_trains and not lrhnet_trains and not os.path.isfile(teacher):
        if is_kept(args, "lrhnet", seed):
            return f"{teacher} is missing: move the kept lrhnet_s{seed} away to train both runs of seed {seed} again"
        return f"liteheart distils from its seed's lrhnet teacher, and {teacher} is missing: train lrhnet first"
    both_kept = liteheart_kept and is_kept(args, "lrhnet", seed)
    teachers = [kept_report(args, method, seed)["models"]["teacher"]["test"] for method in METHODS] if both_kept else []
    if teachers and teachers[0] != teachers[1]:
        return f"the kept liteheart seed {seed} learnt from another teacher than the kept lrhnet seed {seed}'s"
    return None


def main():
    parser, args = parse_publish_args()
    methods = [method for method in METHODS if method in args.methods]  # lrhnet first: it trains the teacher
    runs = [(seed, method) for seed in args.seeds for method in methods]
    todo = [(seed, method) for seed, method in runs if not is_kept(args, method, seed)]
    problem = refusal(args, runs, todo)
    if problem:
        parser.error(problem)
    # kept runs of another --quantize alone, which refusal found can make their int8 file again
    requantized = [run for run in runs if run not in todo and kept_changes(args, run[1], run[0]) == ["quantize"]]
    made_by = provenance()
    for seed, method in runs:  # seed by seed, so that a stopped call leaves whole seeds behind
        if (seed, method) not in todo + requantized:
            print(f"{method} seed {seed}: kept in {kept_folder(args, method, seed)} by an earlier call", flush=True)
            continue
        if (seed, method) in requantized:
            print(f"{method} seed {seed}: int8 made again (--quantize {args.quantize[method]})", flush=True)
        command = [sys.executable, *train_command(args, method, seed)]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)
        teacher_was_kept = os.path.isfile(kept_teacher(args, seed))
        keep(run_folder(args, method, seed), kept_folder(args, method, seed), method)
        if (method == "liteheart" and (seed, method) in todo) or (
            not teacher_was_kept and is_kept(args, "liteheart", seed)
        ):
            drop_kept_teacher(args, seed)  # the copy the liteheart run this call trained needed, or one it just made
    seeds = " ".join(map(str, args.seeds))
    if args.train_only:
        print(f"seeds {seeds} kept in {args.kept}; nothing published (--train-only)", flush=True)
        return
    reports = {method: chosen_report(args, method, args.seeds, made_by) for method in methods}
    problem = split_problem(args, runs) or missing_files(args, reports) or published_split_problem(args, reports)
    if problem:
        parser.error(f"nothing published: {problem}")
    from data_utils.readers import open_dataset

    try:
        screens = chosen_screens(args, reports, open_dataset(args.data, format="cinc2017", progress=True))
    except (ValueError, OSError) as error:
        parser.error(f"nothing published: {error}")
    for method, report in reports.items():  # every report and file is checked before the first is installed
        publish(args, method, report, screens[method])
        chosen = report["published_seeds"]["chosen"]
        print(f"{method}: seed {chosen} published (best validation F1 of seeds {seeds})", flush=True)
    # the card also describes students published by earlier calls
    path = write_model_card(read_reports(args.results), args.models, args.results)
    print(f"published {', '.join(reports)} in {args.models}; model card {path}")


if __name__ == "__main__":
    main()
