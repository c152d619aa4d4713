"""The training stages of ``train.py``. Each takes the run ``Context`` and returns its report entry.

A stage saves what later stages need under ``models/`` of the run folder and reads what earlier
stages saved, so any subset of stages can run as long as their inputs exist.
"""

import dataclasses

import numpy as np

from data_utils.splits import class_balance_weights
from kdpipeline.divergence import StopOnNaN
from kdpipeline.options import CLASS_BALANCE_POWERS
from kdpipeline.report import source_commit
from lrhnet.efficiency import trainable_parameters
from lrhnet.recipes import fit_network, score_on_test
from lrhnet.training import precision_policy


@dataclasses.dataclass
class Context:
    """What every stage needs: the parsed flags, the run folder, the data and the split."""

    args: object
    run: object
    cache: object
    split: dict
    pipeline: object
    labeled: np.ndarray  # training rows whose labels the students see
    unlabeled: np.ndarray  # the other training rows
    multilabel: bool
    teacher_labeled: np.ndarray = None  # training rows whose labels the teacher sees (default: ``labeled``)
    kd_class_weights: list = None  # (K,) per-class weights of LRH-Net's logit KD (``--kd-class-weights``)
    stage: str = ""  # the stage running now, named in errors

    @property
    def classes(self):
        return self.cache.classes


ROW_KINDS = ("teacher", "labeled", "distilled")


def training_rows(ctx, kind):
    """``(labelled rows, unlabelled rows)`` of the training split that a network learns from.

    ``"teacher"``: the teacher's labelled rows (``--teacher-labels``); ``"labeled"``: the students'
    labelled rows (supervised training alone); ``"distilled"``: those plus every other training
    record, which only the distillation terms see.
    """
    if kind == "teacher":
        rows = ctx.labeled if ctx.teacher_labeled is None else ctx.teacher_labeled
        return rows, rows[:0]
    if kind == "labeled":
        return ctx.labeled, ctx.labeled[:0]
    if kind == "distilled":
        return ctx.labeled, ctx.unlabeled
    raise ValueError(f"row kind {kind!r} is not one of {ROW_KINDS}")


def training_batches(ctx, kind):
    """Training batches of ``training_rows(ctx, kind)``; every epoch is about one pass's worth of the
    training split (``batches_per_epoch``), whatever share of it is labelled.

    Labelled rows alone are cycled to as many rows as the training split holds, then shuffled, so a
    plain student with 10 % of the labels takes as many steps as a distilled one (with
    ``--class-balance``, as many rows are drawn anew each epoch, rare classes more often). With unlabelled
    rows (labels NaN), each batch of ``--batch-size`` holds labelled rows in their training-split
    proportion (at least one) and unlabelled rows for the rest; an epoch is one pass over the
    unlabelled rows.
    """
    args = ctx.args
    labeled, unlabeled = training_rows(ctx, kind)
    power = CLASS_BALANCE_POWERS[args.class_balance]
    weights = None if power is None else class_balance_weights(ctx.cache.labels[labeled], power)
    if len(unlabeled) == 0:
        if weights is not None:
            size = len(ctx.split["train"])
            return ctx.pipeline.train(labeled, args.batch_size, args.seed, weights=weights, rows_per_epoch=size)
        return ctx.pipeline.train(np.resize(labeled, len(ctx.split["train"])), args.batch_size, args.seed)
    share = labeled_per_batch(args.batch_size, len(labeled), len(unlabeled))
    return ctx.pipeline.semi_supervised(
        labeled,
        unlabeled,
        args.batch_size,
        unlabeled_batch_size=args.batch_size - share,
        seed=args.seed,
        labeled_batch_size=share,
        labeled_weights=weights,
    )


def labeled_per_batch(batch_size, labeled, unlabeled):
    """Labelled rows in a batch of ``batch_size`` mixing ``labeled`` and ``unlabeled`` records:
    their proportion, at least one, and at least one unlabelled row beside them."""
    return min(max(1, round(batch_size * labeled / (labeled + unlabeled))), batch_size - 1)


def learned_from(ctx, kind):
    """The report's ``{"labelled": n, "unlabelled": m}`` training records of ``training_rows(ctx, kind)``."""
    return dict(zip(("labelled", "unlabelled"), (len(part) for part in training_rows(ctx, kind))))


def batches_per_epoch(ctx, kind):
    """How many batches ``training_batches(ctx, kind)`` yields per epoch."""
    labeled, unlabeled = training_rows(ctx, kind)
    size = ctx.args.batch_size
    if len(unlabeled):
        return int(np.ceil(len(unlabeled) / (size - labeled_per_batch(size, len(labeled), len(unlabeled)))))
    return int(np.ceil(len(ctx.split["train"]) / size))


def build_student(ctx, name="student"):
    if ctx.args.method == "liteheart":
        from liteheart import LiteHeartStudent

        return LiteHeartStudent(len(ctx.classes), lead=ctx.args.student_leads[0], name=name)
    from lrhnet import LRHNet

    return LRHNet(len(ctx.args.student_leads), len(ctx.classes), demographics=ctx.args.demographics, name=name)


def kd_mode(ctx):
    return "bernoulli" if ctx.multilabel else "softmax"


def train_and_record(ctx, network, name, view="student", rows="labeled", **fit):
    """Fit ``network`` on ``training_batches(ctx, rows)`` (selected on validation), save it as
    ``models/<name>.keras``, score it on test; the entry says how many records it learned from."""
    args = ctx.args
    if "train_data" not in fit:  # built only when the caller gave none
        fit["train_data"] = training_batches(ctx, rows)
    fit.setdefault("verbose", 1)  # Keras progress bars
    fit["callbacks"] = [*fit.get("callbacks", ()), StopOnNaN(f"{ctx.stage}, training {name}")]
    fit.setdefault("backup_dir", ctx.run.path("backup", name))
    fitted = fit_network(
        network,
        ctx.pipeline,
        ctx.split,
        ctx.classes,
        epochs=args.epochs,
        seed=args.seed,
        view=view,
        multilabel=ctx.multilabel,
        batch_size=args.batch_size,
        **{
            "schedule": args.lr_schedule,
            "patience": args.patience or None,
            "weight_average": args.weight_average or None,
            **fit,
        },
    )
    ctx.run.save_model(network, name)
    precision = network.dtype_policy.name  # what it trained and was selected on validation in
    if precision != "float32":  # scored on test as it is saved and deployed: in float32
        with precision_policy("float32"):
            network = ctx.run.load_model(name)
    test = score_on_test(
        network, ctx.pipeline, ctx.split, ctx.classes, view=view, multilabel=ctx.multilabel, batch_size=args.batch_size
    )
    return {
        "params": trainable_parameters(network),
        "leads": list(args.teacher_leads if view == "teacher" else args.student_leads),
        "learned_from": learned_from(ctx, rows),
        "precision": precision,
        "commit": source_commit(),  # the code that trained it (stages of a resumed run may differ)
        "test": test,
        "best_epoch": fitted["best_epoch"],
        "epochs_run": fitted["epochs_run"],
        "selection": {fitted["metric"]: fitted["best_validation"]},
        "history": fitted["history"],
    }


def teacher_stage(ctx):
    from lrhnet import SEResNet1D

    teacher = SEResNet1D(
        len(ctx.args.teacher_leads),
        len(ctx.classes),
        demographics=ctx.args.demographics,
        width=ctx.args.teacher_width,
        name="teacher",
    )
    return {"teacher": train_and_record(ctx, teacher, "teacher", view="teacher", rows="teacher")}


def student_stage(ctx):
    return {"student": train_and_record(ctx, build_student(ctx), "student")}


def distillation_terms(ctx):
    """The distillation terms the flags ask for (weights of 0 leave a term out)."""
    args = ctx.args
    if args.method == "liteheart":
        from liteheart.semi_supervised import liteheart_terms

        return liteheart_terms(
            multilabel=ctx.multilabel,
            temperature=args.temperature,
            scale_t2=args.kd_t2,
            kd=args.kd_weight,
            region=args.region_weight,
            mi=args.mi_weight,
            pseudo=args.pseudo_weight,
            consistency=args.consistency_weight,
            beat_weight=args.beat_weight,
        )
    from lrhnet import FeatureDistillation, LogitDistillation

    weights = ctx.kd_class_weights
    kd = LogitDistillation(args.kd_weight, args.temperature, kd_mode(ctx), scale_t2=args.kd_t2, class_weights=weights)
    terms = [kd] if args.kd_weight > 0 else []
    if args.feature_weight > 0:
        terms.append(FeatureDistillation(args.feature_weight))
    if args.consistency_weight > 0:
        from liteheart.semi_supervised import AugmentationConsistency

        terms.append(AugmentationConsistency(args.consistency_weight, multilabel=ctx.multilabel))
    return terms


def validation_auroc(ctx, name, view):
    """(K,) per-class validation AUROC of the run's network ``name`` reading ``view``."""
    from data_utils import scoring
    from lrhnet.training import predict_probabilities

    validation = ctx.pipeline.evaluate(ctx.split["validation"], ctx.args.batch_size, crop="sliding")
    probabilities, labels = predict_probabilities(ctx.run.load_model(name), validation, view, ctx.multilabel)
    return scoring.per_class_auroc(labels, probabilities)


def carry_weights_of_run(ctx):
    """``--kd-class-weights carry``: ``lrhnet.terms.carry_weights`` from the teacher's and the plain
    student's validation AUROC per class (K,)."""
    from lrhnet.terms import carry_weights

    return carry_weights(validation_auroc(ctx, "teacher", "teacher"), validation_auroc(ctx, "student", "student"))


def distill_stage(ctx):
    """LRH-Net: the student with logit (and feature) distillation, and with ``--consistency-weight`` LiteHeart's
    weak/strong augmentation consistency; LiteHeart: semi-supervised LiteHeart."""
    args = ctx.args
    teacher = ctx.run.load_model("teacher")
    if args.kd_class_weights == "carry":
        ctx.kd_class_weights = [float(value) for value in carry_weights_of_run(ctx)]
    fit = {
        "teachers": [teacher],
        "terms": distillation_terms(ctx),
        "supervised_weight": args.supervised_weight,
        "rows": "distilled",
    }
    if args.method == "liteheart" or args.consistency_weight > 0:  # the consistency term needs the strong pass
        from liteheart.semi_supervised import SemiSupervisedDistiller, distiller_options

        fit["distiller_class"] = SemiSupervisedDistiller
        fit["distiller_options"] = distiller_options(ctx.pipeline)
    if args.method == "liteheart":
        return {"liteheart": train_and_record(ctx, build_student(ctx, "liteheart"), "liteheart", **fit)}
    entry = train_and_record(ctx, build_student(ctx, "student_kd"), "student_kd", **fit)
    if ctx.kd_class_weights is not None:
        entry["kd_class_weights"] = dict(zip(ctx.classes, ctx.kd_class_weights))
    return {"student_kd": entry}


def mlkd_stage(ctx):
    """Sequential multi-level KD: an assistant on the student's leads distilled from the teacher,
    then the student from both (``--kd-weight`` split 0.6/0.4 between them)."""
    from lrhnet import LogitDistillation, SEResNet1D, multilevel_terms

    args = ctx.args
    teacher = ctx.run.load_model("teacher")
    assistant = SEResNet1D(
        len(args.student_leads),
        len(ctx.classes),
        demographics=args.demographics,
        width=args.teacher_width,
        name="assistant",
    )
    kd = {"temperature": args.temperature, "mode": kd_mode(ctx), "scale_t2": args.kd_t2}
    entries = {
        "assistant": train_and_record(
            ctx,
            assistant,
            "assistant",
            teachers=[teacher],
            terms=[LogitDistillation(args.kd_weight, name="kd_teacher1", **kd)],
            supervised_weight=args.supervised_weight,
            rows="distilled",
        )
    }
    terms = multilevel_terms(alpha=1 - args.kd_weight, **kd)  # the two teachers share --kd-weight 0.6/0.4
    entries["student_mlkd"] = train_and_record(
        ctx,
        build_student(ctx, "student_mlkd"),
        "student_mlkd",
        teachers=[teacher, assistant],
        terms=terms,
        teacher_views=["teacher", "student"],
        supervised_weight=args.supervised_weight,
        rows="distilled",
    )
    return entries


TRAINING_STAGES = {"teacher": teacher_stage, "student": student_stage, "distill": distill_stage, "mlkd": mlkd_stage}
