"""The CinC 2017 teacher-recipe benchmark: its train.py commands, its rows, and a table ranked on validation."""

import json
import os
import subprocess
import sys

from conftest import ROOT

from benchmarks import cinc2017_teacher


def args(**changes):
    return type("Args", (), {"data": "data/cinc", "runs": "runs/t", "quick": False, **changes})


def flag(command, name):
    return command[command.index(name) + 1]


def test_a_variant_adds_to_or_replaces_the_recipe_flags_and_quick_shrinks_the_run():
    command = cinc2017_teacher.train_command(args(), "fs300", 2)
    assert command.count("--fs") == 1 and flag(command, "--fs") == "300" and flag(command, "--epochs") == "40"
    assert flag(command, "--stages") == "teacher" and flag(command, "--out") == os.path.join("runs/t", "fs300_s2")
    assert flag(command, "--data") == "cinc2017:data/cinc" and flag(command, "--seed") == "2"
    inverted = cinc2017_teacher.train_command(args(), "invert", 0)
    assert flag(inverted, "--augment-invert") == "0.5" and flag(inverted, "--fs") == "100"
    quick = cinc2017_teacher.train_command(args(quick=True), "window30", 0)
    assert flag(quick, "--epochs") == "1" and flag(quick, "--window-seconds") == "30"


def report(validation, test, seconds=120.0):
    teacher = {
        "params": 10,
        "selection": {"cinc2017_f1": validation},
        "test": {"cinc2017_f1": test, "macro_auroc": 0.9, "per_class": {"auroc": {}}},
        "best_epoch": 7,
        "epochs_run": 18,
    }
    return {"models": {"teacher": teacher}, "seconds": seconds, "command": "python train.py ..."}


def test_the_table_ranks_variants_on_validation_not_on_test():
    call = {"command": "c", "commit": "abc", "date": "d", "cpu": {"model": "cpu", "flags": ["avx2"]}}
    rows = [
        cinc2017_teacher.row_of(report(0.80, 0.79), "defaults", 0),
        cinc2017_teacher.row_of(report(0.84, 0.70), "invert", 0),
        cinc2017_teacher.row_of(report(0.82, 0.72), "invert", 1),
    ]
    assert rows[0]["test"] == {"cinc2017_f1": 0.79, "macro_auroc": 0.9} and rows[0]["validation"]["cinc2017_f1"] == 0.8
    table = cinc2017_teacher.markdown({"calls": [call], "rows": rows}).splitlines()
    body = [line for line in table if line.startswith("| ") and not line.startswith("| variant")]
    assert body[0].startswith("| invert | `--augment-invert 0.5` | 0, 1 | 7, 7 | 0.830 | 0.710 |")
    assert body[1].startswith("| defaults | (the recipe) | 0 |")


def test_an_existing_results_file_is_never_overwritten_without_resume(tmp_path):
    out = tmp_path / "teacher.json"
    out.write_text(json.dumps({"calls": [], "rows": []}))
    data = tmp_path / "cinc"
    data.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.cinc2017_teacher", "--data", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2 and "pass --resume" in result.stderr
    assert json.loads(out.read_text()) == {"calls": [], "rows": []}


def test_every_variant_is_a_train_py_command_that_parses(tmp_path):
    from kdpipeline.options import parse_args

    (tmp_path / "cinc").mkdir()
    folder = args(data=str(tmp_path / "cinc"), runs=str(tmp_path / "runs"))
    for variant in cinc2017_teacher.VARIANTS:
        parsed = parse_args(cinc2017_teacher.train_command(folder, variant, 0)[1:])
        assert parsed.stages == ["teacher"] and parsed.teacher_width == 0.5
    assert parse_args(cinc2017_teacher.train_command(folder, "balance_sqrt", 0)[1:]).class_balance == "sqrt"


def test_resuming_refuses_a_file_that_is_not_this_benchmarks_results(tmp_path, capsys):
    import argparse

    import pytest

    from benchmarks.resume import earlier_results

    parser = argparse.ArgumentParser(prog="bench")
    out = tmp_path / "results.json"
    for text, message in (("[1, 2]", "no JSON object at its top"), ('{"runs": []}', "has no calls, rows")):
        out.write_text(text)
        with pytest.raises(SystemExit):
            earlier_results(parser, str(out), True, keys=("calls", "rows"))
        assert message in capsys.readouterr().err and out.read_text() == text
    out.write_text('{"calls": [], "rows": [], "more": 1}')
    assert earlier_results(parser, str(out), True, keys=("calls", "rows"))["more"] == 1
