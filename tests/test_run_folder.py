"""The run folder is never wiped, and what the compression stages choose and write is what they report.

``--out``: a folder that is not a run of ours is refused untouched; in a run folder only the run's
own entries go; two runs into one folder: the second is refused. Compression: the student
compressed is the distilled one best on validation; pruning keeps an epoch at the full sparsity;
``--kd-weight`` 0 means no teacher; every
exported file's sidecar holds the thresholds tuned on validation for that file, the ones behind
its reported metrics; ``--int8-tolerance`` refuses a file that loses too much on validation.
"""

import json
import os

import numpy as np
import pytest
from conftest import TINY_TRAIN_FLAGS as TINY

from kdpipeline.rundir import RUN_ENTRIES, RunDir, RunFolderError


def user_folder(path):
    (path / "mydata").mkdir(parents=True)
    (path / "thesis.tex").write_text("\\chapter{Mine}\n")
    (path / "mydata" / "notes.txt").write_text("notes\n")
    return path


def test_a_folder_that_is_not_a_run_is_refused_untouched(tmp_path):
    folder = user_folder(tmp_path / "mine")
    with pytest.raises(RunFolderError, match="2 entries .* no state.json: it is not a train.py run folder"):
        RunDir(str(folder))
    assert (
        sorted(os.listdir(folder)) == ["mydata", "thesis.tex"]
        and (folder / "thesis.tex").read_text() == "\\chapter{Mine}\n"
    )
    with pytest.raises(RunFolderError, match="is a file"):
        RunDir(str(folder / "thesis.tex"))


def test_a_fresh_run_removes_only_its_own_entries(tmp_path):
    folder = tmp_path / "a" / "b" / "run"  # missing parents are created
    with RunDir(str(folder)) as run:
        run.write("report.json", {"models": {}})
        os.makedirs(run.path("models"))
        open(run.model_path("teacher"), "w").close()
        open(run.path(".report.md.k2j4x9.tmp"), "w").close()  # what a killed atomic_write leaves
    user_folder(folder)  # the user keeps notes beside the run's files
    with RunDir(str(folder)) as run:
        run.clear()
        assert (
            sorted(os.listdir(folder)) == ["mydata", "state.json", "thesis.tex", "train.lock"]
            and run.state["stages"] == {}
        )
    assert set(os.listdir(folder)) - {"mydata", "thesis.tex"} <= set(RUN_ENTRIES)


def test_a_folder_with_another_tools_state_json_is_refused(tmp_path):
    folder = tmp_path / "other"
    (folder / "models").mkdir(parents=True)
    (folder / "state.json").write_text('{"step": 3}')
    with pytest.raises(RunFolderError, match="is not the state of a train.py run"):
        RunDir(str(folder))
    (folder / "state.json").write_text('{"stages": {"build": "ok"}}')  # stages, but not train.py's
    with pytest.raises(RunFolderError, match="is not the state of a train.py run"):
        RunDir(str(folder))
    (folder / "state.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="cannot be read"):
        RunDir(str(folder))
    assert sorted(os.listdir(folder)) == ["models", "state.json"]


def test_atomic_writes_never_touch_an_existing_temporary_name(tmp_path):
    from data_utils.files import atomic_write

    (tmp_path / "notes.txt").write_text("mine\n")
    os.symlink(str(tmp_path / "notes.txt"), str(tmp_path / "out.csv.tmp"))  # the name the old writer used
    (tmp_path / ".out.csv.tmp").write_text("also mine\n")
    atomic_write(str(tmp_path / "out.csv"), "record,p_N,labels\n")
    assert (tmp_path / "out.csv").read_text() == "record,p_N,labels\n" and not os.path.islink(tmp_path / "out.csv")
    assert (tmp_path / "notes.txt").read_text() == "mine\n" and (tmp_path / ".out.csv.tmp").read_text() == "also mine\n"
    assert sorted(os.listdir(tmp_path)) == [".out.csv.tmp", "notes.txt", "out.csv", "out.csv.tmp"]
    assert oct(os.stat(tmp_path / "out.csv").st_mode & 0o777) == oct(0o666 & ~current_umask())


def test_sha256_of_reads_files_one_after_the_other_in_blocks(tmp_path):
    import hashlib

    from data_utils.files import sha256_of

    big, small = os.urandom(3 * (1 << 20) + 7), b"sidecar"  # more than one 1 MiB block
    (tmp_path / "a.keras").write_bytes(big)
    (tmp_path / "a.keras.json").write_bytes(small)
    paths = (str(tmp_path / "a.keras"), str(tmp_path / "a.keras.json"))
    assert sha256_of(*paths) == hashlib.sha256(big + small).hexdigest()
    assert sha256_of(paths[0]) == hashlib.sha256(big).hexdigest() != sha256_of(*paths)


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_second_run_into_a_held_folder_is_refused(tmp_path):
    from kdpipeline.options import parse_args
    from kdpipeline.runner import run

    out = str(tmp_path / "run")
    with RunDir(out):
        with pytest.raises(RunFolderError, match="another train.py run is writing"):
            RunDir(out)
        with pytest.raises(SystemExit, match="another train.py run is writing"):
            run(parse_args([*TINY, "--stages", "teacher", "--out", out]))
        assert sorted(os.listdir(out)) == ["state.json", "train.lock"]
    RunDir(out).release()  # free again once the first run lets go


def test_only_the_lock_of_an_earlier_run_does_not_make_a_folder_foreign(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "train.lock").write_text("")
    RunDir(str(tmp_path / "run")).release()


@pytest.fixture
def context(tmp_path):
    """A real ``Context`` on tiny synthetic data, with a run folder."""
    from kdpipeline.options import parse_args
    from kdpipeline.runner import build_context

    ctx, _ = build_context(parse_args([*TINY, "--out", str(tmp_path / "run")]))
    ctx.run = RunDir(str(tmp_path / "run"))
    yield ctx
    ctx.run.release()


def test_the_compressed_student_is_the_distilled_one_best_on_validation(context):
    from kdpipeline.compression import deployed_name

    os.makedirs(context.run.path("models"))
    for name in ("student", "student_kd", "student_mlkd"):
        open(context.run.model_path(name), "w").close()
    context.run.complete("student", {"student": {"selection": {"macro_auroc": 0.95}}})
    context.run.complete("distill", {"student_kd": {"selection": {"macro_auroc": 0.71}}})
    context.run.complete(
        "mlkd",
        {"assistant": {"selection": {"macro_auroc": 0.99}}, "student_mlkd": {"selection": {"macro_auroc": 0.83}}},
    )
    assert deployed_name(context) == "student_mlkd"  # not the plain student, not the assistant, not a fixed order
    context.run.complete("mlkd", {"student_mlkd": {"selection": {"macro_auroc": 0.60}}})
    assert deployed_name(context) == "student_kd"
    context.run.state["stages"] = {"student": context.run.output("student")}
    assert deployed_name(context) == "student"


def test_evaluate_scores_a_teacher_without_any_student(context):
    from kdpipeline.compression import deployed_name, evaluate_stage
    from lrhnet import SEResNet1D

    leads = len(context.args.teacher_leads)
    teacher = SEResNet1D(leads, len(context.classes), width=0.125, name="teacher")
    teacher(np.zeros((1, context.pipeline.window, leads), np.float32))
    context.run.save_model(teacher, "teacher")
    assert deployed_name(context, required=False) is None
    assert set(evaluate_stage(context)) == {"teacher"}  # the teacher scored, no student asked for
    assert os.path.getsize(context.run.path("plots", "roc_teacher.png")) > 1000
    assert not os.path.exists(context.run.path("plots", "training_curves.png"))  # no history to draw


def test_pruning_keeps_an_epoch_at_the_full_sparsity_though_a_denser_one_scores_higher(context, monkeypatch):
    from kdpipeline.compression import prune_stage
    from lrhnet import LRHNet, training

    student = LRHNet(1, len(context.classes), width=0.25, name="student")
    student(np.zeros((1, context.pipeline.window, 1), np.float32))
    context.run.save_model(student, "student")
    context.args.epochs, context.args.kd_weight = 4, 0.0  # the sparsity reached at the end of epoch 1 (from 0)
    scores = iter([0.9, 0.8, 0.7, 0.6])  # validation falls as the sparsity rises and after
    monkeypatch.setattr(training, "score", lambda *args: {"macro_auroc": next(scores, 0.5)})
    entry = prune_stage(context)["student_pruned"]
    assert entry["best_epoch"] == 1 and entry["epochs_run"] == 4
    assert entry["sparsity"] == pytest.approx(context.args.sparsity, abs=0.01)  # epoch 0's masks: 0.44


def test_kd_weight_zero_fine_tunes_without_a_teacher(context):
    from kdpipeline.compression import teacher_terms

    context.args.kd_weight = 0.0
    assert teacher_terms(context) == {"teachers": [], "terms": [], "rows": "labeled"}  # no teacher needs to exist


def test_exported_sidecar_thresholds_are_the_files_own_and_int8_tolerance_refuses(context):
    from data_utils.scoring import tune_thresholds
    from kdpipeline.compression import exported
    from lrhnet import LRHNet
    from lrhnet.export import TFLiteNetwork
    from lrhnet.training import predict_probabilities

    student = LRHNet(1, len(context.classes))
    student(np.zeros((1, context.pipeline.window, 1), np.float32))
    entry = exported(context, student, "student_float32.tflite", "float32")
    path = context.run.path(entry["file"])
    with open(path + ".json") as handle:
        sidecar = json.load(handle)
    validation = context.pipeline.evaluate(context.split["validation"], crop="sliding")
    probabilities, labels = predict_probabilities(TFLiteNetwork(path), validation, "student")
    assert (
        sidecar["thresholds"]
        == entry["thresholds"]
        == pytest.approx([float(t) for t in tune_thresholds(labels, probabilities)])
    )
    assert set(entry) >= {"test", "keras_test", "validation", "keras_validation"}
    context.args.int8_tolerance = -1.0  # any file is "too far" below its float student
    with pytest.raises(SystemExit, match="validation macro_auroc .* the file was removed"):
        exported(context, student, "student_int8.tflite", "int8")
    assert not os.path.exists(context.run.path("exports", "student_int8.tflite")) and not os.path.exists(
        context.run.path("exports", "student_int8.tflite.json")
    )


def test_a_run_made_before_runs_were_marked_is_still_a_run_folder(tmp_path):
    (tmp_path / "run").mkdir()
    config = {"method": "lrhnet", "teacher_leads": ["I"], "student_leads": ["I"], "epochs": 4}
    (tmp_path / "run" / "state.json").write_text(json.dumps({"stages": {}, "config": config}))
    with RunDir(str(tmp_path / "run")) as run:
        assert run.state["tool"] == "ecg-kd train.py" and run.state["config"] == config


def test_an_export_never_replaces_a_different_labels_txt(tmp_path):
    from lrhnet.sidecar import write_sidecar

    fields = {"leads": ["I"], "fs": 100, "window": 500, "preprocessing": {"fs": 100, "band": [0.5, 40], "order": 3}}
    (tmp_path / "labels.txt").write_text("my own labels\n")
    write_sidecar(str(tmp_path / "a.tflite"), classes=["N", "A"], **fields)
    assert (tmp_path / "labels.txt").read_text() == "my own labels\n" and (tmp_path / "a.tflite.json").exists()
    (tmp_path / "labels.txt").unlink()
    write_sidecar(str(tmp_path / "a.tflite"), classes=["N", "A"], **fields)
    write_sidecar(str(tmp_path / "b.tflite"), classes=["N", "A"], **fields)  # the same classes: rewritten alike
    assert (tmp_path / "labels.txt").read_text() == "N\nA\n"


@pytest.mark.parametrize("fraction", [1.0, 0.5, 0.1])
def test_every_network_takes_about_one_pass_of_the_training_split_per_epoch(context, fraction):
    """The plain student cycles its labelled rows up to the training split's size; a distilled one
    mixes labelled rows in their proportion into each batch and passes once over the unlabelled rows;
    ``batches_per_epoch`` (the pruning schedule's unit) counts what the batches really are."""
    from data_utils.splits import labeled_split
    from kdpipeline.stages import batches_per_epoch, labeled_per_batch, training_batches

    context.args.batch_size = 16
    train = context.split["train"]
    context.labeled, context.unlabeled = labeled_split(train, context.cache.labels, fraction, seed=0)
    for kind in ("labeled", "distilled"):
        batches = [labels.numpy() for _, labels in training_batches(context, kind)]
        assert len(batches) == batches_per_epoch(context, kind)
        labelled = [int(np.isfinite(labels).all(axis=1).sum()) for labels in batches]
        if kind == "labeled" or fraction == 1:
            assert sum(len(labels) for labels in batches) == len(train) and sum(labelled) == len(train)
        else:
            share = labeled_per_batch(16, len(context.labeled), len(context.unlabeled))
            assert share == max(1, round(16 * fraction)) and all(count == share for count in labelled)
            assert sum(len(labels) - count for labels, count in zip(batches, labelled)) == len(context.unlabeled)


def test_class_balance_draws_the_labelled_rows_anew_each_epoch_rare_classes_more_often(context):
    """``--class-balance``: an epoch still holds as many rows as the training split, drawn anew each
    epoch (two epochs differ; the batches of a seed repeat), and the rarest class fills more of them
    than with ``none`` (its share of the split), more so with ``full`` than with ``sqrt``."""
    from kdpipeline.stages import batches_per_epoch, training_batches

    context.args.batch_size = 16
    train = context.split["train"]
    context.labeled, context.unlabeled = train, train[:0]
    labels = context.cache.labels[train]
    rarest = int(np.argmin(np.where(labels.sum(axis=0) > 0, labels.sum(axis=0), len(train))))
    shares = []
    for balance in ("none", "sqrt", "full"):
        context.args.class_balance = balance
        data = training_batches(context, "labeled")
        epochs = [np.concatenate([batch.numpy() for _, batch in data]) for _ in range(8)]
        assert all(len(epoch) == len(train) for epoch in epochs)
        assert len(list(data)) == batches_per_epoch(context, "labeled")
        again = np.concatenate([batch.numpy() for _, batch in training_batches(context, "labeled")])
        np.testing.assert_array_equal(again, epochs[0])
        if balance != "none":
            assert not np.array_equal(epochs[0], epochs[1])
        shares.append(np.mean([epoch[:, rarest].mean() for epoch in epochs]))
    assert shares[0] == pytest.approx(labels[:, rarest].mean()) and shares[0] < shares[1] < shares[2]


def test_class_balance_also_draws_the_labelled_rows_of_batches_that_mix_in_unlabelled_ones(context):
    """With unlabelled rows (the distilled students at scarce labels) ``--class-balance`` changes which
    labelled rows fill each batch's labelled share, rare classes more often, and nothing else: as many
    labelled rows per epoch, every unlabelled row once."""
    from data_utils.splits import labeled_split
    from kdpipeline.stages import training_batches

    context.args.batch_size = 16
    train = context.split["train"]
    context.labeled, context.unlabeled = labeled_split(train, context.cache.labels, 0.5, seed=0)
    labels = context.cache.labels[context.labeled]
    rarest = int(np.argmin(np.where(labels.sum(axis=0) > 0, labels.sum(axis=0), len(train))))
    shares, counts = [], []
    for balance in ("none", "full"):
        context.args.class_balance = balance
        data = training_batches(context, "distilled")
        epochs = [np.concatenate([batch.numpy() for _, batch in data]) for _ in range(6)]
        finite = [epoch[np.isfinite(epoch).all(axis=1)] for epoch in epochs]
        assert all(len(epoch) - len(rows) == len(context.unlabeled) for epoch, rows in zip(epochs, finite))
        counts.append({len(rows) for rows in finite})
        shares.append(np.mean([rows[:, rarest].mean() for rows in finite]))
    assert counts[0] == counts[1] and len(counts[0]) == 1
    assert shares[0] < labels[:, rarest].mean() * 1.5 < shares[1]


def test_resuming_a_run_made_before_the_scarce_label_rule_is_refused_and_one_with_all_labels_is_not(tmp_path):
    """A fraction-1 run made before --teacher-labels and --augment resumes with --no-augment (the
    teacher's labels cannot differ); a fraction-0.5 run made before the batching rule does not."""
    from kdpipeline.options import parse_args
    from kdpipeline.runner import check_resume, run_config

    out = str(tmp_path / "run")
    for fraction, refused in (("1", False), ("0.5", True)):
        args = parse_args([*TINY, "--labeled-fraction", fraction, "--no-augment", "--out", out, "--resume"])
        old = {k: v for k, v in run_config(args).items() if k not in ("teacher_labels", "scarce_batches", "augment")}
        old = {k: v for k, v in old.items() if k not in ("kd_class_weights", "beat_weight")}
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "state.json"), "w") as handle:
            json.dump({"tool": "ecg-kd train.py", "config": old, "stages": {}}, handle)
        if refused:
            with pytest.raises(SystemExit, match="made before the current rule for batches"):
                check_resume(args, run_config(args))
        else:
            check_resume(args, run_config(args))


def test_the_commit_is_dirty_when_code_changes_but_not_when_results_do(tmp_path, monkeypatch):
    import shutil
    import subprocess

    from kdpipeline import report

    checkout = tmp_path / "checkout"
    (checkout / "kdpipeline").mkdir(parents=True)
    (checkout / "benchmarks" / "results").mkdir(parents=True)
    shutil.copy(report.__file__, checkout / "kdpipeline" / "report.py")
    (checkout / "benchmarks" / "results" / "r.json").write_text("{}")

    def git(*arguments):
        subprocess.run(["git", *arguments], cwd=checkout, check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    monkeypatch.setattr(report, "__file__", str(checkout / "kdpipeline" / "report.py"))

    def commit():
        report._COMMIT.clear()
        return report.source_commit()

    clean = commit()
    assert clean and not clean.endswith("-dirty")
    (checkout / "benchmarks" / "results" / "r.json").write_text('{"rows": 1}')  # a benchmark writing its results
    assert commit() == clean
    (checkout / "kdpipeline" / "report.py").write_text("# changed\n")
    assert commit() == clean + "-dirty"
    report._COMMIT.clear()


def test_split_seed_keeps_the_records_of_each_split_across_seeds(tmp_path):
    """``--split-seed 0`` with ``--seed 1``: the split and labelled share of seed 0; without it, seed 1's own."""
    from kdpipeline.options import parse_args
    from kdpipeline.runner import build_context, run_config

    def split(*flags):
        args = parse_args([*TINY, "--labeled-fraction", "0.5", *flags, "--out", str(tmp_path / "run")])
        ctx, _ = build_context(args)
        return {**{name: list(rows) for name, rows in ctx.split.items()}, "labeled": list(ctx.labeled)}, args

    base, _ = split()
    shared, args = split("--seed", "1", "--split-seed", "0")
    own, _ = split("--seed", "1")
    assert shared == base and own != base
    assert run_config(args)["split_seed"] == 0 and run_config(parse_args([*TINY]))["split_seed"] is None
