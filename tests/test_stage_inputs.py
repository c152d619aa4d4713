"""``train.py --stages``: a stage whose input network nothing provides is refused before the run
folder is touched (kdpipeline.needs); one whose input an earlier stage, ``--teacher-from`` or a
resumed run folder provides goes on."""

import json
import os

import pytest

from kdpipeline.needs import check_stage_inputs
from kdpipeline.options import parse_args
from kdpipeline.rundir import STATE, TOOL

SAVED_NETWORK = os.path.join(os.path.dirname(__file__), "..", "models", "cinc2017", "lrhnet.keras")  # any .keras


def checked(*flags):
    """Check the stage inputs of ``train.py *flags``; the refusal's message, or None."""
    try:
        check_stage_inputs(parse_args(list(flags)))
    except SystemExit as refusal:
        return str(refusal)
    return None


def run_folder(root, stages, networks):
    """A run folder at ``root`` whose ``state.json`` lists ``stages`` done and whose ``models/`` holds
    ``networks`` (empty files: only their presence is read)."""
    os.makedirs(os.path.join(root, "models"))
    with open(os.path.join(root, STATE), "w") as handle:
        json.dump({"tool": TOOL, "stages": {stage: {} for stage in stages}}, handle)
    for name in networks:
        open(os.path.join(root, "models", f"{name}.keras"), "w").close()
    return str(root)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--stages", "student,distill"], "the distill stage reads the teacher"),
        (["--stages", "mlkd"], "the mlkd stage reads the teacher"),
        (["--stages", "prune"], "the prune stage reads a trained student"),
        (["--stages", "student,prune"], "the prune stage reads the teacher"),  # fine-tuned with KD
        (["--stages", "student,quantize"], "the quantize stage reads the teacher"),  # QAT, with KD
        (["--stages", "export,evaluate"], "the export stage reads a trained student"),
    ],
)
def test_a_stage_without_its_input_is_refused_naming_what_to_add(tmp_path, flags, message):
    refusal = checked(*flags, "--out", str(tmp_path / "run"))
    assert refusal.startswith("train.py: error: --stages: ") and message in refusal
    assert ("add teacher to --stages or give --teacher-from" in refusal) == ("teacher" in message)
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize(
    "flags",
    [
        ["--stages", "teacher,distill,mlkd,prune,quantize,export,evaluate"],
        ["--stages", "student,prune,quantize", "--kd-weight", "0"],  # no KD term, no teacher
        ["--stages", "student,quantize,export", "--quantize", "ptq"],  # post-training int8 reads no teacher
        ["--stages", "evaluate"],  # scores whatever the folder holds
        ["--stages", "distill,prune", "--teacher-from", SAVED_NETWORK],
    ],
)
def test_a_stage_whose_input_an_earlier_stage_or_teacher_from_gives_goes_on(tmp_path, flags):
    assert checked(*flags, "--out", str(tmp_path / "run")) is None


def test_a_resumed_run_folder_gives_what_it_holds_and_a_fresh_call_says_to_resume(tmp_path):
    out = run_folder(tmp_path / "run", ["teacher", "student"], ["teacher", "student"])
    assert checked("--stages", "distill,prune", "--out", out, "--resume") is None
    assert checked("--stages", "teacher,student,distill", "--out", out, "--resume") is None  # the first two kept
    fresh = checked("--stages", "distill", "--out", out)  # without --resume the folder starts afresh
    assert "the distill stage reads the teacher" in fresh and f"{out} holds models/teacher.keras: add --resume" in fresh
    lost = run_folder(tmp_path / "lost", ["teacher"], [])  # a done stage whose network is gone
    assert "the distill stage reads the teacher" in checked("--stages", "distill", "--out", lost, "--resume")


def test_a_stage_done_again_on_resume_needs_its_input_like_a_new_one(tmp_path):
    out = run_folder(tmp_path / "run", ["teacher", "quantize"], ["teacher"])
    args = parse_args(["--stages", "quantize", "--out", out, "--resume"])
    check_stage_inputs(args)  # kept: nothing runs
    with pytest.raises(SystemExit, match="the quantize stage reads a trained student"):
        check_stage_inputs(args, redone=["quantize"])
