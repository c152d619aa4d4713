"""benchmarks.crop_teacher_whole_records: its refusals, its two readings and its table (no network is loaded)."""

import argparse
import json
import sys

import numpy as np
import pytest

from benchmarks import crop_teacher_whole_records as whole_records

TEACHER = "teacher_all_1_window_2.5s_weight_average_s0"
CONFIG = {"window_seconds": 2.5, "weight_average": 0.99, "teacher_width": 1.0}


def teacher_folder(runs, config=CONFIG):
    """A run folder with what the benchmark checks: a teacher file, a split and a report of ``config``."""
    (runs / TEACHER / "models").mkdir(parents=True)
    (runs / TEACHER / "models" / "teacher.keras").write_text("")
    (runs / TEACHER / "split.json").write_text("{}")
    (runs / TEACHER / "report.json").write_text(json.dumps({"config": config}))


@pytest.mark.parametrize(
    "problem, message",
    [
        ("table", "exists beside no results of this benchmark"),
        ("no_teacher", f"{TEACHER}/models/teacher.keras"),
        ("other_recipe", "was trained with {'window_seconds': 10.0}"),
        ("other_width", "was trained with {'teacher_width': 1.0}"),
        ("seed_twice", "--seeds names a seed twice"),
        ("synthetic", "--data synthetic is not a folder"),
    ],
)
def test_a_call_is_refused_before_anything_is_read_or_written(tmp_path, monkeypatch, capsys, problem, message):
    runs, out = tmp_path / "runs", tmp_path / "scores.json"
    if problem != "no_teacher":
        teacher_folder(runs, {**CONFIG, "window_seconds": 10.0} if problem == "other_recipe" else CONFIG)
    if problem == "table":
        (tmp_path / "scores.md").write_text("somebody's notes")
    (tmp_path / "ptbxl").mkdir()
    data = "synthetic" if problem == "synthetic" else str(tmp_path / "ptbxl")
    width = "0.5" if problem == "other_width" else "1.0"
    seeds = ["0", "0"] if problem == "seed_twice" else ["0"]
    argv = ["crop_teacher_whole_records", "--data", data, "--runs", str(runs), "--teacher-width", width]
    monkeypatch.setattr(sys, "argv", [*argv, "--seeds", *seeds, "--out", str(out)])
    monkeypatch.setattr(whole_records, "readings", lambda *a: pytest.fail("nothing is scored after a refusal"))
    with pytest.raises(SystemExit):
        whole_records.main()
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert problem != "table" or (tmp_path / "scores.md").read_text() == "somebody's notes"


def test_the_whole_reading_feeds_the_teacher_10_s_windows_and_the_table_keeps_each_reading_in_its_column(
    tmp_path, monkeypatch
):
    from benchmarks import ptbxl_distillation

    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], float)
    # the labels themselves score AUROC 1; the rows reversed make class A rank its positives below its
    # negatives (AUROC 0) while class B's column reads the same (AUROC 1): 0.5. Validation and test
    # swap them, so that every reading and part lands in a column of its own
    outputs = {("2.5", "validation"): labels, ("10", "validation"): labels[::-1]}
    outputs.update({("2.5", "test"): labels[::-1], ("10", "test"): labels})

    def train_context(args, cell):
        last = max(index for index, flag in enumerate(cell.flags) if flag == "--window-seconds")
        return argparse.Namespace(window=cell.flags[last + 1])  # the window the context would cut

    def split_probabilities(context, run, names, part="test"):
        return {"teacher": outputs[(context.window, part)]}, labels

    monkeypatch.setattr(ptbxl_distillation, "train_context", train_context)
    monkeypatch.setattr(ptbxl_distillation, "split_probabilities", split_probabilities)
    args = argparse.Namespace(runs=str(tmp_path))
    scores = whole_records.readings(args, 0)
    assert scores["windows"] == {"validation": 1.0, "test": 0.5}
    assert scores["whole"] == {"validation": 0.5, "test": 1.0}
    results = {"command": "c", "commit": "x", "date": "d", "seeds": [{"seed": 0, **scores}], "mean": scores}
    table = whole_records.markdown(results).splitlines()
    assert table[-4].startswith("| seed | validation, 2.5 s windows averaged | validation, whole record |")
    assert table[-2] == "| 0 | 1.0000 | 0.5000 | 0.5000 | 1.0000 |"
