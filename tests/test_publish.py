"""``python -m benchmarks.publish_cinc2017`` end to end on a small CinC 2017 subset, then ``predict`` on what it
published."""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import predict_csv

from benchmarks.model_card import int8_export

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
# the flags the committed kept runs in benchmarks/results/cinc2017_seeds were made with (besides the seeds)
COMMITTED_FLAGS = ["--train-flags", "--augment-invert 0.5", "--quantize", "lrhnet=ptq"]


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
        "--kept",
        str(tmp_path / "kept"),
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
    for name in ("lrhnet_int8.tflite", "lrhnet.keras"):  # one-epoch networks may rank no A record high: no screen
        with open(os.path.join(models, name + ".json")) as handle:
            screen = json.load(handle).get("screen")
        if "af_screen" in report:
            assert screen["threshold"] == report["af_screen"][name]["threshold"]
        else:
            assert screen is None and "lrhnet: no AF screen (--quick" in result.stdout
    chosen = next(row for row in seeds["rows"] if row["seed"] == seeds["chosen"])
    assert max(row["validation"] for row in seeds["rows"]) == chosen["validation"]
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
    # a fresh clone with the kept runs committed: nothing trains again, the same files are published
    fresh = [*command[: command.index("--runs") + 1], str(tmp_path / "fresh_runs"), *command[command.index("--kept") :]]
    again = subprocess.run(fresh, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("by an earlier call") == 4 and not os.path.exists(tmp_path / "fresh_runs")
    assert open(os.path.join(models, "MODEL_CARD.md")).read() == card.replace("/runs --kept", "/fresh_runs --kept")
    for model in ("lrhnet_int8.tflite", "liteheart.keras"):
        rows = predict_csv(os.path.join(models, model), bundled("cinc2017"), str(tmp_path / f"{model}.csv"))
        assert sorted(row["record"] for row in rows) == ["A00592", "A05056", "A05493", "A08050"]
        assert all(row["labels"] in ("N", "A", "O", "~") and row.get("screen_A", "0") in ("0", "1") for row in rows)


def publish_args(tmp_path, **changes):
    from benchmarks import publish_cinc2017

    fields = dict(data="data/cinc", runs=str(tmp_path / "runs"), kept=str(tmp_path / "kept"), epochs=40)
    fields.update(teacher_width=0.5, fs=100.0, split_seed=0, quantize={"lrhnet": "qat", "liteheart": "qat"})
    fields.update({"settings": "current", "train_flags": "", **changes})
    return publish_cinc2017, argparse.Namespace(**fields)


def test_every_seed_trains_on_one_split_with_the_chosen_settings_and_its_own_teacher(tmp_path):
    module, args = publish_args(tmp_path, train_flags="--augment-invert 0.5")

    def flag(command, name):
        return command[command.index(name) + 1]

    lrhnet, liteheart = module.train_command(args, "lrhnet", 2), module.train_command(args, "liteheart", 2)
    assert flag(lrhnet, "--seed") == "2" and flag(lrhnet, "--split-seed") == "0" and "--kd-t2" not in lrhnet
    assert flag(lrhnet, "--augment-invert") == "0.5" and "--teacher-from" not in lrhnet
    assert flag(lrhnet, "--fs") == flag(liteheart, "--fs") == "100"
    _, slower = publish_args(tmp_path, fs=50.0)
    assert flag(module.train_command(slower, "lrhnet", 2), "--fs") == "50"
    assert flag(liteheart, "--teacher-from") == os.path.join(args.kept, "lrhnet_s2", "models", "teacher.keras")
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


def test_publishing_refuses_bad_flags_before_anything_trains(tmp_path, monkeypatch, capsys):
    from benchmarks import publish_cinc2017

    (tmp_path / "data").mkdir()
    call = [
        "publish",
        "--data",
        str(tmp_path / "data"),
        "--runs",
        str(tmp_path / "runs"),
        "--kept",
        str(tmp_path / "kept"),
    ]
    for flags, message in (
        (["--seeds", "0", "0"], "names a seed twice"),
        (["--methods", "liteheart"], "train lrhnet first"),
        (["--train-flags", '"unclosed'], "--train-flags"),
        (["--train-flags=--seed=3"], "--seed is set by this script"),
        (["--train-flags", "--augment-invert 0.5 --student-leads II"], "--student-leads is set by this script"),
        (["--train-flags", "--see 3"], "--seed is set by this script"),  # argparse would read --see as --seed
        (["--train-flags", "--fs 50"], "--fs is set by this script; use its own flags"),
        (["--train-flags", "--batch-size 0"], "train.py refuses the lrhnet run of seed 0: --fs,"),
        (["--fs", "0"], "--fs must be a positive number of Hz, not 0"),
        (["--fs", "nan"], "--fs must be a positive number of Hz, not nan"),
        (["--train-flags=--help"], "train.py refuses the lrhnet run of seed 0: it stops (exit 0) without training"),
        (["--kept", str(tmp_path / "runs")], "--kept and --runs are one folder"),
        (["--see", "3"], "unrecognized arguments: --see"),
        (["--train-flags", "--beat-weight 0.5", "--methods", "lrhnet"], "train.py refuses the lrhnet run"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--quantize", "lrhnet=int4"], "--quantize lrhnet=int4: give METHOD=KIND"),
        (["--quantize", "teacher=ptq"], "--quantize teacher=ptq: give METHOD=KIND"),
        (["--quantize", "lrhnet=ptq", "--quantize", "lrhnet=qat"], "--quantize names lrhnet twice"),
    ):
        monkeypatch.setattr(sys, "argv", call + flags)
        monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("nothing trains after a refusal"))
        with pytest.raises(SystemExit):
            publish_cinc2017.main()
        assert message in capsys.readouterr().err


def test_a_liteheart_run_is_checked_by_train_py_before_its_teacher_is_trained(tmp_path):
    (tmp_path / "data").mkdir()
    module, args = publish_args(tmp_path, data=str(tmp_path / "data"))
    assert module.command_problem(module.train_command(args, "liteheart", 0)) is None
    args.train_flags = "--batch-size 0"
    assert "must be positive" in module.command_problem(module.train_command(args, "liteheart", 0))
    args.train_flags = "--help"  # train.py prints its help and stops: no run would train
    assert module.command_problem(module.train_command(args, "liteheart", 0)) == "it stops (exit 0) without training"


REAL_RUN = subprocess.run


def fake_train(command, **options):
    """``subprocess.run`` with train.py runs replaced by the files a finished run folder holds."""
    from benchmarks import publish_cinc2017
    from kdpipeline.rundir import TOOL

    if "--out" not in command:  # provenance's git, the platform's uname
        return REAL_RUN(command, **options)
    out, method = command[command.index("--out") + 1], command[command.index("--method") + 1]
    if method == "liteheart":  # its seed's lrhnet teacher, kept
        assert open(command[command.index("--teacher-from") + 1]).read() == "models/teacher.keras"
    deployed = "student_kd" if method == "lrhnet" else "liteheart"
    report = {"models": {"student_int8": {"from": deployed}, "teacher": {"test": {"cinc2017_f1": 0.8}}}}
    report["config"] = publish_cinc2017.config_of(command[1:])
    state = {"tool": TOOL, "stages": {}, "config": report["config"]}
    names = ["split.json", f"models/{deployed}.keras", "models/teacher.keras", "models/student.keras", "state.json"]
    names += ["exports/student_int8.tflite", "exports/student_int8.tflite.json", "exports/labels.txt"]
    for name in names:
        os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
        with open(os.path.join(out, name), "w") as handle:
            handle.write({"split.json": "{}", "state.json": json.dumps(state)}.get(name, name))
    with open(os.path.join(out, "report.json"), "w") as handle:
        json.dump(report, handle)


def no_training(command, **options):
    return REAL_RUN(command, **options) if "--out" not in command else pytest.fail("nothing trains again")


def publishing_call(tmp_path, *flags):
    (tmp_path / "data").mkdir(exist_ok=True)
    call = ["publish", "--data", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"), "--kept"]
    call += [str(tmp_path / "kept"), "--models", str(tmp_path / "models"), "--results", str(tmp_path / "results")]
    return [*call, "--seeds", "3", "--train-only", *flags]


def refused(module, monkeypatch, capsys, argv):
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        module.main()
    assert stop.value.code == 2
    return capsys.readouterr().err


def test_train_only_keeps_each_finished_run_and_publishes_nothing(tmp_path, monkeypatch, capsys):
    from benchmarks import publish_cinc2017

    kept, call = tmp_path / "kept", publishing_call(tmp_path)
    monkeypatch.setattr(sys, "argv", call)
    monkeypatch.setattr(subprocess, "run", fake_train)
    publish_cinc2017.main()
    assert sorted(os.listdir(kept)) == ["liteheart_s3", "lrhnet_s3"]
    assert not (kept / "lrhnet_s3" / "models" / "teacher.keras").exists()  # its liteheart run is kept: not needed
    assert (tmp_path / "runs" / "lrhnet_s3" / "models" / "teacher.keras").exists()
    assert (kept / "lrhnet_s3" / "models" / "student_kd.keras").exists()
    assert not (kept / "lrhnet_s3" / "models" / "student.keras").exists()  # only the deployed student is kept
    assert not (kept / "liteheart_s3" / "models" / "teacher.keras").exists()
    assert (kept / "liteheart_s3" / "exports" / "student_int8.tflite").exists()
    assert not (tmp_path / "models").exists() and not (tmp_path / "results").exists()
    monkeypatch.setattr(subprocess, "run", no_training)
    monkeypatch.setattr(sys, "argv", [*call[:2], call[2] + os.sep, *call[3:]])  # the data folder spelled otherwise
    publish_cinc2017.main()
    message = refused(publish_cinc2017, monkeypatch, capsys, [*call, "--train-flags", "--augment-invert 0.5"])
    assert "lrhnet seed 3 kept in" in message and "trained with other values of --augment-invert" in message
    message = refused(publish_cinc2017, monkeypatch, capsys, [*call, "--train-flags=--help"])
    assert "train.py refuses the lrhnet run of seed 3: it stops (exit 0) without training" in message
    other_kept = [*call, "--kept", str(tmp_path / "runs"), "--runs", str(tmp_path / "other")]  # the last counts
    message = refused(publish_cinc2017, monkeypatch, capsys, other_kept)
    assert f"{tmp_path / 'runs' / 'lrhnet_s3'} is a train.py run folder, not a kept run" in message
    os.remove(kept / "lrhnet_s3" / "report.json")
    message = refused(publish_cinc2017, monkeypatch, capsys, call)  # lrhnet would train another teacher
    assert "liteheart seed 3 is kept but not the lrhnet run that trained its teacher" in message


def test_a_kept_run_of_another_quantize_makes_its_int8_again_in_its_run_folder(tmp_path, monkeypatch, capsys):
    from benchmarks import publish_cinc2017

    kept, call = tmp_path / "kept", publishing_call(tmp_path)
    monkeypatch.setattr(subprocess, "run", fake_train)
    monkeypatch.setattr(sys, "argv", call)
    publish_cinc2017.main()
    commands = []

    def recorded_train(command, **options):
        commands.append(command)
        return fake_train(command, **options)

    monkeypatch.setattr(subprocess, "run", recorded_train)
    monkeypatch.setattr(sys, "argv", [*call, "--quantize", "lrhnet=ptq"])
    publish_cinc2017.main()
    trained = [command for command in commands if "--out" in command]
    assert len(trained) == 1 and "--resume" in trained[0]  # lrhnet resumed in its run folder; liteheart kept
    assert trained[0][trained[0].index("--quantize") + 1] == "ptq" and "lrhnet" in trained[0]
    with open(kept / "lrhnet_s3" / "report.json") as handle:
        assert json.load(handle)["config"]["quantize"] == "ptq"
    assert not (kept / "lrhnet_s3" / "models" / "teacher.keras").exists()  # its liteheart run is kept
    monkeypatch.setattr(subprocess, "run", no_training)
    publish_cinc2017.main()  # now kept as asked: nothing runs
    shutil.copyfile(
        tmp_path / "runs" / "lrhnet_s3" / "models" / "teacher.keras", kept / "lrhnet_s3" / "models" / "teacher.keras"
    )
    monkeypatch.setattr(subprocess, "run", fake_train)
    monkeypatch.setattr(sys, "argv", [*call, "--quantize", "lrhnet=qat"])
    publish_cinc2017.main()
    assert (kept / "lrhnet_s3" / "models" / "teacher.keras").exists()  # a copy an earlier call kept stays
    monkeypatch.setattr(sys, "argv", [*call, "--quantize", "liteheart=ptq"])
    publish_cinc2017.main()  # liteheart resumed with the teacher it distilled from, which stays
    assert (kept / "lrhnet_s3" / "models" / "teacher.keras").exists()
    with open(kept / "liteheart_s3" / "report.json") as handle:
        assert json.load(handle)["config"]["quantize"] == "ptq"
    os.remove(kept / "lrhnet_s3" / "models" / "teacher.keras")
    message = refused(publish_cinc2017, monkeypatch, capsys, call)  # liteheart back to qat: no teacher file
    assert "liteheart seed 3 kept in" in message and "needs the teacher it distilled from" in message
    # a call stopped while lrhnet's run folder made its int8 file again: its report there changed, not its student
    (tmp_path / "runs" / "lrhnet_s3" / "report.json").write_text('{"models": {}}')
    commands.clear()
    monkeypatch.setattr(subprocess, "run", recorded_train)
    monkeypatch.setattr(sys, "argv", [*call, "--quantize", "lrhnet=ptq", "liteheart=ptq"])
    publish_cinc2017.main()
    assert [command[command.index("--method") + 1] for command in commands if "--out" in command] == ["lrhnet"]
    student = tmp_path / "runs" / "lrhnet_s3" / "models" / "student_kd.keras"
    student.write_text("another student")  # the run folder now holds another run
    message = refused(publish_cinc2017, monkeypatch, capsys, [*call, "--quantize", "lrhnet=qat", "liteheart=ptq"])
    assert "no longer holds its float student models/student_kd.keras" in message
    call[call.index("--runs") + 1] = str(tmp_path / "fresh_runs")  # a fresh clone: no run folder to resume
    message = refused(publish_cinc2017, monkeypatch, capsys, [*call, "--quantize", "liteheart=ptq"])
    assert "lrhnet seed 3 kept in" in message and "no longer holds its float student models/student_kd.keras" in message


def test_a_teacher_kept_by_an_earlier_call_stays_whatever_its_liteheart_run(tmp_path, monkeypatch, capsys):
    from benchmarks import publish_cinc2017

    kept, call = tmp_path / "kept", publishing_call(tmp_path)
    monkeypatch.setattr(subprocess, "run", fake_train)
    monkeypatch.setattr(sys, "argv", [*call, "--methods", "lrhnet"])
    publish_cinc2017.main()
    assert (kept / "lrhnet_s3" / "models" / "teacher.keras").exists()
    call[call.index("--runs") + 1] = str(tmp_path / "fresh_runs")  # a fresh clone: no lrhnet run folder
    monkeypatch.setattr(sys, "argv", call)
    publish_cinc2017.main()
    assert (kept / "liteheart_s3" / "report.json").exists()
    assert (kept / "lrhnet_s3" / "models" / "teacher.keras").exists()  # its only copy here
    with open(kept / "liteheart_s3" / "report.json") as handle:
        report = json.load(handle)
    report["models"]["teacher"]["test"]["cinc2017_f1"] = 0.7
    (kept / "liteheart_s3" / "report.json").write_text(json.dumps(report))
    monkeypatch.setattr(subprocess, "run", no_training)
    message = refused(publish_cinc2017, monkeypatch, capsys, call)
    assert "the kept liteheart seed 3 learnt from another teacher than the kept lrhnet seed 3's" in message


def test_quick_checks_the_script_in_folders_of_its_own(monkeypatch):
    from benchmarks import publish_cinc2017

    monkeypatch.setattr(sys, "argv", ["publish", "--data", "d", "--quick", "--models", "m"])
    _, args = publish_cinc2017.parse_publish_args()
    quick = os.path.join("runs", "cinc2017_quick")
    assert (args.runs, args.kept, args.results) == tuple(
        os.path.join(quick, name) for name in ("runs", "kept", "results")
    )
    assert args.models == "m" and args.epochs == 1


def test_the_rate_given_to_the_script_reaches_every_train_command(monkeypatch):
    from benchmarks import publish_cinc2017

    monkeypatch.setattr(sys, "argv", ["publish", "--data", "d", "--fs", "50"])
    _, args = publish_cinc2017.parse_publish_args()
    assert args.fs == 50.0
    for method in ("lrhnet", "liteheart"):
        command = publish_cinc2017.train_command(args, method, 1)
        assert command[command.index("--fs") + 1] == "50"
    monkeypatch.setattr(sys, "argv", ["publish", "--data", "d"])
    assert publish_cinc2017.parse_publish_args()[1].fs == 100.0


def test_seeds_split_differently_are_not_published_together(tmp_path):
    module, args = publish_args(tmp_path)
    for seed, records in ((0, ["A1", "A2"]), (1, ["A1", "A3"])):
        os.makedirs(module.kept_folder(args, "lrhnet", seed))  # split.json alone: what split_problem reads
        with open(os.path.join(module.kept_folder(args, "lrhnet", seed), "split.json"), "w") as handle:
            json.dump({"test": records}, handle)
    assert module.split_problem(args, [(0, "lrhnet")]) is None
    assert module.split_problem(args, [(0, "lrhnet"), (1, "lrhnet")]) == (
        "the kept runs were split differently: lrhnet seed 0; lrhnet seed 1"
    )


def test_the_card_names_one_teacher_only_when_both_students_learnt_from_it():
    from benchmarks.model_card import teachers

    def report(seed, f1):
        return {"seed": seed, "models": {"teacher": {"params": 9, "test": {"cinc2017_f1": f1}}}}

    same = {"lrhnet": report(1, 0.83), "liteheart": report(1, 0.83)}
    assert [name for name, _ in teachers(same)] == ["teacher"]
    apart = {"lrhnet": report(1, 0.83), "liteheart": report(0, 0.84)}
    names = [(name, entry["test"]["cinc2017_f1"]) for name, entry in teachers(apart)]
    assert names == [("teacher of `lrhnet` (seed 1)", 0.83), ("teacher of `liteheart` (seed 0)", 0.84)]


def test_the_card_says_how_each_int8_file_was_made():
    from benchmarks.model_card import model_card, read_reports

    reports = read_reports(os.path.join(ROOT, "benchmarks", "results"))
    reports["lrhnet"]["models"]["student_int8"]["quantization"] = "ptq"
    reports["liteheart"]["models"]["student_int8"].pop("quantization", None)  # made before entries named it: QAT
    lines = model_card(reports).splitlines()
    files = {line.split("`")[1]: line for line in lines if "_int8.tflite` (+ `.json` sidecar)" in line}
    lrhnet, liteheart = files["lrhnet_int8.tflite"], files["liteheart_int8.tflite"]
    assert "post-training (activation ranges from the validation windows) int8" in lrhnet
    assert "quantization-aware int8" in liteheart and "post-training" not in liteheart


def test_the_card_says_how_each_file_reads_a_record_and_how_to_make_each_again():
    import copy

    from benchmarks.model_card import model_card, read_reports

    def at(report, fs, top, command):
        report = copy.deepcopy(report)
        report["data"]["preprocessing"].update(fs=fs, band=[0.5, top])
        report["data"]["window_samples"] = int(15 * fs)
        report["published"]["command"] = command
        return report

    reports = read_reports(os.path.join(ROOT, "benchmarks", "results"))
    one_call = "python -m benchmarks.publish_cinc2017 --data d"
    card = model_card({method: at(report, 100.0, 40, one_call) for method, report in reports.items()})
    assert "\nResample to 100 Hz, Butterworth band-pass 0.5-40 Hz" in card and "- `lrhnet`: resample" not in card
    assert card.count(f"TF_NUM_INTRAOP_THREADS=1 {one_call}\n") == 1 and "writes these files and this card" in card
    apart = {
        "lrhnet": at(reports["lrhnet"], 50.0, 22.5, one_call + " --fs 50 --methods lrhnet"),
        "liteheart": at(reports["liteheart"], 100.0, 40, one_call),
    }
    apart["lrhnet"]["published"]["date"], apart["liteheart"]["published"]["date"] = "2026-12-06", "2026-12-05"
    card = model_card(apart)
    assert "- `lrhnet`: resample to 50 Hz, Butterworth band-pass 0.5-22.5 Hz" in card
    assert "windows of 750 samples (15 s)" in card and "- `liteheart`: resample to 100 Hz" in card
    assert "Resample to" not in card and card.count("TF_NUM_INTRAOP_THREADS=1 python -m benchmarks.publish") == 2
    assert "--fs 50 --methods lrhnet\n" in card and "in this order (each call replaces" in card
    both, lrhnet_only = (card.index(f"{one_call}{flags}\n") for flags in ("", " --fs 50 --methods lrhnet"))
    assert both < lrhnet_only  # the earlier call published both, the later one replaced lrhnet's files
    apart["lrhnet"]["published"]["date"] = "2026-12-04"
    card = model_card(apart)
    assert card.index(f"{one_call} --fs 50 --methods lrhnet\n") < card.index(f"{one_call}\n")


def test_the_card_names_the_split_seed_not_the_run_seed():
    from benchmarks.model_card import split_seed

    assert split_seed({"seed": 2, "config": {"split_seed": 0}}) == 0
    assert split_seed({"seed": 2, "config": {"split_seed": None}}) == 2  # train.py splits by --seed then
    assert split_seed({"seed": 1}) == 1  # reports made before the configuration was recorded


def test_the_card_of_the_published_reports_names_their_split_and_epoch_bound():
    from benchmarks.model_card import model_card, read_reports

    reports = read_reports(os.path.join(ROOT, "benchmarks", "results"))
    config = reports["lrhnet"]["config"]
    card = model_card(reports)
    assert f"Split (seed {config['split_seed']}, stratified)" in card
    bound = "at most " if config.get("patience") else ""  # with early stopping no teacher ran every epoch
    assert f"{bound}{config['epochs']} epochs at" in card


def test_one_method_joins_the_published_files_only_on_their_split(tmp_path):
    module, args = publish_args(tmp_path, models=str(tmp_path / "models"))
    kept = tmp_path / "kept" / "lrhnet_s0"
    kept.mkdir(parents=True)
    (kept / "split.json").write_text('{"test": ["A"]}')
    reports = {"lrhnet": {"published_seeds": {"chosen": 0}}}
    assert module.published_split_problem(args, reports) is None  # nothing published yet
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "split.json").write_text('{"test": ["B"]}')
    assert module.published_split_problem(args, reports) is None  # no file of another method stays
    (tmp_path / "models" / "liteheart_int8.tflite").write_bytes(b"x")
    assert "split otherwise than the files of liteheart" in module.published_split_problem(args, reports)
    (tmp_path / "models" / "split.json").write_text('{"test": ["A"]}')
    assert module.published_split_problem(args, reports) is None


def test_nothing_is_published_when_a_chosen_run_lacks_a_file(tmp_path):
    module, args = publish_args(tmp_path)
    report = {"models": {"student_int8": {"from": "liteheart"}}, "published_seeds": {"chosen": 1}}
    folder = module.kept_folder(args, "liteheart", 1)
    for name in module.kept_files(report, "liteheart"):
        os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
        open(os.path.join(folder, name), "w").close()
    assert module.missing_files(args, {"liteheart": report}) is None
    os.remove(os.path.join(folder, "exports", "labels.txt"))
    assert module.missing_files(args, {"liteheart": report}) == f"{folder}/exports/labels.txt is missing"


def test_each_published_file_gets_an_af_screen_chosen_on_its_runs_validation_records(tmp_path, bundled):
    from benchmarks.af_screen import screen_threshold
    from data_utils.readers import open_dataset
    from lrhnet.predict import Predictor

    module, args = publish_args(tmp_path)
    models = os.path.join(ROOT, "models", "cinc2017")
    run = module.kept_folder(args, "lrhnet", 0)
    os.makedirs(os.path.join(run, "exports"))
    os.makedirs(os.path.join(run, "models"))
    for source, target in (
        ("lrhnet_int8.tflite", "exports/student_int8.tflite"),
        ("lrhnet_int8.tflite.json", "exports/student_int8.tflite.json"),
        ("lrhnet.keras", "models/student_mlkd.keras"),
    ):
        shutil.copyfile(os.path.join(models, source), os.path.join(run, target))
    validation = ["A00592", "A05493", "A08050"]  # bundled: A00592 A, A05056 ~, A05493 N, A08050 O
    with open(os.path.join(run, "split.json"), "w") as handle:
        json.dump({"train": [], "validation": validation, "test": ["A05056", "A00592"]}, handle)
    report = {
        "models": {"student_int8": {"from": "student_mlkd"}},
        "exports": [{"kind": "int8", "keras_thresholds": [1, 0.5, 1, 1]}],
        "published_seeds": {"chosen": 0},
    }
    dataset = open_dataset(bundled("cinc2017"))
    entries, figures = module.af_screens(args, "lrhnet", report, dataset)
    assert sorted(entries) == sorted(figures) == ["lrhnet.keras", "lrhnet_int8.tflite"]
    rows = [dataset.record_ids.index(record) for record in validation]
    with open(os.path.join(run, "exports", "student_int8.tflite.json")) as handle:
        sidecar = json.load(handle)
    for name, path in (
        ("lrhnet_int8.tflite", "exports/student_int8.tflite"),
        ("lrhnet.keras", "models/student_mlkd.keras"),
    ):
        predictor = Predictor(os.path.join(run, path), sidecar=sidecar)
        p_af = [predictor.predict(dataset.read(row))[1] for row in rows]
        assert entries[name]["threshold"] == figures[name]["threshold"]
        assert entries[name]["threshold"] == pytest.approx(screen_threshold([True, False, False], p_af), abs=1e-6)
        assert figures[name]["validation"]["sensitivity"]["count"] == [1, 1]
        assert figures[name]["validation"]["specificity"]["count"] == [2, 2]
        assert figures[name]["test"]["specificity"]["count"][1] == 1
    with open(os.path.join(run, "split.json"), "w") as handle:
        json.dump({"validation": ["A05493", "A08050"], "test": ["A05056"]}, handle)
    with pytest.raises(ValueError, match=r"the AF screen of lrhnet_int8.tflite .* all other than A"):
        module.af_screens(args, "lrhnet", report, dataset)
    with open(os.path.join(run, "split.json"), "w") as handle:
        json.dump({"validation": ["A99999"], "test": ["A05056"]}, handle)
    with pytest.raises(ValueError, match="not in the data"):
        module.af_screens(args, "lrhnet", report, dataset)


def test_nothing_is_published_when_an_af_screen_cannot_be_chosen(tmp_path, monkeypatch, capsys, bundled):
    from benchmarks import publish_cinc2017

    committed = os.path.join(ROOT, "benchmarks", "results", "cinc2017_seeds")
    for method in ("lrhnet", "liteheart"):
        shutil.copytree(os.path.join(committed, f"{method}_s1"), tmp_path / "kept" / f"{method}_s1")
    call = ["publish", "--data", bundled("cinc2017"), "--seeds", "1", *COMMITTED_FLAGS]
    call += ["--runs", str(tmp_path / "runs"), "--kept", str(tmp_path / "kept")]
    call += ["--models", str(tmp_path / "models"), "--results", str(tmp_path / "results")]
    monkeypatch.setattr(subprocess, "run", no_training)
    message = refused(publish_cinc2017, monkeypatch, capsys, call)  # the bundled folder lacks the split's records
    assert "nothing published: the AF screen of lrhnet_int8.tflite" in message and "not in the data" in message
    assert sorted(os.listdir(tmp_path)) == ["kept"]


def test_a_quick_call_publishes_without_a_screen_only_when_validation_gives_none(monkeypatch, capsys):
    from benchmarks import publish_cinc2017
    from benchmarks.af_screen import ScreenRefused

    reports = {"lrhnet": {}, "liteheart": {}}
    figures = {"lrhnet_int8.tflite": {"threshold": 0.1}}

    def screens(args, method, report, dataset, error=None):
        if method == "liteheart" and error:
            raise error
        return {"lrhnet_int8.tflite": {"class": "A", "threshold": 0.1}}, figures

    for quick, error, outcome in (
        (True, ScreenRefused("no score lies above"), "published without"),
        (False, ScreenRefused("no score lies above"), "refused"),
        (True, ValueError("3 validation records of split.json are not in the data"), "refused"),
    ):
        monkeypatch.setattr(publish_cinc2017, "af_screens", lambda *a, e=error: screens(*a, error=e))
        chosen = {method: dict(report) for method, report in reports.items()}
        if outcome == "refused":
            with pytest.raises(ValueError, match=str(error)):
                publish_cinc2017.chosen_screens(argparse.Namespace(quick=quick), chosen, dataset=None)
            continue
        result = publish_cinc2017.chosen_screens(argparse.Namespace(quick=quick), chosen, dataset=None)
        assert result == {"lrhnet": {"lrhnet_int8.tflite": {"class": "A", "threshold": 0.1}}, "liteheart": {}}
        assert chosen["lrhnet"]["af_screen"] == figures and "af_screen" not in chosen["liteheart"]
        assert "liteheart: no AF screen (--quick): no score lies above" in capsys.readouterr().out


def test_the_screens_chosen_are_the_ones_the_published_sidecars_and_reports_hold(tmp_path, monkeypatch, bundled):
    from benchmarks import publish_cinc2017
    from benchmarks.af_external import proportion

    committed = os.path.join(ROOT, "benchmarks", "results", "cinc2017_seeds")
    for method in ("lrhnet", "liteheart"):
        shutil.copytree(os.path.join(committed, f"{method}_s1"), tmp_path / "kept" / f"{method}_s1")
    figures = {"sensitivity": proportion(50, 59), "specificity": proportion(600, 623)}

    def af_screens(args, method, report, dataset):
        names = (f"{method}_int8.tflite", f"{method}.keras")
        entries = {name: {"class": "A", "threshold": 0.1 + index / 100} for index, name in enumerate(names)}
        return entries, {
            name: {"min_specificity": 0.95, "validation": figures, "test": figures, "threshold": entry["threshold"]}
            for name, entry in entries.items()
        }

    monkeypatch.setattr(publish_cinc2017, "af_screens", af_screens)
    monkeypatch.setattr(subprocess, "run", no_training)
    call = ["publish", "--data", bundled("cinc2017"), "--seeds", "1", *COMMITTED_FLAGS]
    call += ["--runs", str(tmp_path / "runs"), "--kept", str(tmp_path / "kept")]
    call += ["--models", str(tmp_path / "models"), "--results", str(tmp_path / "results")]
    monkeypatch.setattr(sys, "argv", call)
    publish_cinc2017.main()
    for method in ("lrhnet", "liteheart"):
        with open(tmp_path / "results" / f"cinc2017_published_{method}.json") as handle:
            report = json.load(handle)
        for name, threshold in ((f"{method}_int8.tflite", 0.1), (f"{method}.keras", 0.11)):
            with open(tmp_path / "models" / (name + ".json")) as handle:
                assert json.load(handle)["screen"] == {"class": "A", "threshold": threshold}
            assert report["af_screen"][name]["threshold"] == threshold
    assert "| `liteheart.keras` | 0.110 |" in (tmp_path / "models" / "MODEL_CARD.md").read_text()
