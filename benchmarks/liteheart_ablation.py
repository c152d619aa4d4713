"""LiteHeart ablation on real data: supervised student, logit KD, LiteHeart, LiteHeart without each term.

    TF_NUM_INTRAOP_THREADS=1 python -m benchmarks.liteheart_ablation ludb --data ../shared/data/ludb \
        --out benchmarks/results/liteheart_ludb.json
    TF_NUM_INTRAOP_THREADS=1 python -m benchmarks.liteheart_ablation cinc2017 \
        --data ../shared/data/cinc2017/training2017 \
        --out benchmarks/results/liteheart_cinc2017.json

The student is always ``LiteHeartStudent`` on lead I. Variants (``--variants``):
  student       supervised on the labelled rows only (repeated so that an epoch has as many steps
                as one pass over the unlabelled rows);
  kd            softmax/Bernoulli logit KD (T = 7, weight 0.7; cinc2017 with T^2) on labelled and
                unlabelled rows;
  liteheart     ``liteheart_terms``: KD + region-aware (1.0) + cross-layer MI (0.1) + pseudo-labels
                (1.0, teacher, threshold 0.9) + weak/strong consistency (1.0), weak augmentation;
  no_kd, no_region, no_mi, no_pseudo, no_consistency: LiteHeart with that term's weight set to 0.
Supervised weight 0.3 whenever a teacher teaches. With every row labelled there is nothing to
pseudo-label, so ``no_pseudo`` is skipped at fraction 1.
cinc2017: the stratified 80/10/10 split (seed 0) of the LRH-Net benchmark, 15 s windows at 100 Hz;
    a width-0.25 SE-ResNet teacher on lead I; labelled fractions ``--fractions`` (default 0.1 and
    1) of the training split, drawn stratified per seed (``data_utils.splits.labeled_split``).
ludb: classes with at least 20 records, 5-fold cross-validation as in the LRH-Net benchmark, 8 s
    windows; per fold and seed a 12-lead width-0.25 SE-ResNet teacher; fraction 1; at most 40 epochs
    with ``train.py``'s defaults (cosine schedule, early stopping, no T^2, an online augmentation
    that teacher and student share in place of LiteHeart's weak augmentation).
Results are written after every run; ``--resume`` skips runs already in ``--out`` (an existing ``--out`` is
refused without it, and with it when recorded with another recipe); ``--models``
keeps the cinc2017 teacher. ``--quick`` checks the script on a small subset with 1 epoch.
"""

import argparse
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from benchmarks.provenance import provenance  # noqa: E402
from benchmarks.resume import earlier_results  # noqa: E402
from benchmarks.run_log import Results, saved_or_trained, train_and_score  # noqa: E402
from benchmarks.settings import LUDB_EPOCHS, TRAIN_DEFAULTS, cinc2017_split, ludb_folds  # noqa: E402
from data_utils.augment import Augmentation  # noqa: E402
from data_utils.pipeline import ECGPipeline  # noqa: E402
from data_utils.splits import labeled_split  # noqa: E402
from liteheart import LiteHeartStudent  # noqa: E402
from liteheart.semi_supervised import (  # noqa: E402
    TERM_WEIGHTS,
    SemiSupervisedDistiller,
    distiller_options,
    liteheart_terms,
)
from lrhnet import LogitDistillation, SEResNet1D  # noqa: E402

VARIANTS = ("student", "kd", "liteheart", *(f"no_{name}" for name in TERM_WEIGHTS))


def variant_fit(variant, teacher, multilabel, pipeline, labeled, unlabeled, seed, scale_t2=True):
    """``fit_network`` arguments for one variant (without the shared ones). ``scale_t2`` multiplies
    logit KD by T^2 (as the committed CinC 2017 results were made); when the pipeline augments, the
    LiteHeart student reads the window the teacher reads, with no weak augmentation of its own."""
    if variant == "student":  # as many steps per epoch as the variants that also pass over the unlabelled rows
        return {"train_data": pipeline.train(labeled, 64, seed).repeat(max(1, round(len(unlabeled) / len(labeled))))}
    mixed = pipeline.semi_supervised(labeled, unlabeled, 64, seed=seed)
    if variant == "kd":
        kd = LogitDistillation(0.7, mode="bernoulli" if multilabel else "softmax", scale_t2=scale_t2)
        return {"train_data": mixed, "teachers": [teacher], "terms": [kd], "supervised_weight": 0.3}
    switched_off = {variant[3:]: 0.0} if variant.startswith("no_") else {}
    return {
        "train_data": mixed,
        "teachers": [teacher],
        "terms": liteheart_terms(multilabel=multilabel, scale_t2=scale_t2, **switched_off),
        "supervised_weight": 0.3,
        "distiller_class": SemiSupervisedDistiller,
        "distiller_options": distiller_options(pipeline),
    }


def setting_name(fraction):
    return f"{fraction:.0%} labelled"


def pending(args, results, seed, fold=None):
    """``(variant, fraction)`` pairs still to run for a seed (and fold)."""
    return [
        (variant, fraction)
        for fraction in args.fractions
        for variant in args.variants
        if not (variant == "no_pseudo" and fraction == 1)
        and not results.has(model=variant, setting=setting_name(fraction), seed=seed, fold=fold)
    ]


def run_variants(
    args, results, pipeline, split, classes, multilabel, teacher, seed, epochs, extra, scale_t2=True, **training
):
    """Train and record the pending variants of one seed (and fold); ``scale_t2`` as for
    ``variant_fit``, ``training``: more ``fit_network`` arguments (LUDB: ``TRAIN_DEFAULTS``)."""
    for variant, fraction in pending(args, results, seed, extra.get("fold")):
        labeled, unlabeled = labeled_split(split["train"], pipeline.cache.labels, fraction, seed=seed)
        setting = setting_name(fraction)
        fit = variant_fit(variant, teacher, multilabel, pipeline, labeled, unlabeled, seed, scale_t2)
        train_and_score(
            results,
            LiteHeartStudent(len(classes)),
            pipeline,
            split,
            classes,
            multilabel,
            epochs,
            seed,
            "student",
            variant,
            "I",
            extra={**extra, "setting": setting, "labeled": len(labeled), "unlabeled": len(unlabeled)},
            **fit,
            **training,
        )


def run_cinc2017(args, results):
    _, cache, split = cinc2017_split(args.data, args.quick)
    pipeline = ECGPipeline(cache, "I", "I", window_seconds=15)
    classes, epochs = cache.classes, 1 if args.quick else args.epochs
    teacher = saved_or_trained(
        args.models,
        "ablation_teacher.keras",
        lambda: train_and_score(
            results,
            SEResNet1D(1, len(classes), width=0.25, name="teacher"),
            pipeline,
            split,
            classes,
            False,
            1 if args.quick else args.teacher_epochs,
            0,
            "teacher",
            "teacher",
            "I",
            extra={"setting": "teacher"},
        ),
    )
    for seed in args.seeds:
        run_variants(args, results, pipeline, split, classes, False, teacher, seed, epochs, {})


def run_ludb(args, results):
    """Per fold and seed a 12-lead teacher, then the pending variants, with ``train.py``'s defaults
    (``benchmarks.settings.TRAIN_DEFAULTS``, KD without T^2, one online augmentation of the window
    teacher and student read)."""
    cache, splits = ludb_folds(args.data, quick=args.quick)
    classes, epochs = cache.classes, 1 if args.quick else args.epochs
    pipeline = ECGPipeline(cache, 12, "I", window_seconds=8, augmentation=Augmentation())
    for fold, split in enumerate(splits):
        for seed in args.seeds[: 1 if args.quick else None]:
            if not pending(args, results, seed, fold):
                continue
            teacher = train_and_score(
                results,
                SEResNet1D(12, len(classes), width=0.25),
                pipeline,
                split,
                classes,
                True,
                epochs,
                seed,
                "teacher",
                "teacher",
                "12",
                extra={"fold": fold, "setting": "teacher"},
                **TRAIN_DEFAULTS,
            )
            extra = {"fold": fold}
            run_variants(
                args,
                results,
                pipeline,
                split,
                classes,
                True,
                teacher,
                seed,
                epochs,
                extra,
                scale_t2=False,
                **TRAIN_DEFAULTS,
            )


def recipe(args):
    """What decides a setting's numbers besides the seeds and variants, stored in ``--out`` so that
    ``--resume`` adds to rows of the same recipe only."""
    if args.setting == "ludb":
        training = {**TRAIN_DEFAULTS, "augmentation": Augmentation().as_dict(), "t2": False}
    else:
        training = {"teacher_epochs": args.teacher_epochs, "t2": True}
    return {"epochs": args.epochs, **training, "terms": TERM_WEIGHTS, "quick": args.quick}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setting", choices=("cinc2017", "ludb"))
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument(
        "--fractions", type=float, nargs="+", default=None, help="labelled fractions (default: cinc2017 0.1 1, ludb 1)"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help=f"student epochs (default: cinc2017 10, ludb {LUDB_EPOCHS} at most)"
    )
    parser.add_argument("--teacher-epochs", type=int, default=12, help="cinc2017 teacher epochs")
    parser.add_argument("--models", help="cinc2017: folder to keep the teacher in")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    args.fractions = args.fractions or ([0.1, 1.0] if args.setting == "cinc2017" else [1.0])
    args.epochs = args.epochs or (10 if args.setting == "cinc2017" else LUDB_EPOCHS)
    earlier_results(parser, args.out, args.resume, recipe(args))
    header = {"setting": f"LiteHeart ablation, {args.setting}", **provenance(), "seeds": args.seeds}
    header["recipe"] = recipe(args)
    results = Results(
        args.out, header, resume=args.resume, key=("model", "setting", "seed", "fold"), group=("setting", "model")
    )
    results.complete(run_cinc2017 if args.setting == "cinc2017" else run_ludb, args)


if __name__ == "__main__":
    main()
