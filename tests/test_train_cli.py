"""``train.py``: bad flags, the whole pipeline at a tiny size, stages alone, kill and resume, NaN."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from conftest import TINY_TRAIN_FLAGS as TINY

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def train(*args, timeout=900):
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "train.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def report(out):
    with open(os.path.join(out, "report.json")) as handle:
        return json.load(handle)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--student-leads", "V9"], "unknown lead name 'V9'"),
        (["--teacher-leads", "I,II", "--student-leads", "V1"], "not a subset of the teacher leads"),
        (["--data", "/no/such/folder"], "is not a folder"),
        (["--stages", "teacher,bogus"], "unknown ['bogus']"),
        (["--labeled-fraction", "1.5"], "--labeled-fraction must lie in (0, 1]"),
        (["--teacher-labels", "some"], "invalid choice"),
        (["--beat-weight", "1"], "--beat-weight weighs heartbeat windows"),
        (["--kd-class-weights", "carry", "--stages", "teacher,distill"], "needs --method lrhnet and the student"),
        (["--method", "liteheart", "--student-leads", "I,II"], "1-lead student"),
        (["--sparsity", "1.5"], "--sparsity must lie in [0, 1)"),
        (["--sparsity", "0"], "--sparsity 0 prunes nothing: leave prune out of --stages"),
        (["--kd-weight", "-1"], "non-negative"),
        (["--strategy", "tpu"], "invalid choice"),
        (["--strategy", "multiworker", "--resume"], "--resume with --strategy multiworker: only the chief keeps"),
        (["--teacher-from", "/no/such/teacher.keras", "--stages", "student"], "is not a file"),
        (["--teacher-from", __file__], "leave teacher out of --stages"),
        (["--teacher-from", __file__, ROOT + "/train.py", "--stages", "mlkd"], "needs --method lrhnet and no mlkd"),
        (["--teacher-from", __file__, __file__, "--stages", "distill"], "names a file twice"),
        (["--teacher-from", __file__, "/no/such.keras", "--stages", "distill"], "/no/such.keras is not a file"),
        (["--method", "liteheart", "--demographics"], "--demographics is for --method lrhnet"),
        (["--patience", "-1"], "--patience must be 0 (off)"),
        (["--weight-average", "1"], "--weight-average must lie in [0, 1)"),
        (["--lr-schedule", "linear"], "invalid choice"),
        (["--class-balance", "half"], "invalid choice"),
        (["--split-seed", "-1"], "--split-seed must be 0 or more"),
        (["--seed", "-2"], "--seed must be 0 or more"),
        (["--augment-invert", "1.5"], "--augment-invert must lie in [0, 1]"),
        (["--no-augment", "--augment-invert", "0.5"], "drop --no-augment"),
    ],
)
def test_bad_flags_give_an_argparse_error(flags, message):
    result = train(*flags, timeout=120)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_without_data_the_demonstration_run_has_its_own_labels_window_and_teacher_width_and_with_data_not():
    from kdpipeline.options import DEFAULT_DATA, parse_args

    demonstration = parse_args([])
    assert (demonstration.data, demonstration.labeled_fraction, demonstration.epochs) == (DEFAULT_DATA, 0.1, 10)
    assert (demonstration.window_seconds, demonstration.teacher_width) == (5.0, 0.125)
    named = parse_args(["--data", DEFAULT_DATA])  # the same records, asked for by name
    assert (named.labeled_fraction, named.window_seconds, named.teacher_width) == (1.0, 10.0, 0.25)
    given = parse_args(["--labeled-fraction", "0.5", "--window-seconds", "8", "--teacher-width", "0.5"])
    assert (given.labeled_fraction, given.window_seconds, given.teacher_width) == (0.5, 8.0, 0.5)


def test_carry_weights_on_single_label_data_stop_before_the_run_folder(bundled, tmp_path):
    out = tmp_path / "run"
    flags = ["--data", bundled("cinc2017"), "--window-seconds", "5", "--cache-dir", str(tmp_path / "cache")]
    result = train(*flags, "--kd-class-weights", "carry", "--stages", "teacher,student,distill", "--out", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--kd-class-weights carry weighs per-class Bernoulli KD" in result.stderr and not out.exists()


def test_help_documents_every_flag():
    result = train("--help", timeout=120)
    for flag in (
        "--data",
        "--method",
        "--teacher-leads",
        "--student-leads",
        "--classes",
        "--label-set",
        "--stages",
        "--labeled-fraction",
        "--teacher-labels",
        "--augment",
        "--kd-class-weights",
        "--beat-weight",
        "--epochs",
        "--weight-average",
        "--batch-size",
        "--seed",
        "--kd-weight",
        "--region-weight",
        "--mi-weight",
        "--pseudo-weight",
        "--consistency-weight",
        "--sparsity",
        "--quantize",
        "--strategy",
        "--precision",
        "--out",
        "--resume",
    ):
        assert flag in result.stdout


def test_training_stages_then_the_compression_stages_from_their_outputs(tmp_path):
    out = str(tmp_path / "run")
    result = train(*TINY, "--out", out, "--stages", "teacher,student,distill,mlkd", "--int8-tolerance", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    first = report(out)
    assert (
        set(first["models"]) == {"teacher", "student", "student_kd", "assistant", "student_mlkd"}
        and first["exports"] == []
    )
    started = time.time()
    later = train(
        *TINY, "--out", out, "--resume", "--stages", "prune,quantize,export,evaluate", "--int8-tolerance", "1"
    )  # reads the saved students
    later_wall = time.time() - started
    assert later.returncode == 0, later.stderr[-3000:]
    assert "== stage teacher ==" not in later.stdout and "== stage prune ==" in later.stdout
    final = report(out)
    assert final["seconds"] > later_wall, "a resumed run reports the time of every call, not only its last"
    assert all(final["models"][name]["epochs_run"] == 1 for name in ("teacher", "student", "student_kd"))
    assert set(final["models"]["student"]["test"]["per_class"]) == {"auroc", "ap", "f1"}
    assert {"teacher", "student", "student_kd", "assistant", "student_mlkd", "student_pruned", "student_int8"} <= set(
        final["models"]
    )
    pruned = final["models"]["student_pruned"]
    distilled = {name: score for name, score in pruned["chosen_on_validation"].items() if name != "student"}
    assert set(distilled) == {"student_kd", "student_mlkd"} and pruned["from"] == max(
        distilled, key=distilled.get
    )  # chosen on validation
    assert distilled == {name: final["models"][name]["selection"]["macro_auroc"] for name in distilled}
    assert pruned["sparsity"] == pytest.approx(0.5, abs=0.02)
    for export in final["exports"]:  # the sidecar's thresholds are the ones behind the file's reported metrics
        with open(os.path.join(out, export["file"]) + ".json") as handle:
            assert json.load(handle)["thresholds"] == export["thresholds"] and len(export["thresholds"]) == len(
                final["data"]["classes"]
            )
    assert {export["kind"] for export in final["exports"]} == {"float32", "int8"}
    assert all(
        os.path.exists(os.path.join(out, export["file"]))
        and os.path.exists(os.path.join(out, export["file"]) + ".json")
        for export in final["exports"]
    )
    assert all(
        export["tflite_latency_ms"] > 0 and 0 < export["gzip_bytes"] < export["bytes"] for export in final["exports"]
    )
    with open(os.path.join(out, "split.json")) as handle:
        split = json.load(handle)
    assert [len(split[name]) for name in ("train", "validation", "test")] == [
        final["data"]["split"][name] for name in ("train", "validation", "test")
    ]
    assert len(set(split["train"]) | set(split["validation"]) | set(split["test"])) == final["data"]["records"]
    for name in ("training_curves.png", "roc_teacher.png", "roc_student_mlkd.png", "f1_per_class.png"):
        assert os.path.getsize(os.path.join(out, "plots", name)) > 1000
    assert final["packages"]["tensorflow"] and final["seed"] == 0 and final["student_leads"] == ["I"]
    assert final["cpu"]["model"] and isinstance(final["cpu"]["flags"], list)  # which machine wrote the report
    assert "| student_int8 |" in open(os.path.join(out, "report.md")).read() and "Report:" in later.stdout
    assert final["models"]["student_int8"]["quantization"] == "qat"

    # --quantize changed on resume: the same students, int8 made again from the quantize stage on
    compression = ("--stages", "prune,quantize,export,evaluate", "--quantize", "ptq", "--int8-tolerance", "1")
    requantized = train(*TINY, "--out", out, "--resume", *compression)
    assert requantized.returncode == 0, requantized.stderr[-3000:]
    assert "stage prune: done in an earlier call, kept" in requantized.stdout
    assert all(f"== stage {stage} ==" in requantized.stdout for stage in ("quantize", "export", "evaluate"))
    again = report(out)
    assert again["config"]["quantize"] == "ptq" and again["models"]["student_int8"]["quantization"] == "ptq"
    assert again["models"]["student_pruned"] == final["models"]["student_pruned"]
    # post-training int8 converts the deployed float student, not the pruned one QAT fine-tuned
    assert final["models"]["student_int8"]["from"] == "student_pruned"
    assert again["models"]["student_int8"]["from"] == final["models"]["student_pruned"]["from"]
    assert [export["kind"] for export in again["exports"]].count("int8") == 1


def test_a_killed_run_resumes_from_its_last_epoch(tmp_path):
    out = str(tmp_path / "run")
    flags = [*TINY, "--epochs", "3", "--stages", "teacher,student", "--out", out]
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "train.py"), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    deadline = time.time() + 600
    while time.time() < deadline and not os.path.exists(os.path.join(out, "backup", "student", "selection.json")):
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    state = json.load(open(os.path.join(out, "state.json")))
    assert list(state["stages"]) == ["teacher"]  # the student stage had not finished
    resumed = train(*flags, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    models = report(out)["models"]
    assert set(models) == {"teacher", "student"} and {"test", "params", "best_epoch", "history"} <= set(
        models["student"]
    )
    assert not os.path.exists(os.path.join(out, "backup", "student"))
    changed = train(*flags, "--resume", "--seed", "5")
    assert changed.returncode != 0 and "other values of --seed (--seed 0);" in changed.stderr
    teacher, student = (os.path.join(out, "models", f"{name}.keras") for name in ("teacher", "student"))
    distilled = [*TINY, "--epochs", "1", "--stages", "distill", "--teacher-from", teacher, "--out", out + "_kd"]
    result = train(*distilled)
    assert result.returncode == 0, result.stderr[-3000:]
    from data_utils.files import sha256_of

    assert json.load(open(os.path.join(out + "_kd", "state.json")))["teacher_from_sha256"] == [sha256_of(teacher)]
    assert report(out + "_kd")["data"]["teacher_from"]["sha256"] == sha256_of(teacher)
    with open(student, "rb") as source, open(teacher, "wb") as target:  # the teacher trained again in place
        target.write(source.read())
    before = folder_snapshot(out + "_kd")
    refused = train(*distilled, "--resume")
    assert refused.returncode != 0 and f"--teacher-from {teacher} changed since the run in" in refused.stderr
    assert folder_snapshot(out + "_kd") == before  # refused before anything was written


def folder_snapshot(folder):
    """Every file under ``folder`` with its inode and modification time: a rewrite with equal bytes shows."""
    return {
        os.path.join(root, name): (
            os.stat(os.path.join(root, name)).st_ino,
            os.stat(os.path.join(root, name)).st_mtime_ns,
        )
        for root, _, names in os.walk(folder)
        for name in names
    }


def test_a_nan_loss_stops_the_run_naming_the_stage(tmp_path):
    from kdpipeline.divergence import NaNLoss, StopOnNaN

    callback = StopOnNaN("distill")
    callback.on_train_batch_end(0, {"loss": 0.5})
    with pytest.raises(NaNLoss, match="stage 'distill'"):
        callback.on_train_batch_end(1, {"loss": float("nan")})


def free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("localhost", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.slow  # the default run stays under 15 minutes on a slower CPU; `python -m pytest -m slow`
def test_two_local_workers_match_a_single_worker(tmp_path):
    flags = [*TINY, "--stages", "teacher", "--epochs", "2"]
    single = train(*flags, "--out", str(tmp_path / "single"))
    assert single.returncode == 0, single.stderr[-3000:]
    ports = free_ports(2)
    workers = []
    for index in range(2):
        config = {
            "cluster": {"worker": [f"localhost:{port}" for port in ports]},
            "task": {"type": "worker", "index": index},
        }
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_CONFIG": json.dumps(config)}
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(ROOT, "train.py"),
                    *flags,
                    "--strategy",
                    "multiworker",
                    "--out",
                    str(tmp_path / "multi"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    outputs = [worker.communicate(timeout=900) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs[0][1][-3000:]
    one, two = (
        report(str(tmp_path / "single"))["models"]["teacher"],
        report(str(tmp_path / "multi"))["models"]["teacher"],
    )
    assert one["params"] == two["params"]
    assert two["history"]["loss"][0] == pytest.approx(
        one["history"]["loss"][0], rel=0.2
    )  # the same global batch, split over two workers
    assert abs(two["test"]["macro_auroc"] - one["test"]["macro_auroc"]) < 0.15


@pytest.mark.slow  # the default run stays under 15 minutes on a slower CPU; `python -m pytest -m slow`
def test_mirrored_strategy_runs(tmp_path):
    result = train(*TINY, "--stages", "teacher", "--strategy", "mirrored", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "teacher" in report(str(tmp_path / "run"))["models"]


@pytest.mark.slow  # the default run stays under 15 minutes on a slower CPU; `python -m pytest -m slow`
def test_liteheart_semi_supervised_run_with_its_region_plot(tmp_path):
    out = str(tmp_path / "run")
    result = train(
        *TINY,
        "--method",
        "liteheart",
        "--labeled-fraction",
        "0.5",
        "--teacher-labels",
        "same",
        "--beat-weight",
        "1",
        "--stages",
        "teacher,distill,evaluate",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    final = report(out)
    labeled, train_records = final["data"]["labeled"], final["data"]["split"]["train"]
    assert set(final["models"]) == {"teacher", "liteheart"} and labeled < train_records
    assert final["models"]["teacher"]["learned_from"] == {"labelled": labeled, "unlabelled": 0}
    assert final["models"]["liteheart"]["learned_from"] == {"labelled": labeled, "unlabelled": train_records - labeled}
    assert {"pseudo_label", "consistency", "region_kd", "mi_kd"} <= set(final["models"]["liteheart"]["history"])
    assert os.path.getsize(os.path.join(out, "plots", "region_weights.png")) > 1000


@pytest.mark.slow  # the default run stays under 15 minutes; tests/test_distiller.py trains in bfloat16 there
def test_mixed_bfloat16_trains_liteheart_in_bfloat16_and_exports_it_to_int8_in_float32(tmp_path):
    out = str(tmp_path / "run")
    flags = ["--method", "liteheart", "--precision", "mixed_bfloat16", "--quantize", "ptq"]
    result = train(*TINY, *flags, "--stages", "teacher,distill,export", "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    final = report(out)
    assert final["config"]["precision"] == "mixed_bfloat16"
    assert {name: entry["precision"] for name, entry in final["models"].items() if "precision" in entry} == {
        "teacher": "mixed_bfloat16",
        "liteheart": "mixed_bfloat16",
    }
    history = final["models"]["liteheart"]["history"]
    assert all(np.isfinite(history[name]).all() for name in ("loss", "mi_kd", "region_kd"))
    assert 0 <= final["models"]["liteheart"]["test"]["macro_auroc"] <= 1
    assert sorted(export["kind"] for export in final["exports"]) == ["float32", "int8"]
    from lrhnet.saving import load_network

    assert load_network(os.path.join(out, "models", "liteheart.keras")).compute_dtype == "float32"


@pytest.mark.slow  # 134 s; the default run stays under 15 minutes (the Distiller's unlabelled rows are tested in it)
def test_lrhnet_distils_on_the_records_whose_labels_the_students_lack(tmp_path):
    """--labeled-fraction with LRH-Net: the teacher learns from every training label, the plain
    student from its share, and KD, the MLKD assistant and student from every training record;
    carry weights come from the plain student's validation AUROC."""
    out = str(tmp_path / "run")
    flags = ["--labeled-fraction", "0.5", "--kd-class-weights", "carry", "--stages", "teacher,student,distill,mlkd"]
    result = train(*TINY, *flags, "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    final = report(out)
    labeled, train_records = final["data"]["labeled"], final["data"]["split"]["train"]
    assert 0 < labeled < train_records and final["data"]["teacher_labels"] == "all"
    learned = {name: entry["learned_from"] for name, entry in final["models"].items()}
    assert learned == {
        "teacher": {"labelled": train_records, "unlabelled": 0},
        "student": {"labelled": labeled, "unlabelled": 0},
        **{
            name: {"labelled": labeled, "unlabelled": train_records - labeled}
            for name in ("student_kd", "assistant", "student_mlkd")
        },
    }
    carry = final["models"]["student_kd"]["kd_class_weights"]
    assert list(carry) == list(final["data"]["classes"]) and sum(carry.values()) / len(carry) == pytest.approx(1.0)
    with open(os.path.join(out, "split.json")) as handle:
        split = json.load(handle)
    assert len(split["train_labeled"]) == labeled and set(split["train_labeled"]) < set(split["train"])
    teacher = os.path.join(out, "models", "teacher.keras")  # another run's teacher: the report says what it knew
    reused = train(
        *TINY, "--labeled-fraction", "0.5", "--stages", "distill", "--teacher-from", teacher, "--out", out + "2"
    )
    assert reused.returncode == 0, reused.stderr[-3000:]
    source = report(out + "2")["data"]["teacher_from"]
    assert source["learned_from"] == {"labelled": train_records, "unlabelled": 0} and source["teacher_labels"] == "all"
    assert source["validation"] == final["models"]["teacher"]["selection"]  # how well it did, as its run chose it
    scored = train(*TINY, "--stages", "evaluate", "--teacher-from", teacher, "--out", out + "4")  # no student
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert set(report(out + "4")["models"]) == {"teacher"}
    copy = os.path.join(out + "2", "models", "teacher.keras")  # the second run's copy of the same teacher
    ensemble = train(*TINY, "--stages", "distill", "--teacher-from", teacher, copy, "--out", out + "3")
    assert ensemble.returncode == 0, ensemble.stderr[-3000:]
    assert "has not yet been built" not in ensemble.stderr
    sources = [source["file"] for source in report(out + "3")["data"]["teacher_from"]]
    assert sources == [os.path.relpath(teacher), os.path.relpath(copy)]
    assert "student_kd" in report(out + "3")["models"]
    from lrhnet.ensemble import TeacherEnsemble
    from lrhnet.saving import load_network

    assert isinstance(load_network(os.path.join(out + "3", "models", "teacher.keras")), TeacherEnsemble)


@pytest.mark.slow  # the default run stays under 15 minutes on a slower CPU; `python -m pytest -m slow`
def test_post_training_int8_export(tmp_path):
    out = str(tmp_path / "run")
    result = train(*TINY, "--quantize", "ptq", "--stages", "student,export", "--lr-schedule", "paper", "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "oneDNN" not in result.stderr and "cuda" not in result.stderr.lower(), "TensorFlow starts quietly"
    final = report(out)
    assert final["models"]["student"]["history"]["lr"] == [pytest.approx(3e-3)]  # the paper's rate, no warm-up
    int8 = final["models"]["student_int8"]
    assert int8["quantization"] == "ptq" and int8["from"] == "student"
    assert int8["learned_from"] == final["models"]["student"]["learned_from"]
    assert sorted(export["kind"] for export in final["exports"]) == ["float32", "int8"]
    assert int8["export"] == next(export for export in final["exports"] if export["kind"] == "int8")


def test_the_runner_turns_a_nan_loss_into_an_error_naming_the_stage(tmp_path, monkeypatch):
    from kdpipeline import runner
    from kdpipeline.divergence import NaNLoss
    from kdpipeline.options import parse_args

    def diverging(context):
        raise NaNLoss("the loss became nan in stage 'teacher' at batch 0; lower the learning rate or check the data")

    monkeypatch.setitem(runner.STAGE_FUNCTIONS, "teacher", diverging)
    with pytest.raises(SystemExit, match="train.py: error: the loss became nan in stage 'teacher'"):
        runner.run(parse_args([*TINY, "--stages", "teacher", "--out", str(tmp_path / "run")]))


def test_a_teacher_is_refused_when_it_reads_other_inputs_than_the_run(tmp_path):
    from kdpipeline.runner import check_teacher, teacher_source
    from lrhnet import SEResNet1D
    from lrhnet.saving import load_network

    path = str(tmp_path / "models" / "teacher.keras")
    os.makedirs(os.path.dirname(path))
    teacher = SEResNet1D(12, 5, width=0.125)
    teacher(teacher.example_inputs())
    teacher.save(path)
    leads, classes = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"], list("ABCDE")
    check_teacher(path, leads, classes, False, 100.0, 10.0)  # a loose file: its rate, window and names are unknown
    with pytest.raises(SystemExit, match="built without age and sex inputs; this run has --demographics"):
        check_teacher(path, leads, classes, True, 100.0, 10.0)
    with pytest.raises(SystemExit, match="reads 12 leads and gives 5 classes; this run needs 1 leads"):
        check_teacher(path, ["I"], classes, False, 100.0, 10.0)
    # the report of the run that trained it, before reports said what a teacher learned from
    report = {"models": {"teacher": {}}, "config": {"fs": 100.0, "window_seconds": 2.5}, "teacher_leads": leads}
    report["data"] = {"classes": dict.fromkeys(classes, 3)}
    with open(tmp_path / "report.json", "w") as handle:
        json.dump(report, handle)
    check_teacher(path, leads, classes, False, 100, 10)  # trained on 2.5 s crops: it may read 10 s windows
    with pytest.raises(SystemExit, match="trained with --fs 100 .*this run has --fs 300"):
        check_teacher(path, leads, classes, False, 300.0, 10.0)
    with pytest.raises(SystemExit, match="trained on 2.5 s windows .*this run's --window-seconds 2 would show it less"):
        check_teacher(path, leads, classes, False, 100.0, 2.0)
    assert teacher_source(path, "digest")["window_seconds"] == 2.5  # the student's report says what the teacher saw
    longer = np.zeros((2, 1000, 12), np.float32)  # trained on 2.5 s crops, it reads a 10 s window whole
    assert load_network(path)(longer).shape == (2, 5)
    with pytest.raises(SystemExit, match="trained on leads I,II,III.*this run has II,I,III"):
        check_teacher(path, ["II", "I", *leads[2:]], classes, False, 100.0, 10.0)
    with pytest.raises(SystemExit, match="trained on classes A,B,C,D,E .*this run has A,B,C,D,X"):
        check_teacher(path, leads, [*classes[:4], "X"], False, 100.0, 10.0)


def test_one_teacher_file_is_recorded_as_a_string_so_runs_made_before_ensembles_still_resume(tmp_path):
    from kdpipeline.options import parse_args
    from kdpipeline.runner import run_config

    teacher = tmp_path / "teacher.keras"
    with zipfile.ZipFile(teacher, "w") as archive:  # looks like a .keras file to the flag checks
        archive.writestr("config.json", "{}")
    args = parse_args(["--teacher-from", str(teacher), "--stages", "student", "--out", str(tmp_path / "run")])
    assert run_config(args)["teacher_from"] == str(teacher)


def test_a_teacher_file_changed_since_the_run_copied_it_is_not_resumed(tmp_path):
    from data_utils.files import sha256_of
    from kdpipeline.options import parse_args
    from kdpipeline.runner import check_teacher_copy

    first, second = tmp_path / "first.keras", tmp_path / "second.keras"
    first.write_bytes(b"the teacher the run copied")
    second.write_bytes(b"another teacher")
    out = tmp_path / "run"
    (out / "models").mkdir(parents=True)
    (out / "models" / "teacher.keras").write_bytes(first.read_bytes())

    def check(state, *teachers):
        flags = ["--teacher-from", *map(str, teachers), "--stages", "distill", "--out", str(out)]
        args = parse_args(flags, folders=False)
        check_teacher_copy(args, state, [sha256_of(teacher) for teacher in teachers])  # as run() passes them

    check({}, first)  # a run made before runs recorded the SHA-256: its copy is compared with the file
    with pytest.raises(SystemExit, match=f"--teacher-from {second} changed since the run in {out} copied"):
        check({}, second)
    check({}, first, second)  # an ensemble of such a run cannot be compared
    with pytest.raises(SystemExit, match=f"--teacher-from {second} changed since"):
        check({"teacher_from_sha256": [sha256_of(first), sha256_of(first)]}, first, second)
    check({"teacher_from_sha256": [sha256_of(first), sha256_of(second)]}, first, second)
    (out / "models" / "teacher.keras").unlink()
    check({"teacher_from_sha256": ["an older teacher"]}, first)  # no copy yet (killed before it): made again


def test_resume_reads_the_teacher_files_itself_when_not_given_their_digests(tmp_path):
    from kdpipeline.options import parse_args
    from kdpipeline.runner import check_resume, run_config

    teacher, out = tmp_path / "teacher.keras", tmp_path / "run"
    teacher.write_bytes(b"the teacher the run copied")
    (out / "models").mkdir(parents=True)
    (out / "models" / "teacher.keras").write_bytes(teacher.read_bytes())
    args = parse_args(
        ["--teacher-from", str(teacher), "--stages", "distill", "--out", str(out), "--resume"], folders=False
    )
    config = run_config(args)
    (out / "state.json").write_text(json.dumps({"stages": {}, "config": config, "teacher_from_sha256": []}))
    assert check_resume(args, config) == []  # a recorded list of the wrong length: the copy is compared
    teacher.write_bytes(b"trained again in place")
    with pytest.raises(SystemExit, match="changed since the run in"):
        check_resume(args, config)


def test_the_teacher_digests_are_recorded_before_the_copy_which_refuses_a_file_changed_meanwhile(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from data_utils.files import sha256_of
    from kdpipeline import runner
    from kdpipeline.options import parse_args
    from kdpipeline.rundir import RunDir

    teacher, out = tmp_path / "teacher.keras", tmp_path / "run"
    teacher.write_bytes(b"a teacher")
    args = parse_args(["--teacher-from", str(teacher), "--stages", "distill", "--out", str(out)], folders=False)

    def killed(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "save_teacher", killed)
    with RunDir(str(out)) as run_dir, pytest.raises(KeyboardInterrupt):
        runner.run_stages(args, SimpleNamespace(multilabel=True), {"split_names": {}}, run_dir, {}, 0.0, NoStrategy())
    assert json.loads((out / "state.json").read_text())["teacher_from_sha256"] == [sha256_of(teacher)]
    monkeypatch.undo()
    destination = str(out / "models" / "teacher.keras")
    with pytest.raises(SystemExit, match="changed after this run first read it"):
        runner.save_teacher([str(teacher)], destination, True, ["the digest when the run started"])
    assert os.listdir(out / "models") == []  # neither the copy nor its temporary file
    runner.save_teacher([str(teacher)], destination, True, [sha256_of(teacher)])
    assert open(destination, "rb").read() == b"a teacher" and os.listdir(out / "models") == ["teacher.keras"]


def test_a_run_scored_on_other_evaluation_windows_is_not_resumed(tmp_path):
    from kdpipeline.options import parse_args
    from kdpipeline.runner import check_resume, run_config

    out = tmp_path / "run"
    out.mkdir()
    args = parse_args(["--stages", "student", "--out", str(out), "--resume"])
    config = run_config(args)
    (out / "state.json").write_text(json.dumps({"stages": {}, "config": config}))
    check_resume(args, config)  # the same flags and windows: resumed
    made_before = {key: value for key, value in config.items() if key != "evaluation_stride"}
    (out / "state.json").write_text(json.dumps({"stages": {}, "config": made_before}))
    with pytest.raises(SystemExit, match=r"other values of evaluation windows \(set by the code, not a flag\)"):
        check_resume(args, config)


def test_a_refused_resume_says_the_values_the_run_was_made_with(tmp_path):
    from kdpipeline.options import parse_args
    from kdpipeline.runner import check_resume, run_config

    out = tmp_path / "run"
    out.mkdir()
    args = parse_args(["--stages", "student", "--out", str(out), "--resume"])
    config = run_config(args)
    made_before = {**config, "teacher_width": 0.25, "window_seconds": 10.0, "student_leads": ["I", "II"]}
    made_before.update(augment=False, teacher_from=["a.keras", "b c.keras"])
    del made_before["kd_t2"]  # a run made before the flag existed: it distilled with T²
    (out / "state.json").write_text(json.dumps({"stages": {}, "config": made_before}))
    with pytest.raises(SystemExit) as refused:
        check_resume(args, config)
    flags = "--augment, --kd-t2, --student-leads, --teacher-from, --teacher-width, --window-seconds"
    values = "--no-augment, --kd-t2, --student-leads I,II, --teacher-from a.keras 'b c.keras', --teacher-width 0.25, "
    assert f"other values of {flags} ({values}--window-seconds 10.0); drop --resume" in str(refused.value)


def test_a_run_on_every_label_is_refused_for_its_fraction_alone(tmp_path):
    from kdpipeline.options import parse_args
    from kdpipeline.runner import check_resume, run_config

    out = tmp_path / "run"
    out.mkdir()
    made = parse_args(["--labeled-fraction", "1", "--stages", "student", "--out", str(out), "--resume"])
    (out / "state.json").write_text(json.dumps({"stages": {}, "config": run_config(made)}))
    asked = parse_args(["--stages", "student", "--out", str(out), "--resume"])  # 10 % of the labels
    with pytest.raises(SystemExit, match=r"other values of --labeled-fraction \(--labeled-fraction 1.0\); drop"):
        check_resume(asked, run_config(asked))


def test_consistency_is_liteheart_s_by_default_and_the_lrhnet_student_s_when_asked():
    from kdpipeline.options import parse_args

    assert parse_args(["--method", "liteheart"], folders=False).consistency_weight == 1.0
    assert parse_args([], folders=False).consistency_weight == 0.0
    assert parse_args(["--consistency-weight", "0.5"], folders=False).consistency_weight == 0.5


def test_lrhnet_consistency_is_recorded_apart_so_runs_made_before_it_counted_still_resume(tmp_path):
    from kdpipeline.options import parse_args
    from kdpipeline.runner import check_resume, run_config

    out = tmp_path / "run"
    out.mkdir()
    args = parse_args(["--stages", "student", "--out", str(out), "--resume"])
    config = run_config(args)
    assert "consistency_weight" not in config and config["lrhnet_consistency_weight"] == 0.0
    made_before = {key: value for key, value in config.items() if key != "lrhnet_consistency_weight"}
    made_before["consistency_weight"] = 1.0  # LiteHeart's default, which LRH-Net runs recorded and ignored
    (out / "state.json").write_text(json.dumps({"stages": {}, "config": made_before}))
    check_resume(args, config)
    asked = parse_args(["--stages", "distill", "--out", str(out), "--resume", "--consistency-weight", "1"])
    with pytest.raises(SystemExit, match=r"other values of --consistency-weight \(--consistency-weight 0.0\);"):
        check_resume(asked, run_config(asked))
    assert run_config(parse_args(["--method", "liteheart"], folders=False))["consistency_weight"] == 1.0


def test_a_changed_quantize_redoes_the_compression_stages_and_other_changes_are_still_refused(tmp_path):
    from kdpipeline.options import parse_args
    from kdpipeline.runner import check_resume, run_config

    out = tmp_path / "run"
    out.mkdir()
    made = parse_args(["--out", str(out), "--resume"])  # --quantize qat, the default, every stage
    done = {stage: {} for stage in ("teacher", "student", "distill", "mlkd", "prune", "quantize", "export")}
    (out / "state.json").write_text(json.dumps({"stages": done, "config": run_config(made)}))
    assert check_resume(made, run_config(made)) == []
    for flags in (["--quantize", "ptq"], ["--int8-tolerance", "0.01"]):  # the evaluate stage had not run
        asked = parse_args(["--out", str(out), "--resume", *flags])
        assert check_resume(asked, run_config(asked)) == ["quantize", "export"]
    both = parse_args(["--out", str(out), "--resume", "--quantize", "ptq", "--seed", "3"])
    with pytest.raises(SystemExit, match=r"other values of --seed \(--seed 0\);"):
        check_resume(both, run_config(both))
    dropped = parse_args(["--out", str(out), "--resume", "--quantize", "none"])  # its int8 file would linger
    with pytest.raises(SystemExit, match=r"other values of --quantize \(--quantize qat\);"):
        check_resume(dropped, run_config(dropped))
    (out / "state.json").write_text(json.dumps({"stages": {"teacher": {}}, "config": run_config(made)}))
    early = parse_args(["--out", str(out), "--resume", "--quantize", "none"])  # no int8 file yet: resumed
    assert check_resume(early, run_config(early)) == []
    (out / "state.json").write_text(json.dumps({"stages": done, "config": run_config(made)}))
    partial = parse_args(["--out", str(out), "--resume", "--quantize", "ptq", "--stages", "quantize,evaluate"])
    with pytest.raises(
        SystemExit,
        match="--quantize changed, so the run's stages quantize, export are done again: add export to --stages",
    ):
        check_resume(partial, run_config(partial))


def test_refusals_name_the_flags_behind_configuration_keys():
    from kdpipeline.runner import flag_names

    assert flag_names(["format", "path", "augment_invert"]) == "--data, --augment-invert"  # --data gives both


def test_a_redone_stage_that_fails_stays_undone_on_disk(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from kdpipeline import runner
    from kdpipeline.options import parse_args
    from kdpipeline.rundir import RunDir

    out = tmp_path / "run"
    args = parse_args(["--out", str(out), "--resume", "--quantize", "ptq", "--stages", "quantize,export"])
    with RunDir(str(out)) as run_dir:
        run_dir.complete("quantize", {"student_int8": {"quantization": "qat"}})
        run_dir.complete("export", {"exports": []})

    def failing(ctx):
        raise SystemExit("train.py: error: the int8 file scores too far below its float student")

    monkeypatch.setitem(runner.STAGE_FUNCTIONS, "quantize", failing)
    data = {"split_names": {}}
    with RunDir(str(out)) as run_dir, pytest.raises(SystemExit, match="too far below"):
        runner.run_stages(
            args, SimpleNamespace(), data, run_dir, {"quantize": "ptq"}, 0.0, NoStrategy(), ["quantize", "export"]
        )
    state = json.loads((out / "state.json").read_text())
    assert state["stages"] == {} and state["config"] == {"quantize": "ptq"}  # a later --resume does them again


class NoStrategy:
    @staticmethod
    def scope():
        import contextlib

        return contextlib.nullcontext()


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_the_lrhnet_distill_stage_adds_consistency_and_the_strong_pass_only_when_asked(weight, monkeypatch):
    from types import SimpleNamespace

    from kdpipeline import stages
    from kdpipeline.options import parse_args
    from liteheart.semi_supervised import AugmentationConsistency, SemiSupervisedDistiller
    from lrhnet import LogitDistillation

    calls = {}
    monkeypatch.setattr(stages, "train_and_record", lambda ctx, network, name, **fit: calls.update(fit) or {})
    args = parse_args(["--consistency-weight", str(weight)], folders=False)
    pipeline = SimpleNamespace(cache=SimpleNamespace(fs=100.0), augmentation=object())
    run = SimpleNamespace(load_model=lambda name: None)
    ctx = SimpleNamespace(
        args=args, run=run, pipeline=pipeline, multilabel=False, kd_class_weights=None, classes=list("NAO~")
    )
    assert list(stages.distill_stage(ctx)) == ["student_kd"]
    kinds = [type(term) for term in calls["terms"]]
    if weight:
        assert kinds == [LogitDistillation, AugmentationConsistency] and calls["terms"][1].weight == weight
        assert not calls["terms"][1].multilabel
        assert calls["distiller_class"] is SemiSupervisedDistiller
        assert calls["distiller_options"] == {"fs": 100.0, "weak_augmentation": False}
    else:
        assert kinds == [LogitDistillation] and "distiller_class" not in calls


def test_lrhnet_consistency_without_the_distill_stage_is_refused(capsys):
    from kdpipeline.options import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--stages", "teacher,student,mlkd", "--consistency-weight", "1"], folders=False)
    assert "add distill to --stages" in capsys.readouterr().err
    parse_args(["--method", "liteheart", "--stages", "teacher"], folders=False)  # LiteHeart's default weight
