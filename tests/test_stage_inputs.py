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


def run_folder(root, stages, networks, config=None):
    """A run folder at ``root`` whose ``state.json`` lists ``stages`` done (and the run's ``config``)
    and whose ``models/`` holds ``networks`` (empty files: only their presence is read)."""
    os.makedirs(os.path.join(root, "models"))
    with open(os.path.join(root, STATE), "w") as handle:
        json.dump({"tool": TOOL, "stages": {stage: {} for stage in stages}, "config": config or {}}, handle)
    for name in networks:
        open(os.path.join(root, "models", f"{name}.keras"), "w").close()
    return str(root)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--stages", "student,distill"], "the distill stage reads the teacher"),
        (["--stages", "distill", "--method", "liteheart"], "the distill stage reads the teacher"),
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
    reads_the_teacher = "reads the teacher" in message
    assert ("add teacher to --stages, give --teacher-from or --resume" in refusal) == reads_the_teacher
    compression = message.startswith(("the prune", "the quantize"))  # fine-tuned with the KD term
    assert ("or set --kd-weight 0" in refusal) == (reads_the_teacher and compression)
    assert ("add student or distill to --stages" in refusal) == ("a trained student" in message)


@pytest.mark.parametrize(
    "flags",
    [
        ["--stages", "teacher,distill,mlkd,prune,quantize,export,evaluate"],
        ["--stages", "student,prune,quantize", "--kd-weight", "0"],  # no KD term, no teacher
        ["--stages", "student,quantize,export", "--quantize", "ptq"],  # post-training int8 reads no teacher
        ["--stages", "student,quantize", "--quantize", "none"],
        ["--stages", "evaluate"],  # scores whatever the folder holds
        ["--stages", "distill,prune", "--teacher-from", SAVED_NETWORK],
        ["--stages", "distill", "--method", "liteheart", "--teacher-from", SAVED_NETWORK],
    ],
)
def test_a_stage_whose_input_an_earlier_stage_or_teacher_from_gives_goes_on(tmp_path, flags):
    assert checked(*flags, "--out", str(tmp_path / "run")) is None


def test_a_resumed_run_folder_gives_what_its_completed_stages_saved_and_a_fresh_call_says_to_resume(tmp_path):
    out = run_folder(tmp_path / "run", ["teacher", "student"], ["teacher", "student"])
    assert checked("--stages", "distill,prune", "--out", out, "--resume") is None
    assert checked("--stages", "teacher,student,distill", "--out", out, "--resume") is None  # the first two kept
    fresh = checked("--stages", "distill", "--out", out)  # without --resume the folder starts afresh
    assert (
        "the distill stage reads the teacher" in fresh and f"({out} holds models/teacher.keras: add --resume)" in fresh
    )
    lost = run_folder(tmp_path / "lost", ["teacher", "student"], ["student"])  # a completed stage whose network is gone
    assert "the distill stage reads the teacher" in checked("--stages", "distill", "--out", lost, "--resume")
    carry = ("--kd-class-weights", "carry", "--stages", "student,distill")
    assert checked(*carry, "--out", out, "--resume") is None  # the student stage is kept and its network is there
    gone = run_folder(tmp_path / "gone", ["teacher", "student"], ["teacher"])
    assert "the distill stage reads the plain student" in checked(*carry, "--out", gone, "--resume")
    killed = run_folder(tmp_path / "killed", ["teacher"], ["teacher", "student_kd"])  # distill never completed
    assert "the export stage reads a trained student" in checked("--stages", "export", "--out", killed, "--resume")


def test_a_stage_done_again_on_resume_needs_its_input_like_a_new_one(tmp_path):
    out = run_folder(tmp_path / "run", ["teacher", "quantize"], ["teacher"])
    args = parse_args(["--stages", "quantize", "--out", out, "--resume"])
    check_stage_inputs(args)  # kept: nothing runs
    with pytest.raises(SystemExit, match="the quantize stage reads a trained student"):
        check_stage_inputs(args, redone=["quantize"])


def test_train_checks_the_stages_a_changed_quantize_does_again_before_reading_the_data(tmp_path, monkeypatch):
    from kdpipeline import runner

    out = str(tmp_path / "run")
    args = parse_args(["--stages", "quantize,export,evaluate", "--quantize", "ptq", "--out", out, "--resume"])
    made_with_qat = {**runner.run_config(args), "quantize": "qat"}
    run_folder(out, ["teacher", "quantize", "export"], ["teacher"], made_with_qat)  # its students are gone
    monkeypatch.setattr(runner, "build_context", lambda args: pytest.fail("the data was read before the check"))
    with pytest.raises(SystemExit, match="the export stage reads a trained student"):
        runner.run(args)
