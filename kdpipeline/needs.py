"""What each stage of ``train.py`` reads from its run folder's ``models/``, checked before ``--out``
is touched: a stage whose input no earlier stage of the call, no ``--teacher-from`` file and (with
``--resume``) no network of a completed stage in the run folder gives is refused, saying what to add."""

import os
from typing import NamedTuple

from kdpipeline.compression import DISTILLED
from kdpipeline.options import STAGES
from kdpipeline.rundir import STATE, RunFolderError, model_path, read_state

MAKES = {
    "teacher": ("teacher",),
    "student": ("student",),
    "distill": ("student_kd", "liteheart"),
    "mlkd": ("assistant", "student_mlkd"),
    "prune": ("student_pruned",),
}


class Need(NamedTuple):
    """An input of a stage: a phrase naming it, the networks any one of which will do, and what to
    add when none is there."""

    what: str
    names: tuple
    remedy: str


RESUME = "--resume a run folder that holds it"
TEACHER = Need("the teacher", ("teacher",), f"add teacher to --stages, give --teacher-from or {RESUME}")
DISTILLING_TEACHER = TEACHER._replace(remedy=f"{TEACHER.remedy}, or set --kd-weight 0")  # compression's fine-tuning
PLAIN_STUDENT = Need("the plain student", ("student",), f"add student to --stages or {RESUME}")
STUDENT = Need("a trained student", ("student", *DISTILLED), f"add student or distill to --stages or {RESUME}")
QAT_SOURCE = STUDENT._replace(names=(*STUDENT.names, "student_pruned"))  # QAT may start from the pruned student


def stage_needs(args, stage):
    """The ``Need`` list of ``stage`` under these flags."""
    distils = [DISTILLING_TEACHER] if args.kd_weight > 0 else []
    if stage == "distill":
        return [TEACHER] + ([PLAIN_STUDENT] if args.kd_class_weights == "carry" else [])
    if stage == "mlkd":
        return [TEACHER]
    if stage == "prune":
        return [STUDENT] + distils
    if stage == "quantize" and args.quantize == "qat":
        return [QAT_SOURCE] + distils
    if stage == "export":
        return [STUDENT]
    return []


def completed_networks(folder, stages):
    """Names of the networks in the run folder ``folder`` that its completed ``stages`` saved."""
    made = {name for stage in stages for name in MAKES.get(stage, ())}
    return {name for name in made if os.path.exists(model_path(folder, name))}


def check_stage_inputs(args, redone=()):
    """Refuse (``SystemExit``) a call whose ``--stages`` would run a stage without its input, before
    anything is written. ``redone``: completed stages that this ``--resume`` does again
    (``check_resume``); the run's other completed stages are kept, not run."""
    try:
        completed = set(read_state(args.out)["stages"]) if os.path.exists(os.path.join(args.out, STATE)) else set()
    except RunFolderError:  # not a run's folder: taking it as --out is refused next, with the reason
        completed = set()
    on_disk = completed_networks(args.out, completed)
    held = set(on_disk) if args.resume else set()  # without --resume the run folder starts afresh
    if args.teacher_from:
        held.add("teacher")
    done = completed - set(redone) if args.resume else set()
    for stage in STAGES:
        if stage not in args.stages or stage in done:
            continue
        for what, names, remedy in stage_needs(args, stage):
            if held.isdisjoint(names):
                kept = sorted(on_disk.intersection(names)) if not args.resume else []
                hint = f" ({args.out} holds models/{kept[0]}.keras: add --resume)" if kept else ""
                raise SystemExit(
                    f"train.py: error: --stages: the {stage} stage reads {what}, which nothing in this call "
                    f"gives: {remedy}{hint}"
                )
        held.update(MAKES.get(stage, ()))
