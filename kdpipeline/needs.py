"""What each stage of ``train.py`` reads from its run folder's ``models/``, checked before ``--out``
is touched: a stage whose input no earlier stage of the call, no ``--teacher-from`` file and (with
``--resume``) no network already in the run folder provides is refused, saying what to add."""

import os

from kdpipeline.options import STAGES
from kdpipeline.rundir import STATE, model_path, read_state

STUDENTS = ("student", "student_kd", "student_mlkd", "liteheart")  # the networks compression starts from
MAKES = {
    "teacher": ("teacher",),
    "student": ("student",),
    "distill": ("student_kd", "liteheart"),
    "mlkd": ("assistant", "student_mlkd"),
    "prune": ("student_pruned",),
}
TEACHER = ("the teacher", ("teacher",), "add teacher to --stages or give --teacher-from")
STUDENT = ("a trained student", STUDENTS, "add student or distill to --stages")


def stage_needs(args, stage):
    """``[(what, names, remedy)]``: each input ``stage`` reads under these flags, as a phrase, the
    networks any one of which will do, and what to add when none is there."""
    distils = [TEACHER] if args.kd_weight > 0 else []  # compression fine-tunes with the teacher's KD term
    if stage in ("distill", "mlkd"):  # carry's plain student is checked with the flags
        return [TEACHER]
    if stage == "prune" or (stage == "quantize" and args.quantize == "qat"):
        return [STUDENT] + distils
    if stage == "export":
        return [STUDENT]
    return []


def held_networks(folder):
    """Names of the networks saved in the run folder ``folder``."""
    return {name for stages in MAKES.values() for name in stages if os.path.exists(model_path(folder, name))}


def check_stage_inputs(args, redone=()):
    """Refuse (``SystemExit``) a call whose ``--stages`` would run a stage without its input, before
    anything is written. ``redone``: completed stages that this ``--resume`` does again
    (``check_resume``); the run's other completed stages are kept, not run."""
    run_folder = os.path.exists(os.path.join(args.out, STATE))
    resumed = args.resume and run_folder
    done = set(read_state(args.out)["stages"]) - set(redone) if resumed else set()
    on_disk = held_networks(args.out) if run_folder else set()
    held = set(on_disk) if resumed else set()  # without --resume the run folder starts afresh
    if args.teacher_from:
        held.add("teacher")
    for stage in STAGES:
        if stage not in args.stages or stage in done:
            continue
        for what, names, remedy in stage_needs(args, stage):
            if held.isdisjoint(names):
                kept = sorted(on_disk.intersection(names)) if not resumed else []
                hint = f"; {args.out} holds models/{kept[0]}.keras: add --resume to use it" if kept else ""
                raise SystemExit(
                    f"train.py: error: --stages: the {stage} stage reads {what}, which neither an earlier stage "
                    f"in --stages, --teacher-from nor (with --resume) the run folder gives: {remedy}{hint}"
                )
        held.update(MAKES.get(stage, ()))
