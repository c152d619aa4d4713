"""Run the stages ``train.py`` was asked for, in order, and keep the report up to date.

Order of work: the flags are checked (``kdpipeline.options``), then the data is read, cached and
split, and only then is the run folder taken (``kdpipeline.rundir``): a bad flag or unusable data
never touches ``--out``. Without ``--resume`` the run's own entries are cleared first; with it,
stages recorded as complete in ``state.json`` are skipped and their report entries kept.
"""

import json
import os
import shlex
import shutil
import sys
import tempfile
import time

from data_utils.files import sha256_of
from kdpipeline.compression import evaluate_stage, export_stage, prune_stage, quantize_stage
from kdpipeline.divergence import NaNLoss
from kdpipeline.needs import check_stage_inputs
from kdpipeline.options import STAGES
from kdpipeline.report import print_summary, source_commit, write_report
from kdpipeline.rundir import STATE, RunDir, RunFolderError, model_path, partial_path, read_state
from kdpipeline.stages import TRAINING_STAGES, Context
from lrhnet.training import precision_policy

STAGE_FUNCTIONS = {
    **TRAINING_STAGES,
    "prune": prune_stage,
    "quantize": quantize_stage,
    "export": export_stage,
    "evaluate": evaluate_stage,
}


def distribution_strategy(name):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise SystemExit("train.py: error: --strategy multiworker needs TF_CONFIG (see docs/train.md)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief():
    """True unless this process is a non-chief worker of a multi-worker cluster (``TF_CONFIG``)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task")
    if not task:
        return True
    return task.get("type") == "chief" or (
        task.get("type") == "worker" and task.get("index", 0) == 0 and "chief" not in config.get("cluster", {})
    )


def build_context(args):
    """Index, cache and split the data; the labelled fraction is drawn from the training split.
    Writes nothing but the cache; the ``Context`` it returns has no run folder yet.

    Returns:
        ``(context, data)``: the ``Context`` and the report's ``data`` entry (``split_names`` holds
        the record names of each split, for ``split.json``).
    Raises:
        SystemExit: no labels, too few usable records, an empty split, or carry weights for single-label data.
    """
    from data_utils import Preprocessing, open_dataset
    from data_utils.augment import Augmentation
    from data_utils.cache import build_cache
    from data_utils.errors import NO_LABELS, DatasetFormatError
    from data_utils.pipeline import ECGPipeline
    from data_utils.splits import labeled_split, split_indices

    options = {
        "challenge": {"vocabulary": args.classes or "all"},
        "ptbxl": {"label_set": args.label_set, "fs": 100 if args.fs <= 100 else 500},
    }.get(args.format, {})
    try:
        dataset = open_dataset(args.path, format=args.format, progress=True, **options)
    except (DatasetFormatError, ValueError) as error:
        raise SystemExit(f"train.py: error: --data: {error}") from None
    if args.kd_class_weights == "carry" and not dataset.multilabel:
        raise SystemExit(
            f"train.py: error: --kd-class-weights carry weighs per-class Bernoulli KD; {args.data} is single-label"
        )
    preprocessing = Preprocessing(fs=args.fs, band=args.band)
    cache = build_cache(dataset, preprocessing, args.teacher_leads, args.cache_dir, progress=True)
    if dataset.only_unlabeled:  # build_cache left dataset.refs holding exactly the cached records
        if args.format == "challenge" and args.classes not in (None, "all"):
            raise SystemExit(
                f"train.py: error: --data {args.data}: no record has a label among the --classes {args.classes} "
                "vocabulary; --classes all keeps every code"
            )
        raise SystemExit(f"train.py: error: --data {args.data}: {NO_LABELS}")
    if len(cache) < 3:
        raise SystemExit(
            f"train.py: error: only {len(cache)} usable records in {args.data} ({len(dataset.skipped)} skipped); "
            "at least 3 are needed to split"
        )
    split_seed = args.seed if args.split_seed is None else args.split_seed
    split = split_indices(dataset, seed=split_seed)
    empty = [name for name, rows in split.items() if len(rows) == 0]
    if empty:
        raise SystemExit(
            f"train.py: error: the {' and '.join(empty)} split of {args.data} is empty ({len(cache)} usable "
            "records); bring more records"
        )
    labeled, unlabeled = labeled_split(split["train"], cache.labels, args.labeled_fraction, seed=split_seed)
    if len(labeled) == 0:
        raise SystemExit(
            f"train.py: error: --labeled-fraction {args.labeled_fraction} leaves no labelled training record of "
            f"{len(split['train'])}"
        )
    pipeline = ECGPipeline(
        cache,
        args.teacher_leads,
        args.student_leads,
        args.window_seconds,
        demographics=args.demographics,
        augmentation=Augmentation(invert=args.augment_invert) if args.augment else None,
        beats=args.method == "liteheart" and args.region_weight > 0 and args.beat_weight > 0,
    )
    summary = dataset.summary()
    location = (
        dataset.location if dataset.reader is not None else os.path.relpath(dataset.location)
    )  # no machine's absolute path in reports
    data = {
        "location": location,
        "format": dataset.format,
        "records": len(cache),
        "skipped": summary["skipped"],
        "classes": summary["classes"],
        "notes": dataset.notes,
        "preprocessing": preprocessing.as_dict(),
        "window_samples": pipeline.window,
        "augmentation": pipeline.augmentation.as_dict() if pipeline.augmentation else None,
        "split": {name: len(rows) for name, rows in split.items()},
        "labeled": len(labeled),
        "unlabeled": len(unlabeled),
        "teacher_labels": args.teacher_labels,
        "split_names": {
            **{name: [dataset.record_ids[i] for i in rows] for name, rows in split.items()},
            "train_labeled": [dataset.record_ids[i] for i in labeled],  # the labels the students see
        },
    }
    teacher_labeled = split["train"] if args.teacher_labels == "all" else labeled
    return Context(args, None, cache, split, pipeline, labeled, unlabeled, dataset.multilabel, teacher_labeled), data


# Flags that do not change what the stages compute (band follows from fs).
RUN_FLAGS_IGNORED = ("stages", "resume", "out", "strategy", "cache_dir", "band", "verbose")


# How labelled and unlabelled rows share a batch and an epoch (kdpipeline.stages.training_batches);
# runs with unlabelled rows made under another rule cannot be resumed.
SCARCE_BATCHES = "proportional rows per batch, an epoch one pass of the training split; supervised mean over labelled"
# Where evaluation windows start (data_utils.preprocess.stride_samples); runs scored otherwise cannot be resumed.
EVALUATION_STRIDE = "half a window"


def run_config(args):
    """The flags that decide what the stages compute (``--stages``, ``--out`` and the like excluded).

    With every training label seen, ``teacher_labels`` makes no difference and is left out; with
    fewer, ``scarce_batches`` records the batching rule; ``evaluation_stride`` where evaluation
    windows start; with ``--method lrhnet`` the consistency weight is ``lrhnet_consistency_weight``."""
    config = {key: value for key, value in sorted(vars(args).items()) if key not in RUN_FLAGS_IGNORED}
    if config["teacher_from"] and len(config["teacher_from"]) == 1:
        config["teacher_from"] = config["teacher_from"][0]  # one file is recorded as before several were allowed
    config["evaluation_stride"] = EVALUATION_STRIDE
    if args.method == "lrhnet":  # --consistency-weight: runs made before it reached LRH-Net recorded LiteHeart's
        config["lrhnet_consistency_weight"] = config.pop("consistency_weight")
    if args.labeled_fraction == 1:
        config.pop("teacher_labels", None)
    else:
        config["scarce_batches"] = SCARCE_BATCHES
    return json.loads(json.dumps(config))


def add_to_report(report, output):
    """Merge a stage's output (``{model name: entry}``, plus ``"exports": [...]``) into the report."""
    for key, value in output.items():
        if key == "exports":
            report["exports"].extend(value)
        else:
            report["models"].setdefault(key, {}).update(value)


# What a run made before these flags existed did: T², the paper's step decay, every epoch, no
# augmentation, a teacher on the students' labelled records.
FLAGS_BEFORE_THEY_EXISTED = {
    "kd_t2": True,
    "lr_schedule": "paper",
    "patience": 0,
    "augment": False,
    "teacher_labels": "same",
    "beat_weight": 0.0,
    "augment_invert": 0.0,
    "class_balance": "none",
    "split_seed": None,
    "kd_class_weights": "uniform",
    "weight_average": 0.0,
    "precision": "float32",
    "evaluation_stride": "one window",
    "lrhnet_consistency_weight": 0.0,
}


# Configuration keys that no flag of their own sets
KEY_FLAGS = {
    "format": "--data",
    "path": "--data",
    "lrhnet_consistency_weight": "--consistency-weight",
    "evaluation_stride": "evaluation windows (set by the code, not a flag)",
    "scarce_batches": "the batches of labelled and unlabelled rows (set by the code, not a flag)",
}


def flag_of(key):
    """The flag behind a configuration key (``run_config``): ``"--augment-invert"`` for ``augment_invert``,
    or what ``KEY_FLAGS`` says for keys that no flag of their own sets."""
    return KEY_FLAGS.get(key, "--" + key.replace("_", "-"))


def flag_names(keys):
    """``"--seed, --augment-invert"``: the flags behind configuration keys (``run_config``), each once."""
    return ", ".join(dict.fromkeys(flag_of(key) for key in keys))


NEGATED_BY_NO = {"augment"}  # switches on by default, turned off with --no-<flag>


def flag_values(config, keys):
    """``"--teacher-width 0.25, --window-seconds 10.0, no --kd-t2"``: the flags behind ``keys`` with their
    values in ``config`` as a command line gives them (leads joined by commas, other lists by spaces,
    each quoted for a shell where needed; a switch that is off as ``--no-<flag>`` for ``NEGATED_BY_NO``,
    else, like a value that is None, as ``no <flag>``), each flag once; keys that no flag sets
    (``KEY_FLAGS`` entries that are not flags) are left out."""
    shown = {}
    for key in keys:
        flag = flag_of(key)
        if not flag.startswith("--") or flag in shown:
            continue
        value = config.get("data" if flag == "--data" else key)
        if value is False and key in NEGATED_BY_NO:
            shown[flag] = "--no-" + flag[2:]
        elif value is None or value is False:
            shown[flag] = f"no {flag}"
        elif value is True:
            shown[flag] = flag
        elif isinstance(value, list):
            shown[flag] = f"{flag} {(',' if key.endswith('_leads') else ' ').join(shlex.quote(str(v)) for v in value)}"
        else:
            shown[flag] = f"{flag} {shlex.quote(str(value))}"
    return ", ".join(shown.values())


def changed_flags(earlier, config, ignored=()):
    """The keys of ``config`` (``run_config``) whose value differs in ``earlier``, a run's recorded
    configuration (flags added since it was made count with the value it had then), ``ignored`` aside."""
    earlier = {**FLAGS_BEFORE_THEY_EXISTED, **earlier}
    return sorted(key for key in config if key not in ignored and earlier.get(key) != config[key])


# Flags a resumed run may change, each with the first stage that reads it: the stages the run completed
# from that one on are done again (``--quantize ptq`` on a finished QAT run: post-training int8).
REDONE_FROM = {"quantize": "quantize", "int8_tolerance": "quantize"}


def check_resume(args, config, teacher_digests=None):
    """Refuse ``--resume`` of a run made with other flags (reads ``state.json``), except flags of
    ``REDONE_FROM``; returns the completed stages to do again for those (in order; empty when none).
    A change to ``--quantize none`` once those stages ran, or one whose redone stages ``--stages`` leaves
    out, is refused: the run's int8 file would stay in ``exports/`` beside a report without it. So is a
    run whose ``--teacher-from`` files changed since it copied them (``check_teacher_copy``;
    ``teacher_digests``: their SHA-256 now, read from the files when None)."""
    if not (args.resume and os.path.exists(os.path.join(args.out, STATE))):
        return []
    try:
        state = read_state(args.out)
    except RunFolderError as error:
        raise SystemExit(f"train.py: error: --out: {error}") from None
    earlier = {**FLAGS_BEFORE_THEY_EXISTED, **state.get("config", config)}
    changed = changed_flags(earlier, config)
    if earlier.get("labeled_fraction", 1) == 1:  # a run on every label had no teacher labels or scarce batches
        changed = [key for key in changed if key not in ("teacher_labels", "scarce_batches")]
    redone = [changed.pop(changed.index(key)) for key in REDONE_FROM if key in changed]
    if "scarce_batches" in changed and earlier.get("labeled_fraction", 1) != 1:
        raise SystemExit(
            f"train.py: error: --resume: the run in {args.out} was made before the current rule for batches of "
            "labelled and unlabelled rows; drop --resume or choose another --out"
        )
    first = min((STAGES.index(REDONE_FROM[key]) for key in redone), default=len(STAGES))
    stages = [stage for stage in STAGES[first:] if stage in state.get("stages", {})]
    if changed or (stages and args.quantize == "none"):
        made_with = flag_values(earlier, changed or redone)
        raise SystemExit(
            f"train.py: error: --resume: the run in {args.out} was made with other values of "
            f"{flag_names(changed or redone)}{f' ({made_with})' if made_with else ''}; "
            "drop --resume or choose another --out"
        )
    left_out = [stage for stage in stages if stage not in args.stages]
    if left_out:
        raise SystemExit(
            f"train.py: error: --resume: {flag_names(redone)} changed, so the run's stages {', '.join(stages)} are "
            f"done again: add {', '.join(left_out)} to --stages"
        )
    if teacher_digests is None:
        teacher_digests = file_digests(args.teacher_from)
    check_teacher_copy(args, state, teacher_digests)
    if stages:
        print(f"--resume: {flag_names(redone)} changed; stages {', '.join(stages)} are done again", flush=True)
    return stages


def teacher_run_report(path):
    """The report of the run that trained ``path`` when it sits in that run (``<run>/models/teacher.keras``
    beside ``<run>/report.json`` with a teacher entry), else None: a teacher from elsewhere is known by its
    file alone."""
    report = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), "report.json")
    try:
        with open(report) as handle:
            earlier = json.load(handle)
        return earlier if isinstance(earlier["models"]["teacher"], dict) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def teacher_source(path, sha256):
    """``data.teacher_from`` of the report: the ``--teacher-from`` file (relative path) and its SHA-256 and,
    from the report of the run that trained it (``teacher_run_report``), what it learned from, its
    validation score and the window length it was trained on."""
    source = {"file": os.path.relpath(path), "sha256": sha256}
    earlier = teacher_run_report(path)
    if earlier is not None and "learned_from" in earlier["models"]["teacher"]:  # reports since 2026-12
        teacher = earlier["models"]["teacher"]
        source["learned_from"] = teacher["learned_from"]
        source["teacher_labels"] = earlier.get("data", {}).get("teacher_labels")
        if "selection" in teacher:
            source["validation"] = teacher["selection"]
    if earlier is not None and "window_seconds" in earlier.get("config", {}):
        source["window_seconds"] = earlier["config"]["window_seconds"]
    return source


def check_teacher(path, leads, classes, demographics, fs, window_seconds):
    """Refuse a ``--teacher-from`` network that does not read ``len(leads)`` leads (with age and sex when
    ``demographics``) and give ``len(classes)`` classes, or, when the report of the run that trained it is
    beside it, that read other leads or gave other classes (names, in order) or was trained at another
    sampling rate than ``fs`` or on longer windows than ``window_seconds``. A teacher trained on shorter
    windows (random crops of the records) reads this run's windows whole: its global pooling spans them."""
    from lrhnet.saving import load_network

    try:
        teacher = load_network(path)
    except Exception as error:  # Keras raises many types for a file it cannot load
        raise SystemExit(
            f"train.py: error: --teacher-from {path} cannot be loaded ({type(error).__name__}: {error})"
        ) from None
    found = (getattr(teacher, "num_leads", None), getattr(teacher, "num_classes", None))
    if found != (len(leads), len(classes)):
        raise SystemExit(
            f"train.py: error: --teacher-from {path} reads {found[0]} leads and gives {found[1]} classes; "
            f"this run needs {len(leads)} leads (--teacher-leads) and {len(classes)} classes"
        )
    if bool(getattr(teacher, "demographics", False)) != demographics:
        raise SystemExit(
            f"train.py: error: --teacher-from {path} was built {'with' if not demographics else 'without'} age and "
            f"sex inputs; this run has {'--demographics' if demographics else 'no --demographics'}"
        )
    earlier = teacher_run_report(path) or {}
    named = (
        ("leads", "--teacher-leads", earlier.get("teacher_leads"), list(leads)),
        ("classes", "the data's classes", list(earlier.get("data", {}).get("classes", {})) or None, list(classes)),
    )
    for what, source, trained, wanted in named:
        if trained is not None and trained != wanted:
            raise SystemExit(
                f"train.py: error: --teacher-from {path} was trained on {what} {','.join(trained)} (its run's "
                f"report.json); this run has {','.join(wanted)} ({source}), in this order"
            )
    config = earlier.get("config", {})
    if "fs" in config and float(config["fs"]) != float(fs):
        raise SystemExit(
            f"train.py: error: --teacher-from {path} was trained with --fs {config['fs']:g} (its run's "
            f"report.json); this run has --fs {fs:g}: pass the same value, or a teacher trained with it"
        )
    if "window_seconds" in config and float(config["window_seconds"]) > float(window_seconds):
        raise SystemExit(
            f"train.py: error: --teacher-from {path} was trained on {config['window_seconds']:g} s windows (its "
            f"run's report.json); this run's --window-seconds {window_seconds:g} would show it less of each "
            "record than it learned from: pass at least its value, or a teacher trained on shorter windows"
        )


def file_digests(paths):
    """The SHA-256 of each of ``paths`` (none for None)."""
    return [sha256_of(path) for path in paths or ()]


def check_teacher_copy(args, state, digests):
    """Refuse to resume the run of ``state`` when it copied its teacher from ``--teacher-from`` files that
    have changed since (a teacher trained again in place): every stage reads the run's copy, so the run
    would go on with the old teacher while its report described the new file. ``digests`` are the
    files' SHA-256 now; they are compared with those the run recorded, or, for a run made before runs
    recorded them, one file with the run's copy of it (an ensemble of such a run cannot be compared and
    is accepted)."""
    copy = model_path(args.out, "teacher")
    if not (args.teacher_from and os.path.exists(copy)):
        return
    recorded = state.get("teacher_from_sha256")
    if recorded is None or len(recorded) != len(args.teacher_from):  # a run made before runs recorded them
        if len(args.teacher_from) > 1:
            return
        recorded = [sha256_of(copy)]
    changed = [path for path, now, then in zip(args.teacher_from, digests, recorded, strict=True) if now != then]
    if changed:
        raise SystemExit(
            f"train.py: error: --resume: --teacher-from {', '.join(changed)} changed since the run in {args.out} "
            "copied its teacher (trained again?); restore the file, drop --resume or choose another --out"
        )


def save_teacher(paths, destination, multilabel, digests):
    """The run's teacher from ``--teacher-from``: a copy of one file, or the ensemble of several saved as one,
    written under a temporary name and renamed (a kill never leaves a truncated teacher). Refused when
    the files are no longer those of ``digests`` (their SHA-256 when the run started: the run recorded
    those): one file is checked in its copy, the members of an ensemble once it is built."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    temporary = partial_path(destination)
    if len(paths) == 1:
        shutil.copyfile(paths[0], temporary)
        now = [sha256_of(temporary)]
    else:
        from lrhnet.ensemble import TeacherEnsemble
        from lrhnet.saving import load_network

        ensemble = TeacherEnsemble([load_network(path) for path in paths], multilabel=multilabel)
        ensemble(ensemble.example_inputs())  # built, so that it saves with its members' weights
        ensemble.save(temporary)
        now = file_digests(paths)
    if now != list(digests):
        os.remove(temporary)
        raise SystemExit(
            f"train.py: error: --teacher-from {', '.join(paths)} changed after this run first read it; run it again"
        )
    os.replace(temporary, destination)


def run(args):
    started = time.time()
    source_commit()  # taken now: the commit of the code this call loaded
    strategy = distribution_strategy(args.strategy)
    if args.strategy == "multiworker" and not is_chief():  # every worker trains; only the chief keeps the run
        args.out = tempfile.mkdtemp(prefix="train-worker-")
    config = run_config(args)
    digests = file_digests(args.teacher_from)
    redone = check_resume(args, config, digests)
    check_stage_inputs(args, redone)
    context, data = build_context(args)  # every input is checked before the run folder is touched
    if args.teacher_from:
        for path in args.teacher_from:
            check_teacher(
                path,
                args.teacher_leads,
                context.classes,
                args.demographics,
                args.fs,
                args.window_seconds,
            )
        sources = [teacher_source(path, digest) for path, digest in zip(args.teacher_from, digests)]
        data["teacher_from"] = sources[0] if len(sources) == 1 else sources
    try:
        run_dir = RunDir(args.out)
    except RunFolderError as error:
        raise SystemExit(f"train.py: error: --out: {error}") from None
    with run_dir:
        return run_stages(args, context, data, run_dir, config, started, strategy, redone, digests)


def run_stages(args, context, data, run_dir, config, started, strategy, redone=(), teacher_digests=None):
    """Run the asked stages in the taken run folder, the ``redone`` ones again though an earlier call
    completed them; write the report after each. ``teacher_digests``: the ``--teacher-from`` files'
    SHA-256 when the call started (read now when None), recorded in ``state.json`` before the run
    copies its teacher from them."""
    if not args.resume:
        run_dir.clear()
    run_dir.state["config"] = config
    if redone:  # forgotten on disk at once: a redone stage that fails or is killed stays undone
        for stage in redone:
            run_dir.state["stages"].pop(stage, None)
        run_dir.write(STATE, run_dir.state)
    earlier = run_dir.state.get("seconds", 0.0)  # the time earlier calls took up to their last completed stage
    run_dir.write("split.json", data.pop("split_names"))
    if args.teacher_from and not os.path.exists(run_dir.model_path("teacher")):
        if teacher_digests is None:
            teacher_digests = file_digests(args.teacher_from)
        run_dir.state["teacher_from_sha256"] = list(teacher_digests)  # first: a killed copy is made again
        run_dir.write(STATE, run_dir.state)
        save_teacher(args.teacher_from, run_dir.model_path("teacher"), context.multilabel, teacher_digests)
    context.run = run_dir
    report = {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "seed": args.seed,
        "method": args.method,
        "data": data,
        "teacher_leads": list(args.teacher_leads),
        "student_leads": list(args.student_leads),
        "stages": args.stages,
        "config": config,
        "models": {},
        "exports": [],
    }
    for stage in STAGES:
        if stage in args.stages and run_dir.done(stage):
            print(f"stage {stage}: done in an earlier call, kept", flush=True)
        elif stage in args.stages:
            print(f"\n== stage {stage} ==", flush=True)
            context.stage = stage
            try:
                with strategy.scope(), precision_policy(args.precision if stage in TRAINING_STAGES else "float32"):
                    output = STAGE_FUNCTIONS[stage](context)
                run_dir.state["seconds"] = round(earlier + time.time() - started, 1)
                run_dir.complete(stage, output)
            except NaNLoss as error:
                raise SystemExit(f"train.py: error: {error}") from None
        if run_dir.done(stage):  # this run's stages and those an earlier call completed
            add_to_report(report, run_dir.output(stage))
            write_report(run_dir, report)
    report["seconds"] = round(earlier + time.time() - started, 1)  # over every call of a resumed run
    write_report(run_dir, report)
    print_summary(report, run_dir)
    return 0
