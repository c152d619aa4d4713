"""The training stages of ``train.py``. Each takes the run ``Context`` and returns its report entry.

A stage saves what later stages need under ``models/`` of the run folder and reads what earlier
stages saved, so any subset of stages can run as long as their inputs exist.
"""

import dataclasses

import numpy as np

from kdpipeline.divergence import StopOnNaN
from lrhnet.efficiency import trainable_parameters
from lrhnet.recipes import fit_network, score_on_test


@dataclasses.dataclass
class Context:
    """What every stage needs: the parsed flags, the run folder, the data and the split."""

    args: object
    run: object
    cache: object
    split: dict
    pipeline: object
    labeled: np.ndarray
    unlabeled: np.ndarray
    multilabel: bool
    stage: str = ""  # the stage running now, named in errors

    @property
    def classes(self):
        return self.cache.classes


def build_student(ctx, name="student"):
    if ctx.args.method == "liteheart":
        from liteheart import LiteHeartStudent

        return LiteHeartStudent(len(ctx.classes), lead=ctx.args.student_leads[0], name=name)
    from lrhnet import LRHNet

    return LRHNet(len(ctx.args.student_leads), len(ctx.classes), demographics=ctx.args.demographics, name=name)


def kd_mode(ctx):
    return "bernoulli" if ctx.multilabel else "softmax"


def train_and_record(ctx, network, name, view="student", **fit):
    """Fit ``network`` (selected on validation), save it as ``models/<name>.keras``, score it on test."""
    args = ctx.args
    fit.setdefault("train_data", ctx.pipeline.train(ctx.labeled, args.batch_size, args.seed))
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
        **{"schedule": args.lr_schedule, "patience": args.patience or None, **fit},
    )
    ctx.run.save_model(network, name)
    test = score_on_test(
        network, ctx.pipeline, ctx.split, ctx.classes, view=view, multilabel=ctx.multilabel, batch_size=args.batch_size
    )
    return {
        "params": trainable_parameters(network),
        "leads": list(args.teacher_leads if view == "teacher" else args.student_leads),
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
    return {"teacher": train_and_record(ctx, teacher, "teacher", view="teacher")}


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
        )
    from lrhnet import FeatureDistillation, LogitDistillation

    terms = (
        [LogitDistillation(args.kd_weight, args.temperature, kd_mode(ctx), scale_t2=args.kd_t2)]
        if args.kd_weight > 0
        else []
    )
    if args.feature_weight > 0:
        terms.append(FeatureDistillation(args.feature_weight))
    return terms


def distill_stage(ctx):
    """LRH-Net: the student with logit (and feature) distillation; LiteHeart: semi-supervised LiteHeart."""
    args = ctx.args
    teacher = ctx.run.load_model("teacher")
    fit = {"teachers": [teacher], "terms": distillation_terms(ctx), "supervised_weight": args.supervised_weight}
    if args.method == "liteheart":
        from liteheart.semi_supervised import SemiSupervisedDistiller

        fit.update(
            distiller_class=SemiSupervisedDistiller,
            train_data=ctx.pipeline.semi_supervised(ctx.labeled, ctx.unlabeled, args.batch_size, seed=args.seed),
        )
        return {"liteheart": train_and_record(ctx, build_student(ctx, "liteheart"), "liteheart", **fit)}
    return {"student_kd": train_and_record(ctx, build_student(ctx, "student_kd"), "student_kd", **fit)}


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
    )
    return entries


TRAINING_STAGES = {"teacher": teacher_stage, "student": student_stage, "distill": distill_stage, "mlkd": mlkd_stage}
