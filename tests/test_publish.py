"""``python -m benchmarks.publish_cinc2017`` end to end on a small CinC 2017 subset, then ``predict`` on what it
published."""

import csv
import json
import os
import subprocess
import sys

import pytest
from conftest import predict_csv

from benchmarks.model_card import int8_export

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def cinc2017_subset(source, folder, per_class=15):
    """A CinC 2017-format folder with the first ``per_class`` records of each class (symlinked)."""
    os.makedirs(folder)
    kept, counts = [], {}
    with open(os.path.join(source, "REFERENCE.csv")) as handle:
        for record, label in csv.reader(handle):
            if counts.get(label, 0) < per_class:
                counts[label] = counts.get(label, 0) + 1
                kept.append((record, label))
    for record, _ in kept:
        for extension in (".mat", ".hea"):
            os.symlink(os.path.join(source, record + extension), os.path.join(folder, record + extension))
    with open(os.path.join(folder, "REFERENCE.csv"), "w") as handle:
        handle.writelines(f"{record},{label}\n" for record, label in kept)
    return folder


@pytest.mark.slow  # four train.py runs (two seeds), 6 min 51 s here beside two trainings; `python -m pytest -m slow`
def test_publish_writes_int8_students_a_card_from_the_reports_and_predict_runs_on_them(tmp_path, shared, bundled):
    data = cinc2017_subset(shared("cinc2017/training2017"), str(tmp_path / "cinc2017"))
    models, results = str(tmp_path / "models"), str(tmp_path / "results")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        sys.executable,
        "-m",
        "benchmarks.publish_cinc2017",
        "--data",
        data,
        "--quick",
        "--seeds",
        "0",
        "1",
        "--runs",
        str(tmp_path / "runs"),
        "--models",
        models,
        "--results",
        results,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    for method in ("lrhnet", "liteheart"):
        for name in (f"{method}_int8.tflite", f"{method}_int8.tflite.json", f"{method}.keras", f"{method}.keras.json"):
            assert os.path.getsize(os.path.join(models, name)) > 0
    with open(os.path.join(models, "labels.txt")) as handle:
        assert handle.read().split() == ["N", "A", "O", "~"]
    with open(os.path.join(results, "cinc2017_published_lrhnet.json")) as handle:
        report = json.load(handle)
    int8 = int8_export(report)
    assert sum(map(sum, int8["confusion"]["counts"])) == report["data"]["split"]["test"]
    card = open(os.path.join(models, "MODEL_CARD.md")).read()
    assert f"{int8['test']['cinc2017_f1']:.3f}" in card and "not a medical device" in card and report["command"] in card
    seeds = report["published_seeds"]
    assert [row["seed"] for row in seeds["rows"]] == [0, 1] and report["seed"] == seeds["chosen"]
    assert max(row["validation"] for row in seeds["rows"]) == seeds["rows"][seeds["chosen"]]["validation"]
    assert "`lrhnet` over 2 seeds (0, 1), one split" in card and "--seeds 0 1" in card
    regenerated = subprocess.run(
        [sys.executable, "-m", "benchmarks.model_card", "--results", results, "--models", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert regenerated.returncode == 0 and open(os.path.join(tmp_path, "MODEL_CARD.md")).read() == card
    for model in ("lrhnet_int8.tflite", "liteheart.keras"):
        rows = predict_csv(os.path.join(models, model), bundled("cinc2017"), str(tmp_path / f"{model}.csv"))
        assert sorted(row["record"] for row in rows) == ["A00592", "A05056", "A05493", "A08050"]
        assert all(row["labels"] in ("N", "A", "O", "~") for row in rows)


def publish_args(tmp_path, **changes):
    from benchmarks import publish_cinc2017

    fields = dict(data="data/cinc", runs=str(tmp_path / "runs"), epochs=40, teacher_width=0.5, split_seed=0)
    fields.update({"settings": "current", "train_flags": "", **changes})
    return publish_cinc2017, type("Args", (), fields)


def test_every_seed_trains_on_one_split_with_the_chosen_settings_and_its_own_teacher(tmp_path):
    module, args = publish_args(tmp_path, train_flags="--augment-invert 0.5")

    def flag(command, name):
        return command[command.index(name) + 1]

    lrhnet, liteheart = module.train_command(args, "lrhnet", 2), module.train_command(args, "liteheart", 2)
    assert flag(lrhnet, "--seed") == "2" and flag(lrhnet, "--split-seed") == "0" and "--kd-t2" not in lrhnet
    assert flag(lrhnet, "--augment-invert") == "0.5" and "--teacher-from" not in lrhnet
    assert flag(liteheart, "--teacher-from") == os.path.join(args.runs, "lrhnet_s2", "models", "teacher.keras")
    assert flag(liteheart, "--out") == os.path.join(args.runs, "liteheart_s2")
    _, old = publish_args(tmp_path, settings="2026-11", epochs=12)
    then = module.train_command(old, "lrhnet", 0)
    assert "--kd-t2" in then and flag(then, "--lr-schedule") == "paper" and "--no-augment" in then


def test_the_published_seed_is_the_best_on_validation_whatever_the_test_says():
    from benchmarks import publish_cinc2017
    from benchmarks.model_card import seeds_section

    rows = [
        {"seed": 0, "deployed": "student_kd", "validation": 0.80, "test_float": 0.79, "test_int8": 0.78},
        {"seed": 1, "deployed": "student_mlkd", "validation": 0.83, "test_float": 0.70, "test_int8": 0.71},
        {"seed": 2, "deployed": "student_kd", "validation": 0.83, "test_float": 0.90, "test_int8": 0.90},
    ]
    assert publish_cinc2017.chosen_seed(rows) == 1  # the first of the best on validation, not seed 2's test
    report = {"published_seeds": {"chosen": 1, "rows": rows}}
    lines = seeds_section({"lrhnet": report})
    assert lines[0].startswith("`lrhnet` over 3 seeds (0, 1, 2), one split; the published file is seed 1's")
    assert "| 1 | `student_mlkd` | 0.830 | 0.700 | 0.710 |" in lines
    assert "| mean ± std | | 0.820 ± 0.017 | 0.797 ± 0.100 | 0.797 ± 0.096 |" in lines


def test_publishing_refuses_a_seed_named_twice_and_liteheart_without_its_teachers(tmp_path, monkeypatch, capsys):
    from benchmarks import publish_cinc2017

    call = ["publish", "--data", str(tmp_path), "--runs", str(tmp_path / "runs")]
    for flags, message in (
        (["--seeds", "0", "0"], "names a seed twice"),
        (["--methods", "liteheart"], "publish lrhnet first"),
        (["--train-flags", '"unclosed'], "--train-flags"),
    ):
        monkeypatch.setattr(sys, "argv", call + flags)
        monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("nothing trains after a refusal"))
        with pytest.raises(SystemExit):
            publish_cinc2017.main()
        assert message in capsys.readouterr().err
