"""``benchmarks.training_speed``: FLOPs counted by hand, one case measured, bad flags refused."""

import argparse
import sys

import pytest

from benchmarks import training_speed


def test_training_flops_count_the_trained_network_three_times_and_a_frozen_teacher_once():
    assert training_speed.training_flops({"teacher": 100}) == 600  # a teacher trained alone
    assert training_speed.training_flops({"student": 10}) == 60
    assert training_speed.training_flops({"student": 10, "teacher": 100}) == 60 + 200  # KD: the teacher's forward pass


def test_one_case_trains_and_reports_its_speed_and_multiply_accumulates():
    args = argparse.Namespace(batch_size=4, steps=1, warmup=1, repeats=1, teacher_width=0.125)
    measured = training_speed.measure("lrhnet_kd", "float32", args)
    assert measured["samples_per_second"] > 0
    assert set(measured["macs"]) == {"student", "teacher"} and min(measured["macs"].values()) > 0


@pytest.mark.parametrize(
    "flags, message",
    [(["--out", "speed.txt"], "must name a .json file"), (["--out", "x.json", "--steps", "0"], "--steps")],
)
def test_bad_flags_are_refused_before_any_case_runs(flags, message, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["training_speed", *flags])
    monkeypatch.setattr(training_speed, "run_case", lambda *a: pytest.fail("no case runs after a refusal"))
    with pytest.raises(SystemExit):
        training_speed.main()
    assert message in capsys.readouterr().err
