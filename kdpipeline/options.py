"""``train.py``'s command line: every flag, its default, and the checks that run before any work."""

import argparse
import math
import os
import zipfile

PRECISIONS = ("float32", "mixed_bfloat16")  # --precision of train.py and the benchmarks that call it

STAGES = ("teacher", "student", "distill", "mlkd", "prune", "quantize", "export", "evaluate")
DEFAULT_DATA = "synthetic:n=2000,fs=100,seconds=10,seed=0"
# Without --data, the demonstration run: students see labels on a tenth of the training records, the
# teacher on all of them, the setting where distillation pays; 5 s crops of the 10 s records and a
# teacher of half the default width keep it within 10 minutes on 2 cores without AVX-512.
DEFAULT_DATA_LABELED_FRACTION = 0.1
DEFAULT_DATA_WINDOW_SECONDS = 5.0
DEFAULT_DATA_TEACHER_WIDTH = 0.125
WINDOW_SECONDS = 10.0
TEACHER_WIDTH = 0.25
# --class-balance: the power of data_utils.splits.class_balance_weights (a row's chance ~ count ** -power)
CLASS_BALANCE_POWERS = {"none": None, "sqrt": 0.5, "full": 1.0}
MIN_FS = 25.0  # below this an ECG loses its QRS complexes
MIN_WINDOW_SAMPLES = 64  # the teacher halves the time axis five times
TERM_FLAGS = {
    "kd": ("logit distillation", 0.7),
    "feature": ("LRH-Net feature (hint) distillation between the last stages", 0.0),
    "region": ("LiteHeart region-aware distillation", 1.0),
    "mi": ("LiteHeart cross-layer mutual information", 0.1),
    "pseudo": ("LiteHeart pseudo-labels on unlabelled records", 1.0),
    "consistency": (
        "weak/strong augmentation consistency (LiteHeart's term; with --method lrhnet, for the distill "
        "stage's student)",
        None,
    ),
}
# --consistency-weight when not given: on for LiteHeart, whose term it is; off for LRH-Net, whose paper has none
CONSISTENCY_DEFAULTS = {"liteheart": 1.0, "lrhnet": 0.0}


def build_parser():
    from data_utils.readers import FORMATS

    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Knowledge distillation for low-resource ECG: train a 12-lead teacher, distil it into a student on "
        "fewer leads (1-3 in the papers), compress and export it.",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        default=None,
        help=f"dataset folder, FORMAT:PATH (FORMAT one of {', '.join(FORMATS)}) or synthetic[:SPEC] (default: "
        f"{DEFAULT_DATA})",
    )
    data.add_argument(
        "--classes",
        default=None,
        help="challenge format: label vocabulary all, scored2021 or scored2020 (default: all)",
    )
    data.add_argument("--label-set", default="superdiagnostic", help="PTB-XL label set (default: superdiagnostic)")
    data.add_argument(
        "--teacher-leads",
        default="12",
        help="teacher leads: a count (12, 6, 4, 3, 2, 1) or names such as I,II,V2 (default: 12)",
    )
    data.add_argument(
        "--student-leads", default="1", help="student leads, a subset of the teacher's (default: 1 = lead I)"
    )
    data.add_argument("--fs", type=float, default=100.0, help="sampling rate the networks see, Hz (default: 100)")
    data.add_argument(
        "--window-seconds",
        type=float,
        default=None,
        help=f"window length, s (default: {WINDOW_SECONDS:g}; {DEFAULT_DATA_WINDOW_SECONDS:g} without --data, the "
        "demonstration run)",
    )
    data.add_argument(
        "--demographics",
        action="store_true",
        help="feed age and sex (from the record headers) to every network, as LRH-Net does on CinC 2020",
    )
    data.add_argument(
        "--labeled-fraction",
        type=float,
        default=None,
        help="share of the training split whose labels the students see, in (0, 1]; distillation stages also "
        f"learn from the other training records through the teacher (default: 1; {DEFAULT_DATA_LABELED_FRACTION:g} "
        "without --data, the demonstration run)",
    )
    data.add_argument(
        "--teacher-labels",
        choices=("all", "same"),
        default="all",
        help="labels the teacher trains on: all of the training split (a teacher from a larger labelled 12-lead set) "
        "or the same labelled share as the students (default: all)",
    )
    data.add_argument(
        "--cache-dir", default=None, help="preprocessed-signal cache (default: $ECG_KD_CACHE or ~/.cache/ecg-kd)"
    )

    model = parser.add_argument_group("method and training")
    model.add_argument(
        "--method",
        choices=("lrhnet", "liteheart"),
        default="lrhnet",
        help="the student and its distillation (default: lrhnet)",
    )
    model.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)} (default: all)"
    )
    model.add_argument("--epochs", type=int, default=10, help="epochs per training stage, at most (default: 10)")
    model.add_argument(
        "--lr-schedule",
        choices=("cosine", "paper"),
        default="cosine",
        help="cosine: linear warm-up, then half a cosine to 0; paper: LRH-Net's x0.1 steps at epochs 20/40/70 of 90, "
        "scaled to --epochs (default: cosine)",
    )
    model.add_argument(
        "--patience",
        type=int,
        default=10,
        help="stop a training stage after this many epochs without a better validation score; the best epoch is "
        "kept and reported; 0 trains every epoch (default: 10)",
    )
    model.add_argument(
        "--weight-average",
        type=float,
        default=0.0,
        metavar="MOMENTUM",
        help="in the teacher, student, distill and mlkd stages, score each epoch, and keep the best, with an "
        "exponential moving average of the weights updated every step with this momentum (e.g. 0.99); not in "
        "the prune and QAT stages, whose masks and quantization ranges belong to the weights themselves; "
        "0 is off (default: 0)",
    )
    model.add_argument(
        "--teacher-from",
        nargs="+",
        default=None,
        metavar="FILE",
        help="a trained teacher (.keras, e.g. another run's models/teacher.keras) to distil from instead of the "
        "teacher stage; several files are distilled from as one ensemble (the mean of their probabilities; "
        "--method lrhnet without the mlkd stage, which needs one teacher's features)",
    )
    model.add_argument(
        "--teacher-width",
        type=float,
        default=None,
        help=f"teacher width multiplier (default: {TEACHER_WIDTH:g}; {DEFAULT_DATA_TEACHER_WIDTH:g} without --data, "
        "the demonstration run; 1 is the paper's)",
    )
    model.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="randomly scale, shift and add baseline wander and noise to training windows; teacher and student read "
        "the same augmented window (default: on)",
    )
    model.add_argument(
        "--augment-invert",
        type=float,
        default=0.0,
        metavar="P",
        help="with --augment, flip the sign of a training window (every lead) with probability P, as a handheld "
        "recorder held the other way round records (default: 0)",
    )
    model.add_argument(
        "--class-balance",
        choices=tuple(CLASS_BALANCE_POWERS),
        default="none",
        help="draw the labelled training rows of each epoch anew, with replacement, rare classes more often: sqrt "
        "in proportion to the square root of each class's count, full every class about equally often; none "
        "passes over them as they are (default: none)",
    )
    model.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    model.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="compute of the training stages (teacher, student, distill, mlkd), their validation choices "
        "included; mixed_bfloat16 keeps weights, logits and loss terms in float32 and is faster on CPUs with "
        "bfloat16 units; test scores, pruning, quantization and export use float32 (default: float32)",
    )
    model.add_argument(
        "--seed", type=int, default=0, help="seed of the split, crops, initialisation and shuffling (default: 0)"
    )
    model.add_argument(
        "--split-seed",
        type=int,
        default=None,
        help="seed of the train/validation/test split and of the labelled share alone, so that runs of several "
        "--seed values share their records (default: --seed)",
    )
    model.add_argument(
        "--supervised-weight",
        type=float,
        default=0.3,
        help="weight of the supervised loss when distilling (default: 0.3)",
    )
    model.add_argument("--temperature", type=float, default=7.0, help="logit distillation temperature (default: 7)")
    model.add_argument(
        "--kd-t2",
        action="store_true",
        help="multiply the logit distillation term by T^2 as Hinton et al. do (default: no, as LRH-Net's code)",
    )
    for name, (what, default) in TERM_FLAGS.items():
        model.add_argument(
            f"--{name}-weight",
            type=float,
            default=default,
            help=f"weight of {what}; 0 switches it off (default: "
            + ("1 with --method liteheart, 0 with lrhnet" if default is None else f"{default:g}")
            + ")",
        )
    model.add_argument(
        "--kd-class-weights",
        choices=("uniform", "carry"),
        default="uniform",
        help="LRH-Net KD per class: uniform, or carry: each class weighted by the share of the teacher's validation "
        "AUROC above chance that the plain student on its own leads reaches (needs the student stage; multi-label "
        "data) (default: uniform)",
    )
    model.add_argument(
        "--beat-weight",
        type=float,
        default=0.0,
        help="LiteHeart region term: weight of heartbeat windows (R peaks found in each training window) beside the "
        "teacher's class-activation map, which weighs 1 (default: 0)",
    )

    compress = parser.add_argument_group("compression and export")
    compress.add_argument(
        "--sparsity",
        type=float,
        default=0.5,
        help="target weight sparsity of the prune stage, in (0, 1) (to keep every weight, leave prune out of "
        "--stages; default: 0.5)",
    )
    compress.add_argument(
        "--quantize",
        choices=("ptq", "qat", "none"),
        default="qat",
        help="int8 by post-training or quantization-aware training (default: qat)",
    )
    compress.add_argument(
        "--int8-tolerance",
        type=float,
        default=None,
        help="refuse (fail the stage, remove the file) an int8 export that scores more than this below its float "
        "student on the validation metric (default: report only)",
    )

    run = parser.add_argument_group("run")
    run.add_argument(
        "--strategy",
        choices=("default", "mirrored", "multiworker"),
        default="default",
        help="tf.distribute strategy; multiworker reads TF_CONFIG (default: default)",
    )
    run.add_argument(
        "--out",
        default=os.path.join("runs", "default"),
        help="output folder: new, empty, or an earlier run's (only the run's own files are replaced); default: "
        "runs/default",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last completed epoch (not with --strategy multiworker)",
    )
    run.add_argument("--verbose", action="store_true", help="show TensorFlow's own start-up and log lines")
    return parser


def parse_args(argv=None, teacher_files_exist=True, folders=True):
    """Parse and check ``argv``; a bad flag or combination exits with an argparse error (status 2).
    ``teacher_files_exist=False`` skips the check that ``--teacher-from`` names saved networks, for a
    caller that checks a command before the run that writes them; ``folders=False`` skips the checks of
    the ``--out`` and ``--cache-dir`` folders and of ``--teacher-from`` files, for a caller that only
    reads the configuration."""
    parser = build_parser()
    args = parser.parse_args(argv)
    demonstration = args.data is None  # the demonstration run's defaults only when --data is not given
    for name, (demonstration_default, default) in {
        "labeled_fraction": (DEFAULT_DATA_LABELED_FRACTION, 1.0),
        "window_seconds": (DEFAULT_DATA_WINDOW_SECONDS, WINDOW_SECONDS),
        "teacher_width": (DEFAULT_DATA_TEACHER_WIDTH, TEACHER_WIDTH),
    }.items():
        if getattr(args, name) is None:
            setattr(args, name, demonstration_default if demonstration else default)
    args.data = DEFAULT_DATA if args.data is None else args.data
    if args.consistency_weight is None:
        args.consistency_weight = CONSISTENCY_DEFAULTS[args.method]
    from data_utils.leads import resolve_leads
    from data_utils.readers import SYNTHETIC, detect_format, split_format

    args.format, args.path = split_format(args.data)
    if args.format != SYNTHETIC:
        if not os.path.isdir(args.path):
            parser.error(f"--data: {args.path} is not a folder")
        try:
            args.format = args.format or detect_format(args.path)
        except ValueError as error:
            parser.error(f"--data: {error}")
    try:
        args.teacher_leads, args.student_leads = resolve_leads(args.teacher_leads), resolve_leads(args.student_leads)
    except ValueError as error:
        parser.error(str(error))
    if not set(args.student_leads) <= set(args.teacher_leads):
        parser.error(
            f"student leads {','.join(args.student_leads)} are not a subset of the teacher leads "
            f"{','.join(args.teacher_leads)}"
        )
    if args.method == "liteheart" and len(args.student_leads) != 1:
        parser.error(
            f"--method liteheart trains a 1-lead student; --student-leads names {len(args.student_leads)} leads"
        )
    args.stages = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    unknown = [stage for stage in args.stages if stage not in STAGES]
    if unknown or not args.stages:
        parser.error(f"--stages: unknown {unknown or 'empty list'}; choose from {','.join(STAGES)}")
    numbers = (
        "fs",
        "window_seconds",
        "labeled_fraction",
        "sparsity",
        "temperature",
        "teacher_width",
        "supervised_weight",
        "beat_weight",
        "augment_invert",
        *(f"{name}_weight" for name in TERM_FLAGS),
        *(("int8_tolerance",) if args.int8_tolerance is not None else ()),
    )
    for name in numbers:
        if not math.isfinite(getattr(args, name)):
            parser.error(f"--{name.replace('_', '-')} must be a finite number, not {getattr(args, name)}")
    args.band = preprocessing_band(args.fs)
    checks = [  # (test, message); each test runs only when the ones before it passed
        (
            lambda: args.fs > 0 and args.window_seconds > 0 and args.batch_size > 0 and args.epochs > 0,
            "--fs, --window-seconds, --batch-size and --epochs must be positive",
        ),
        (
            lambda: args.fs >= MIN_FS,
            f"--fs {args.fs:g} Hz is below {MIN_FS:g} Hz, too slow to keep an ECG's QRS complexes",
        ),
        (
            lambda: round(args.window_seconds * args.fs) >= MIN_WINDOW_SAMPLES,
            f"--window-seconds {args.window_seconds:g} at {args.fs:g} Hz is under {MIN_WINDOW_SAMPLES} samples, "
            "the shortest window",
        ),
        (lambda: args.int8_tolerance is None or args.int8_tolerance >= 0, "--int8-tolerance must be non-negative"),
        (lambda: args.patience >= 0, "--patience must be 0 (off) or a positive number of epochs"),
        (
            lambda: 0 <= args.weight_average < 1,
            f"--weight-average must lie in [0, 1) (0 is off), not {args.weight_average}",
        ),
        (lambda: args.seed >= 0, f"--seed must be 0 or more, not {args.seed}"),
        (
            lambda: args.split_seed is None or args.split_seed >= 0,
            f"--split-seed must be 0 or more, not {args.split_seed}",
        ),
        (
            lambda: args.int8_tolerance is None or args.quantize != "none",
            "--int8-tolerance checks an int8 export; --quantize none makes none",
        ),
        (
            lambda: args.kd_weight != 0 or "mlkd" not in args.stages,
            "--kd-weight 0 switches distillation off, which is all the mlkd stage does: leave mlkd out of --stages",
        ),
        (lambda: 0 < args.labeled_fraction <= 1, f"--labeled-fraction must lie in (0, 1], not {args.labeled_fraction}"),
        (
            lambda: args.labeled_fraction == 1 or args.batch_size >= 2,
            "--labeled-fraction below 1 mixes labelled and unlabelled rows in each batch: --batch-size must be 2 or "
            "more",
        ),
        (lambda: 0 <= args.sparsity < 1, f"--sparsity must lie in [0, 1), not {args.sparsity}"),
        (
            lambda: args.sparsity > 0 or "prune" not in args.stages,
            "--sparsity 0 prunes nothing: leave prune out of --stages to keep every weight",
        ),
        (lambda: args.temperature > 0, "--temperature must be positive"),
        (
            lambda: all(getattr(args, f"{name}_weight") >= 0 for name in (*TERM_FLAGS, "beat", "supervised")),
            "term weights must be non-negative",
        ),
        (lambda: args.teacher_width > 0, "--teacher-width must be positive"),
        (lambda: 0 <= args.augment_invert <= 1, f"--augment-invert must lie in [0, 1], not {args.augment_invert}"),
        (
            lambda: args.augment or args.augment_invert == 0,
            "--augment-invert flips augmented windows: drop --no-augment",
        ),
        (
            lambda: args.kd_class_weights == "uniform" or (args.method == "lrhnet" and "student" in args.stages),
            "--kd-class-weights carry weighs LRH-Net's KD by the plain student's validation AUROC: it needs --method "
            "lrhnet and the student stage in --stages",
        ),
        (
            lambda: args.beat_weight == 0 or (args.method == "liteheart" and args.region_weight > 0),
            "--beat-weight weighs heartbeat windows in LiteHeart's region term: it needs --method liteheart and a "
            "positive --region-weight",
        ),
        (
            lambda: args.method == "liteheart" or args.consistency_weight == 0 or "distill" in args.stages,
            "--consistency-weight with --method lrhnet trains the distill stage's student (student_kd, not MLKD): add "
            "distill to --stages",
        ),
        (
            lambda: not (args.demographics and args.method == "liteheart"),
            "--demographics is for --method lrhnet (the LiteHeart student reads one lead only)",
        ),
        (
            lambda: not teacher_files_exist or all(os.path.isfile(path) for path in args.teacher_from or ()),
            f"--teacher-from: {', '.join(p for p in args.teacher_from or () if not os.path.isfile(p))} is not a file",
        ),
        (
            lambda: len(set(map(os.path.realpath, args.teacher_from or ()))) == len(args.teacher_from or ()),
            "--teacher-from names a file twice: an ensemble's members are different networks",
        ),
        (
            lambda: len(args.teacher_from or ()) < 2 or (args.method == "lrhnet" and "mlkd" not in args.stages),
            "--teacher-from with several files distils from their ensemble, which has no stage features: it needs "
            "--method lrhnet and no mlkd stage",
        ),
        (
            lambda: args.teacher_from is None or "teacher" not in args.stages,
            "--teacher-from replaces the teacher stage: leave teacher out of --stages",
        ),
        (
            lambda: not (args.resume and args.strategy == "multiworker"),
            "--resume with --strategy multiworker: only the chief keeps --out, so the other workers would train "
            "again the stages it skips and fall out of step with it; run again without --resume (to reuse a trained "
            "teacher, copy models/teacher.keras out of --out and give it with --teacher-from, leaving teacher out of "
            "--stages)",
        ),
    ]
    for ok, message in checks:
        if not ok():
            parser.error(message)
    problem = folders and folder_problem(args, teacher_files_exist)
    if problem:
        parser.error(problem)
    return args


def preprocessing_band(fs):
    """The band-pass filter (low, high) Hz at ``fs``: 0.5-40 Hz, the top lowered to 0.45 fs."""
    return (0.5, min(40.0, 0.45 * fs))


def folder_problem(args, teacher_files_exist=True):
    """What is wrong with ``--out``, ``--cache-dir`` and ``--teacher-from`` (None when nothing is);
    checked before anything is written."""
    from data_utils.cache import default_cache_dir
    from data_utils.files import is_inside
    from kdpipeline.rundir import RunFolderError, check_run_folder

    try:
        check_run_folder(os.path.abspath(args.out))
    except RunFolderError as error:
        return f"--out: {error}"
    if args.format != "synthetic":
        if is_inside(args.out, args.path):
            return f"--out {args.out} lies inside the data folder {args.path}; the data folder is never written"
        cache_dir = args.cache_dir or default_cache_dir()
        if is_inside(cache_dir, args.path):
            return (
                f"the cache folder {cache_dir} (--cache-dir or $ECG_KD_CACHE) lies inside the data folder "
                f"{args.path}; the data folder is never written"
            )
    for path in args.teacher_from or ():
        if is_inside(path, args.out) and not args.resume:
            return f"--teacher-from {path} lies inside --out {args.out}, which a fresh run clears; copy it elsewhere"
        if teacher_files_exist and not is_keras_file(path):
            return f"--teacher-from {path} is not a saved Keras network (.keras); pass a run's models/teacher.keras"
    return None


def is_keras_file(path):
    """True when ``path`` is a ``.keras`` archive (a zip holding ``config.json``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
