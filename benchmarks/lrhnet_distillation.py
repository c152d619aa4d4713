"""LRH-Net on real and synthetic data: teacher, student, student + KD and student + MLKD (sequential).

    python -m benchmarks.lrhnet_distillation cinc2017 --data ../shared/data/cinc2017/training2017
    python -m benchmarks.lrhnet_distillation ludb --data ../shared/data/ludb
    python -m benchmarks.lrhnet_distillation synthetic

cinc2017: one stratified 80/10/10 split (seed 0); a wide 1-lead SE-ResNet teacher (width 0.5)
    trained once; LRH-Net students over ``--seeds``; MLKD's assistant is a width-0.25 SE-ResNet on
    the same lead, distilled from the teacher first. Softmax KD with T^2 (single-label classes).
ludb: classes with at least 20 records; 5-fold stratified cross-validation, 15 % of each training
    part for validation; per fold and seed a 12-lead teacher (width 0.25) and, for lead sets 1, 2
    and 3, students, KD and MLKD (assistant: width-0.25 SE-ResNet on the student's leads), trained
    with ``train.py``'s defaults (``run_ludb``).
synthetic: ``--records`` generated 10 s records (``benchmarks.settings.synthetic_split``), a
    12-lead width-0.25 teacher and a lead-I assistant trained once, then per seed the lead-I
    students as for cinc2017 (Bernoulli KD with T^2, multi-label) and the LiteHeart student with
    every LiteHeart term (``liteheart_terms``, as in the LiteHeart ablation).
Results are written after every run to ``--out`` (JSON) and a Markdown table beside it.
``--resume`` keeps the runs already in ``--out`` and skips them (an existing ``--out`` is refused without it, and
with it when the file was recorded with another recipe: epochs, schedule, KD, augmentation); ``--models DIR`` saves the
teacher and assistant of cinc2017 or synthetic there and reloads them on a later call, so seeds
can be added run by run. ``--quick`` trains 1 epoch on a small subset to check the script.
"""

import argparse
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


from benchmarks.liteheart_ablation import variant_fit  # noqa: E402
from benchmarks.provenance import provenance  # noqa: E402
from benchmarks.resume import earlier_results  # noqa: E402
from benchmarks.run_log import Results, saved_or_trained, train_and_score  # noqa: E402
from benchmarks.settings import LUDB_EPOCHS, TRAIN_DEFAULTS, cinc2017_split, ludb_folds, synthetic_split  # noqa: E402
from data_utils.augment import Augmentation  # noqa: E402
from data_utils.pipeline import ECGPipeline  # noqa: E402
from liteheart import LiteHeartStudent  # noqa: E402
from lrhnet import LogitDistillation, LRHNet, SEResNet1D, multilevel_terms  # noqa: E402
from lrhnet.mlkd import PAPER_ALPHA  # noqa: E402

LUDB_LEAD_SETS = {"1": ("I",), "2": ("I", "II"), "3": ("I", "II", "V2")}


def run_cinc2017(args, results):
    dataset, cache, split = cinc2017_split(args.data, args.quick)
    results.header["split"] = {name: [dataset.record_ids[i] for i in index] for name, index in split.items()}
    pipeline = ECGPipeline(cache, "I", "I", window_seconds=15)
    run_one_split(args, results, pipeline, split, cache.classes, multilabel=False, teacher=("I", 0.5))


def run_synthetic(args, results):
    cache, split = synthetic_split(args.records, args.quick)
    pipeline = ECGPipeline(cache, 12, "I", window_seconds=10)
    run_one_split(args, results, pipeline, split, cache.classes, multilabel=True, teacher=("12", 0.25), liteheart=True)


def run_one_split(args, results, pipeline, split, classes, multilabel, teacher, liteheart=False):
    """A teacher (``(leads, width)``, on the pipeline's teacher leads) and a width-0.25 assistant on
    lead I, trained once (seed 0; kept in ``--models``), then per seed the LRH-Net student alone,
    with KD and with MLKD, and with ``liteheart`` the LiteHeart student with every LiteHeart term
    (every training record labelled)."""
    k = len(classes)
    kd = dict(
        mode="bernoulli" if multilabel else "softmax", scale_t2=True, temperature=7.0
    )  # multilevel_terms and LogitDistillation take these
    e_teacher, e_student = (1, 1) if args.quick else (args.teacher_epochs, args.epochs)
    teacher_leads, width = teacher
    teacher = saved_or_trained(
        args.models,
        "teacher.keras",
        lambda: train_and_score(
            results,
            SEResNet1D(len(pipeline.teacher_leads), k, width=width),
            pipeline,
            split,
            classes,
            multilabel,
            e_teacher,
            0,
            "teacher",
            "teacher",
            teacher_leads,
        ),
    )
    assistant = saved_or_trained(
        args.models,
        "assistant.keras",
        lambda: train_and_score(
            results,
            SEResNet1D(1, k, width=0.25, name="assistant"),
            pipeline,
            split,
            classes,
            multilabel,
            e_teacher,
            0,
            "student",
            "assistant (KD from teacher)",
            "I",
            teachers=[teacher],
            terms=[LogitDistillation(0.7, name="kd_teacher1", **kd)],
            supervised_weight=0.3,
        ),
    )

    def students(seed):
        """``{name: (network, fit arguments)}`` of one seed."""
        built = {
            "student": (LRHNet(1, k), {}),
            "student_kd": (
                LRHNet(1, k),
                dict(teachers=[teacher], terms=[LogitDistillation(0.7, **kd)], supervised_weight=0.3),
            ),
            "student_mlkd": (
                LRHNet(1, k),
                dict(
                    teachers=[teacher, assistant],
                    terms=multilevel_terms(**kd),
                    teacher_views=["teacher", "student"],
                    supervised_weight=0.3,
                ),
            ),
        }
        if liteheart:
            built["liteheart"] = (
                LiteHeartStudent(k),
                variant_fit("liteheart", teacher, multilabel, pipeline, split["train"], split["train"][:0], seed),
            )
        return built

    for seed in args.seeds:
        for name, (network, fit) in students(seed).items():
            if not results.has(model=name, leads="I", seed=seed):
                train_and_score(
                    results, network, pipeline, split, classes, multilabel, e_student, seed, "student", name, "I", **fit
                )


def ludb_rows():
    """``(model, leads)`` of every row one fold and seed records."""
    students = ("student", "student_kd", "assistant (KD from teacher)", "student_mlkd")
    return [("teacher", "12")] + [(model, leads) for leads in LUDB_LEAD_SETS for model in students]


def run_ludb(args, results):
    """Per fold and seed, a 12-lead teacher (width 0.25), then per lead set the student, + KD, the
    assistant and + MLKD, with ``train.py``'s defaults: at most ``--epochs``, the cosine schedule,
    early stopping, KD without T^2 (alpha 0.3, T 7) and one online augmentation of the window both
    networks read. A fold and seed whose rows are all in ``--out`` is skipped (``--resume``); one
    recorded in part is trained again whole, as its rows need the same teacher."""
    cache, splits = ludb_folds(args.data, args.folds, args.quick)
    kept, k = cache.classes, len(cache.classes)
    results.header["classes"] = list(kept)
    epochs = 1 if args.quick else args.epochs
    augmentation = Augmentation()
    for fold, split in enumerate(splits):
        for seed in args.seeds[: 1 if args.quick else None]:
            if all(results.has(model=model, leads=leads, seed=seed, fold=fold) for model, leads in ludb_rows()):
                continue

            def record(network, pipeline, view, name, leads, **fit):
                extra = {"fold": fold}
                return train_and_score(
                    results,
                    network,
                    pipeline,
                    split,
                    kept,
                    True,
                    epochs,
                    seed,
                    view,
                    name,
                    leads,
                    extra,
                    **TRAIN_DEFAULTS,
                    **fit,
                )

            teacher_pipeline = ECGPipeline(cache, 12, 12, window_seconds=8, augmentation=augmentation)
            teacher = record(SEResNet1D(12, k, width=0.25), teacher_pipeline, "teacher", "teacher", "12")
            for name, leads in LUDB_LEAD_SETS.items():
                pipeline = ECGPipeline(cache, 12, leads, window_seconds=8, augmentation=augmentation)
                record(LRHNet(len(leads), k), pipeline, "student", "student", name)
                distilled = {"teachers": [teacher], "supervised_weight": PAPER_ALPHA}
                kd = LogitDistillation(1 - PAPER_ALPHA, mode="bernoulli")
                record(LRHNet(len(leads), k), pipeline, "student", "student_kd", name, terms=[kd], **distilled)
                assistant = record(
                    SEResNet1D(len(leads), k, width=0.25, name="assistant"),
                    pipeline,
                    "student",
                    "assistant (KD from teacher)",
                    name,
                    terms=[LogitDistillation(1 - PAPER_ALPHA, mode="bernoulli", name="kd_teacher1")],
                    **distilled,
                )
                record(
                    LRHNet(len(leads), k),
                    pipeline,
                    "student",
                    "student_mlkd",
                    name,
                    teachers=[teacher, assistant],
                    terms=multilevel_terms(mode="bernoulli"),
                    teacher_views=["teacher", "student"],
                    supervised_weight=PAPER_ALPHA,
                )


def recipe(args):
    """What decides a setting's numbers besides the seeds, stored in ``--out`` so that ``--resume`` adds to
    rows of the same recipe only."""
    if args.setting == "ludb":
        kd = {"alpha": PAPER_ALPHA, "temperature": 7.0, "t2": False}
        shared = {**TRAIN_DEFAULTS, "augmentation": Augmentation().as_dict(), "folds": args.folds}
        return {"epochs": args.epochs, "kd": kd, **shared, "quick": args.quick}
    kd = {"alpha": 0.3, "temperature": 7.0, "t2": True}
    sizes = {"records": args.records} if args.setting == "synthetic" else {}
    return {"epochs": args.epochs, "teacher_epochs": args.teacher_epochs, "kd": kd, **sizes, "quick": args.quick}


SETTINGS = {"cinc2017": run_cinc2017, "ludb": run_ludb, "synthetic": run_synthetic}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setting", choices=sorted(SETTINGS))
    parser.add_argument("--data", help="the dataset folder (cinc2017, ludb)")
    parser.add_argument("--records", type=int, default=3000, help="synthetic: records to generate (default: 3000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"student epochs (default: cinc2017 15, ludb {LUDB_EPOCHS} at most, synthetic 10)",
    )
    parser.add_argument(
        "--teacher-epochs", type=int, default=12, help="cinc2017 and synthetic teacher and assistant epochs"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True, help="results JSON path")
    parser.add_argument("--resume", action="store_true", help="keep the runs in --out and skip them")
    parser.add_argument(
        "--models", help="cinc2017, synthetic: folder to save the teacher and assistant in, and reload them from"
    )
    args = parser.parse_args()
    if args.setting != "synthetic" and not args.data:
        parser.error(f"{args.setting} needs --data")
    args.epochs = args.epochs or {"cinc2017": 15, "ludb": LUDB_EPOCHS, "synthetic": 10}[args.setting]
    earlier_results(parser, args.out, args.resume, recipe(args))
    header = {"setting": args.setting, **provenance(), "seeds": args.seeds, "recipe": recipe(args)}
    results = Results(args.out, header, resume=args.resume)
    results.complete(SETTINGS[args.setting], args)


if __name__ == "__main__":
    main()
