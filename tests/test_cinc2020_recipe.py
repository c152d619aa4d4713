"""``python -m benchmarks.cinc2020_recipe`` end to end on the CinC 2020 challenge samples (quick settings)."""

import filecmp
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


@pytest.mark.slow  # three train.py runs: 4 min here with other jobs running; `python -m pytest -m slow`
def test_recipe_runs_every_lead_set_from_one_teacher_and_tabulates_the_challenge_metric(tmp_path, shared):
    out = str(tmp_path / "cinc2020")
    command = [
        sys.executable,
        "-m",
        "benchmarks.cinc2020_recipe",
        "--data",
        shared("cinc2020-samples"),
        "--out",
        out,
        "--quick",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(out, "table.json")) as handle:
        table = json.load(handle)
    assert (
        set(table["teacher"]) == {"12"}
        and set(table["student_mlkd"]) == {"3", "2"}
        and set(table["student_kd"]) == {"12", "3", "2"}
    )
    assert all(
        isinstance(scores["challenge_metric"], float) for lead_sets in table.values() for scores in lead_sets.values()
    )
    for leads in ("3", "2"):  # the 3- and 2-lead runs distil from the 12-lead run's teacher
        assert filecmp.cmp(
            os.path.join(out, "leads12", "models", "teacher.keras"),
            os.path.join(out, f"leads{leads}", "models", "teacher.keras"),
            shallow=False,
        )
    with open(os.path.join(out, "leads3", "report.json")) as handle:
        report = json.load(handle)
    assert (
        report["config"]["demographics"]
        and report["config"]["classes"] == "scored2020"
        and len(report["data"]["classes"]) == 24
    )
    assert report["models"]["student"]["params"] == 83364  # 3 leads, 24 classes, age and sex
    assert "60.39" in open(os.path.join(out, "table.md")).read()
