"""The PTB-XL benchmark's plan, its train.py calls and its paired intervals (no training here)."""

import argparse
import json
import os

import numpy as np
import pytest

from benchmarks.paired import macro_auroc, paired_difference
from benchmarks.provenance import REPOSITORY
from benchmarks.ptbxl_distillation import REFERENCES, plan, train_command


def test_the_plan_trains_each_teacher_before_its_students_and_the_headline_first():
    cells = plan([0, 1, 2])
    names = [cell.name for cell in cells]
    assert len(set(names)) == len(names)
    assert names[:3] == ["teacher_all_1_s0", "teacher_all_1_s1", "teacher_all_1_s2"]
    assert names[3:12] == [
        f"lrhnet_all_0.1_{leads}_s{seed}" for leads in ("I", "I+II", "I+II+V2") for seed in (0, 1, 2)
    ]
    for index, cell in enumerate(cells):
        assert set(cell.teacher_runs) <= set(names[:index])
    teachers = {cell.name: cell for cell in cells}
    for cell in cells:
        if len(cell.teacher_runs) > 1:  # an ensemble: the teachers on all labels of every seed
            assert cell.teacher_runs == ("teacher_all_1_s0", "teacher_all_1_s1", "teacher_all_1_s2")
        elif cell.teacher_runs and teachers[cell.teacher_runs[0]].rows["teacher"][1] == "same":
            source = teachers[cell.teacher_runs[0]]  # a same-fraction teacher: this seed's and fraction's labels
            assert (source.seed, source.fraction) == (cell.seed, cell.fraction)
            assert cell.flags[cell.flags.index("--teacher-labels") + 1] == "same"
    plain = {(c.fraction, c.leads, c.seed) for c in cells if "student" in c.rows}
    distilled = {(c.fraction, c.leads, c.seed) for c in cells if "student_kd" in c.rows}
    assert distilled <= plain  # every KD row has its plain student of the same seed and labels


def test_a_student_cell_resumes_and_distils_from_its_teachers_file(monkeypatch):
    cell = plan([0])[1]
    args = argparse.Namespace(
        data="../shared/data/ptbxl", runs="runs/x", epochs=40, teacher_width=0.5, precision="float32"
    )
    monkeypatch.chdir(REPOSITORY)  # relative paths are the repository's, where train.py runs
    command = train_command(args, cell)
    assert command[command.index("--teacher-from") + 1] == "runs/x/teacher_all_1_s0/models/teacher.keras"
    assert command[-3:] == ["--out", "runs/x/lrhnet_all_0.1_I_s0", "--resume"]
    assert command[command.index("--labeled-fraction") + 1] == "0.1"


def test_the_ensemble_cells_distil_from_every_seeds_teacher_at_10_percent_and_full_labels(monkeypatch):
    cells = [cell for cell in plan([0, 1, 2]) if cell.name.startswith("lrhnet_ensemble")]
    assert {(cell.fraction, cell.leads, cell.seed) for cell in cells} == {
        (fraction, leads, seed) for fraction in (0.1, 1.0) for leads in ("I", "I,II", "I,II,V2") for seed in (0, 1, 2)
    }
    assert all(cell.rows == {"student_kd": ("student_kd", "ensemble")} for cell in cells)
    args = argparse.Namespace(
        data="../shared/data/ptbxl", runs="runs/x", epochs=40, teacher_width=0.5, precision="float32"
    )
    monkeypatch.chdir(REPOSITORY)
    command = train_command(args, cells[0])
    start = command.index("--teacher-from") + 1
    assert command[start : start + 4] == [f"runs/x/teacher_all_1_s{seed}/models/teacher.keras" for seed in range(3)] + [
        "--out"
    ]
    assert not [cell for cell in plan([0]) if cell.name.startswith("lrhnet_ensemble")], "one seed makes no ensemble"


def test_the_t2_cells_scale_kd_by_t_squared_from_their_seeds_teacher_beside_their_plain_and_kd_twins():
    cells = plan([0, 1])
    t2 = [cell for cell in cells if cell.name.startswith("t2_") and not cell.name.startswith("t2_same_")]
    assert {(cell.fraction, cell.leads, cell.seed) for cell in t2} == {
        (fraction, leads, seed)
        for fraction in (0.1, 0.05, 0.25, 1.0)
        for leads in ("I", "I,II", "I,II,V2")
        for seed in (0, 1)
    }
    twins = {(c.fraction, c.leads, c.seed): c for c in cells if c.name.startswith("lrhnet_all_")}
    for cell in t2:
        assert "--kd-t2" in cell.flags and cell.rows == {"student_kd": ("student_kd_t2", "all")}
        assert cell.teacher_runs == (f"teacher_all_1_s{cell.seed}",)
        twin = twins[(cell.fraction, cell.leads, cell.seed)]  # its plain and default-KD rows
        assert {"student": ("student", "none"), "student_kd": ("student_kd", "all")}.items() <= twin.rows.items()
        assert "--kd-t2" not in twin.flags
        assert [flag for flag in cell.flags if flag != "--kd-t2"][:-2] == list(twin.flags[:-2])


def test_the_same_teacher_t2_cells_distil_from_the_same_fraction_teacher_after_its_default_kd_twin():
    cells = plan([0, 1])
    names = [cell.name for cell in cells]
    t2 = [cell for cell in cells if cell.name.startswith("t2_same_")]
    assert {(cell.fraction, cell.leads, cell.seed) for cell in t2} == {
        (fraction, leads, seed)
        for fraction in (0.1, 0.05, 0.25)
        for leads in ("I", "I,II", "I,II,V2")
        for seed in (0, 1)
    }
    twins = {(c.fraction, c.leads, c.seed): c for c in cells if c.name.startswith("lrhnet_same_")}
    for cell in t2:
        assert cell.rows == {"student_kd": ("student_kd_t2", "same")}
        assert cell.teacher_runs == (f"teacher_same_{cell.fraction:g}_s{cell.seed}",)
        assert cell.flags[cell.flags.index("--teacher-labels") + 1] == "same"
        twin = twins[(cell.fraction, cell.leads, cell.seed)]
        assert [flag for flag in cell.flags if flag != "--kd-t2"] == list(twin.flags)
        assert names.index(twin.name) < names.index(cell.name)


def test_the_teacher_variants_come_last_each_the_teacher_with_one_flag_more():
    cells = plan([0, 1])
    variants = [
        ("no_early_stop", ("--patience", "0")),
        ("demographics", ("--demographics",)),
        ("window_2.5s", ("--window-seconds", "2.5")),
        ("window_5s", ("--window-seconds", "5")),
        ("window_2.5s_80ep", ("--window-seconds", "2.5", "--epochs", "80")),
        ("window_2.5s_weight_average", ("--window-seconds", "2.5", "--weight-average", "0.99")),
    ]
    assert [cell.name for cell in cells[-12:]] == [
        f"teacher_all_1_{name}_s{seed}" for name, _ in variants for seed in (0, 1)
    ]
    for index, (name, extra) in enumerate(variants):
        for seed, cell in enumerate(cells[-12 + 2 * index :][:2]):
            assert cell.flags == cells[seed].flags + extra and cells[seed].name == f"teacher_all_1_s{seed}"
            assert cell.rows == {"teacher": (f"teacher_{name}", "all")} and not cell.teacher_runs
        reference = "teacher_window_2.5s" if name.endswith("weight_average") else "teacher"
        assert REFERENCES[f"teacher_{name}"] == {"paired_difference": (reference, "all")}  # Δ against that seed's
    long = train_command(
        argparse.Namespace(data="synthetic", runs="runs/x", epochs=40, teacher_width=0.5, precision="float32"),
        cells[-3],  # the 80-epoch crop teacher of seed 1
    )
    assert long[long.index("--epochs", long.index("--epochs") + 1) + 1] == "80"  # the cell's bound comes last and wins


def test_the_crops_averaged_recipe_trains_every_teacher_and_ceiling_as_the_averaged_crop_variant():
    whole, crops = plan([0, 1]), plan([0, 1], recipe="crops-averaged")
    recipe = ("--window-seconds", "2.5", "--weight-average", "0.99")
    variants = {cell.name for cell in whole[-12:]}  # they vary the whole-record teacher: not in this plan
    assert [cell.name for cell in crops] == [cell.name for cell in whole if cell.name not in variants]
    by_name = {cell.name: cell for cell in whole}
    averaged = [cell for cell in whole if cell.name.endswith("weight_average_s0")][0]
    for cell in crops:
        trained_as_teacher = "teacher" in cell.flags[cell.flags.index("--stages") + 1].split(",")
        expected = by_name[cell.name].flags + (recipe if trained_as_teacher else ())
        assert cell.flags == expected and cell.teacher_runs == by_name[cell.name].teacher_runs
        assert "--window-seconds" not in cell.flags or trained_as_teacher  # students read whole records
    assert crops[0].flags == averaged.flags  # seed 0's teacher is the averaged crop variant of the whole plan
    assert sum("ceiling" in cell.name for cell in crops) == sum("teacher_same" in cell.name for cell in crops) == 6


def test_paired_difference_by_hand():
    rng = np.random.default_rng(0)
    labels = (rng.random((200, 3)) < 0.4).astype(float)
    noise = rng.random((200, 3))
    better, worse = 0.6 * labels + 0.4 * noise, 0.2 * labels + 0.8 * noise
    same = paired_difference([(labels, worse, worse)], resamples=50)
    assert same == [0.0, 0.0, 0.0]
    difference, low, high = paired_difference([(labels, better, worse), (labels, better, better)], resamples=200)
    assert difference == pytest.approx((macro_auroc(labels, better) - macro_auroc(labels, worse)) / 2)
    assert 0 < low < difference < high
    other = labels[::-1][:150]  # another seed's split: other records, another size
    difference, _, _ = paired_difference([(labels, better, worse), (other, worse[:150], better[:150])], resamples=20)
    expected = macro_auroc(labels, better) - macro_auroc(labels, worse)
    expected += macro_auroc(other, worse[:150]) - macro_auroc(other, better[:150])
    assert difference == pytest.approx(expected / 2)


def test_runs_on_another_split_keep_their_own_labels(tmp_path):
    from benchmarks.ptbxl_distillation import PTBXLResults

    results = PTBXLResults(str(tmp_path / "r.json"), {"setting": "synthetic"})
    first, second = np.eye(3)[[0, 1, 2, 0]], np.eye(3)[[2, 2, 1, 0]]
    run = {"model": "student", "leads": "I", "fraction": 1.0, "teacher": "none"}
    results.add_probabilities({**run, "seed": 0}, first, first)
    results.add_probabilities({**run, "seed": 1}, second, second)
    assert np.array_equal(results.labels({**run, "seed": 0}), first)
    assert np.array_equal(results.labels({**run, "seed": 1}), second)


def test_a_recorded_teacher_whose_run_folder_is_gone_is_trained_again_before_its_students(tmp_path, monkeypatch):
    import sys

    from benchmarks import ptbxl_distillation

    teacher_row = {"model": "teacher", "leads": "12", "seed": 0, "fraction": 1.0, "teacher": "all", "params": 1}
    teacher_row.update(best_epoch=0, validation={"macro_auroc": 0.9})
    teacher_row["test"] = {"macro_auroc": 0.87, "per_class": {"auroc": {"NORM": 0.9}}}
    out = tmp_path / "r.json"
    out.write_text(json.dumps({"command": "x", "commit": "x", "date": "x", "runs": [teacher_row]}))
    trained = []
    monkeypatch.setattr(ptbxl_distillation, "run_cell", lambda args, results, cell: trained.append(cell.name))
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), "--runs", str(tmp_path / "runs")]
    monkeypatch.setattr(sys, "argv", [*argv, "--seeds", "0", "--cells", "2", "--resume"])
    ptbxl_distillation.main()
    assert trained == ["teacher_all_1_s0", "lrhnet_all_0.1_I_s0"]


def test_synthetic_data_goes_to_train_py_as_its_spec_with_the_chosen_lead_sets(monkeypatch):
    cells = plan([0, 1], fractions=[0.1], lead_sets=["I"], ensembles=False)  # each seed its own split: no ensemble
    assert not [cell for cell in cells if len(cell.teacher_runs) > 1]
    assert {cell.leads for cell in cells} <= {"I", "12"} and {cell.fraction for cell in cells} == {0.1, 1.0}
    args = argparse.Namespace(data="synthetic:n=300", runs="runs/x", epochs=40, teacher_width=0.25)
    args.precision = "mixed_bfloat16"
    monkeypatch.chdir(REPOSITORY)
    command = train_command(args, cells[1])
    assert command[command.index("--data") + 1] == "synthetic:n=300"
    assert command[command.index("--precision") + 1] == "mixed_bfloat16"


def faked_training(runs, trained, score=0.8):
    """A ``run_cell`` that leaves what ``train.py`` leaves (the teacher file, ``report.json``) and
    records the cell's rows as ``record_cell`` does, without training; ``trained`` lists the cells."""

    def train(args, results, cell):
        trained.append(cell.name)
        models = runs / cell.name / "models"
        models.mkdir(parents=True, exist_ok=True)
        (models / "teacher.keras").write_text("")
        test = {"macro_auroc": score, "per_class": {"auroc": {"NORM": score}}}
        (runs / cell.name / "report.json").write_text(
            json.dumps({"models": {name: {"test": test} for name in cell.rows}})
        )
        folder = os.path.relpath(runs / cell.name, REPOSITORY)
        for row, teacher in cell.rows.values():
            key = {"model": row, "leads": cell.leads, "seed": cell.seed, "fraction": cell.fraction, "teacher": teacher}
            results.add(**key, params=1, test=test, best_epoch=0, validation={"macro_auroc": score}, run=folder)

    return train


def test_a_teacher_stopped_before_its_row_was_recorded_is_resumed_before_its_students(tmp_path, monkeypatch):
    import sys

    from benchmarks import ptbxl_distillation

    trained, runs, out = [], tmp_path / "runs", tmp_path / "r.json"
    monkeypatch.setattr(ptbxl_distillation, "run_cell", faked_training(runs, trained))
    monkeypatch.setattr(ptbxl_distillation, "record_ensemble", lambda *arguments: None)
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), "--runs", str(runs), "--seeds", "0"]
    monkeypatch.setattr(sys, "argv", [*argv, "--cells", "1"])
    ptbxl_distillation.main()  # the teacher, recorded at 0.8
    report = runs / "teacher_all_1_s0" / "report.json"
    report.write_text(report.read_text().replace("0.8", "0.9"))  # trained again, stopped before it was recorded
    monkeypatch.setattr(sys, "argv", [*argv, "--cells", "2", "--resume"])
    ptbxl_distillation.main()  # train.py --resume reads the finished teacher, then its row is recorded
    assert trained == ["teacher_all_1_s0", "teacher_all_1_s0", "lrhnet_all_0.1_I_s0"]
    trained.clear()
    ptbxl_distillation.main()  # everything recorded from its folder: nothing runs
    assert trained == []


@pytest.mark.parametrize(
    "width, folder",
    [
        ([], "ptbxl_benchmark_crops-averaged"),
        (["--teacher-width", "1.0"], "ptbxl_benchmark_width1_crops-averaged"),
        (["--teacher-width", "0.25"], "ptbxl_benchmark_width0.25_crops-averaged"),
    ],
)
def test_a_crops_averaged_call_trains_its_teachers_on_crops_in_its_own_runs_and_records_its_recipe(
    tmp_path, monkeypatch, capsys, width, folder
):
    import sys

    from benchmarks import ptbxl_distillation

    trained, calls, out = [], [], tmp_path / "r.json"
    runs = tmp_path / "runs" / folder  # the default --runs of this width and recipe
    fake = faked_training(runs, trained)

    def run_cell(args, results, cell):
        calls.append((args.runs, cell.flags))
        fake(args, results, cell)

    monkeypatch.setattr(ptbxl_distillation, "run_cell", run_cell)
    monkeypatch.chdir(tmp_path)
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), "--seeds", "0", "--cells", "2"]
    argv += width
    monkeypatch.setattr(sys, "argv", [*argv, "--teacher-recipe", "crops-averaged"])
    ptbxl_distillation.main()
    assert trained == ["teacher_all_1_s0", "lrhnet_all_0.1_I_s0"]
    assert [folder for folder, _ in calls] == [str(runs)] * 2
    teacher, student = (flags for _, flags in calls)
    assert teacher[-4:] == ("--window-seconds", "2.5", "--weight-average", "0.99") and "--window-seconds" not in student
    assert json.loads(out.read_text())["teacher_recipe"] == "crops-averaged"
    monkeypatch.setattr(sys, "argv", [*argv, "--resume"])  # the default recipe would mix its rows with these
    with pytest.raises(SystemExit):
        ptbxl_distillation.main()
    assert "holds results of --teacher-recipe crops-averaged: pass it" in capsys.readouterr().err


def test_the_ensemble_row_is_recorded_only_after_a_cell_trained_from_the_current_teachers(tmp_path, monkeypatch):
    import sys

    from benchmarks import ptbxl_distillation

    trained, ensembles, runs, out = [], [], tmp_path / "runs", tmp_path / "r.json"
    monkeypatch.setattr(ptbxl_distillation, "run_cell", faked_training(runs, trained))
    monkeypatch.setattr(
        ptbxl_distillation, "record_ensemble", lambda args, results, cell, member: ensembles.append(cell.name)
    )
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), "--runs", str(runs)]
    argv += ["--lead-sets", "I", "--fractions", "0.1", "--only", "^lrhnet_(all|ensemble)_0.1_"]
    monkeypatch.setattr(sys, "argv", argv)
    ptbxl_distillation.main()
    assert ensembles == [f"lrhnet_ensemble_0.1_I_s{seed}" for seed in range(3)]  # the fake never records it
    monkeypatch.setattr(sys, "argv", [*argv, "--resume"])
    ensembles.clear()
    before = list(trained)
    ptbxl_distillation.main()  # the ensemble cells are recorded: none is trained, none records the ensemble
    assert ensembles == [] and trained == before


def test_a_replaced_teacher_row_is_kept_and_retires_the_ensemble_made_of_it(tmp_path):
    from benchmarks.ptbxl_distillation import ENSEMBLE_ROW, PTBXLResults

    header = {"setting": "ptbxl", "command": "x", "commit": "x", "date": "x"}
    results = PTBXLResults(str(tmp_path / "r.json"), header)
    teacher = {"model": "teacher", "leads": "12", "seed": 0, "fraction": 1.0, "teacher": "all"}
    student = {**teacher, "model": "student", "leads": "I", "teacher": "none"}
    for row, score in ((teacher, 0.87), (ENSEMBLE_ROW, 0.88), (student, 0.8), (teacher, 0.89)):
        test = {"macro_auroc": score, "per_class": {"auroc": {"NORM": score}}}
        folder = f"runs/x/{row['model']}_{row['teacher']}"
        results.add(**row, params=1, test=test, best_epoch=0, validation={"macro_auroc": score}, run=folder)
    written = json.loads((tmp_path / "r.json").read_text())
    assert [(run["model"], run["teacher"], run["test"]["macro_auroc"]) for run in written["runs"]] == [
        ("student", "none", 0.8),
        ("teacher", "all", 0.89),
    ]
    # the teacher trained again after its student still heads the table of its label fraction
    assert [row["model"] for row in written["summary"]] == ["teacher", "student"]
    assert [(run["teacher"], run["test"]["macro_auroc"]) for run in written["replaced"]] == [
        ("all", 0.87),
        ("ensemble", 0.88),
    ]
    assert all("replaced_on" in run for run in written["replaced"])
    results.add(**written["runs"][1])  # the same network recorded again: it replaces itself, nothing is retired
    assert len(results.runs) == 2 and len(results.replaced) == 2
    # evaluated again, the same network's metrics may differ in their last bits: still the same network
    again = {**written["runs"][1], "test": {"macro_auroc": 0.89 + 1e-12, "per_class": {"auroc": {"NORM": 0.89}}}}
    results.add(**again)
    assert len(results.runs) == 2 and len(results.replaced) == 2
    resumed = PTBXLResults(str(tmp_path / "r.json"), header, resume=True)
    assert resumed.replaced == written["replaced"]
    # metrics 1e-6 apart are another network (retrained into the same folder): the earlier one is kept as replaced
    other = {**again, "test": {"macro_auroc": 0.89 + 1e-6, "per_class": {"auroc": {"NORM": 0.89}}}}
    scratch = PTBXLResults(str(tmp_path / "scratch.json"), header)
    scratch.runs = [dict(run) for run in results.runs]
    scratch.add(**other)
    assert [run["test"]["macro_auroc"] for run in scratch.replaced] == [0.89 + 1e-12]
    # a results file where such a network was once taken for another is repaired when resumed
    repaired = json.loads((tmp_path / "r.json").read_text())
    repaired["replaced"].append({**again, "replaced_on": "2026-12-03T08:00:00+00:00"})
    (tmp_path / "r.json").write_text(json.dumps(repaired))
    assert PTBXLResults(str(tmp_path / "r.json"), header, resume=True).replaced == written["replaced"]


def test_best_epochs_are_listed_in_seed_order_whatever_order_the_runs_were_recorded_in(tmp_path):
    from benchmarks.ptbxl_distillation import PTBXLResults

    results = PTBXLResults(str(tmp_path / "r.json"), {"setting": "ptbxl", "command": "x", "commit": "x", "date": "x"})
    # seed 0 first, then seeds 1 and 2, then seed 0 trained again into another folder: it moves to the end
    for seed, epoch, folder in ((0, 3, "old"), (1, 14, "a"), (2, 29, "a"), (0, 30, "new")):
        test = {"macro_auroc": 0.9 + epoch / 1000, "per_class": {"auroc": {"NORM": 0.9}}}
        row = {"model": "teacher", "leads": "12", "seed": seed, "fraction": 1.0, "teacher": "all"}
        run = f"{folder}/{seed}"
        results.add(**row, params=1, test=test, best_epoch=epoch, validation={"macro_auroc": 0.9}, run=run)
    assert [run["seed"] for run in results.runs] == [1, 2, 0]
    (row,) = results.summary()
    assert row["best_epochs"] == [31, 15, 30]


def test_only_runs_the_matching_cells_after_the_teachers_they_need(tmp_path, monkeypatch):
    import sys

    from benchmarks import ptbxl_distillation

    trained = []
    monkeypatch.setattr(ptbxl_distillation, "run_cell", faked_training(tmp_path / "runs", trained))
    monkeypatch.setattr(ptbxl_distillation, "record_ensemble", lambda *arguments: None)
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(tmp_path / "r.json")]
    argv += ["--runs", str(tmp_path / "runs"), "--lead-sets", "I", "--only", "^lrhnet_(all|ensemble)_1_"]
    monkeypatch.setattr(sys, "argv", argv)
    ptbxl_distillation.main()
    teachers = [f"teacher_all_1_s{seed}" for seed in range(3)]
    assert trained == [
        teachers[0],
        "lrhnet_all_1_I_s0",
        teachers[1],
        "lrhnet_all_1_I_s1",
        teachers[2],
        "lrhnet_all_1_I_s2",
        *(f"lrhnet_ensemble_1_I_s{seed}" for seed in range(3)),
    ]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--only", "^teacher_all_1_s0$"], "exists: pass --resume to add to its rows"),
        ([], "exists: pass --resume to add to its rows"),
        (["--resume", "--data", "synthetic"], "holds ptbxl results; --data is synthetic"),
        (["--resume", "--only", "no_such_cell"], "matches no cell"),
        (["--resume", "--only", "("], "not a regular expression"),
        (["--resume", "--precision", "mixed_bfloat16"], "holds results of --precision float32: pass it"),
        (["--resume", "--teacher-width", "1"], "holds results of --teacher-width 0.5: pass it"),
        # a file made before recipes were recorded holds teachers trained on whole records
        (["--resume", "--teacher-recipe", "crops-averaged"], "holds results of --teacher-recipe whole: pass it"),
        (["--rerun", "lrhnet"], "it needs --resume"),
        (["--resume", "--rerun", "("], "not a regular expression"),
        (["--resume", "--only", "^teacher", "--rerun", "lrhnet"], "matches no cell that runs"),
    ],
)
def test_a_call_that_would_lose_or_mix_recorded_rows_is_refused(tmp_path, monkeypatch, flags, message, capsys):
    import json
    import sys

    from benchmarks import ptbxl_distillation

    out = tmp_path / "r.json"
    recorded = {"setting": "ptbxl", "runs": [], "teacher_width": 0.5}
    out.write_text(json.dumps(recorded))
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), *flags]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(ptbxl_distillation, "run_cell", lambda *a: pytest.fail("nothing runs after a refusal"))
    with pytest.raises(SystemExit):
        ptbxl_distillation.main()
    assert message in capsys.readouterr().err
    assert json.loads(out.read_text()) == recorded


def test_kept_probabilities_read_back_as_the_same_float32_values_and_ranks():
    from benchmarks.ptbxl_distillation import kept_exactly

    small = np.array([[1.1e-7, 0.5], [1.3e-7, 0.99999994], [1.2e-7, 0.25]], np.float32)  # 6 decimals would tie them
    kept = np.asarray(json.loads(json.dumps(kept_exactly(small))), np.float32)
    assert np.array_equal(kept, small)
    labels = np.array([[0, 1], [1, 1], [0, 0]], float)
    assert macro_auroc(labels, kept) == macro_auroc(labels, small) == 1.0


def test_a_run_whose_saved_network_does_not_give_its_reported_score_is_refused(tmp_path, monkeypatch):
    from benchmarks import ptbxl_distillation
    from benchmarks.ptbxl_distillation import PTBXLResults, lrhnet_cell, record_cell, teacher_cell

    cell = lrhnet_cell(0, 0.1, "I", teacher_cell(0))
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], float)
    probabilities = np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.6], [0.2, 0.1]], np.float32)  # AUROC 1 for both
    run = tmp_path / cell.name
    run.mkdir()
    entry = {
        "params": 1,
        "best_epoch": 0,
        "epochs_run": 1,
        "selection": {"macro_auroc": 0.9},
        "learned_from": {},
        "history": {},
    }
    test = {"macro_auroc": 1.0, "per_class": {"auroc": {"A": 1.0, "B": 1.0}}}
    report = {name: {**entry, "test": dict(test)} for name in cell.rows}
    report["student_kd"]["test"]["macro_auroc"] = 0.75  # what another network scored
    (run / "report.json").write_text(json.dumps({"models": report}))
    monkeypatch.setattr(ptbxl_distillation, "train_context", lambda args, cell: None)
    found = {name: probabilities for name in cell.rows}
    monkeypatch.setattr(ptbxl_distillation, "split_probabilities", lambda context, run, names: (found, labels))
    args = argparse.Namespace(runs=str(tmp_path))
    header = {"setting": "ptbxl", "command": "x", "commit": "x", "date": "x"}
    results = PTBXLResults(str(tmp_path / "r.json"), header)
    with pytest.raises(
        ValueError, match="student_kd.keras scores macro AUROC 1.000000 on the test split, its report 0.750000"
    ):
        record_cell(args, results, cell)
    assert results.runs == []  # not even the plain student's row, whose score was right
    report["student_kd"]["test"]["macro_auroc"] = 1.0
    (run / "report.json").write_text(json.dumps({"models": report}))
    record_cell(args, results, cell)
    assert len(results.runs) == 2


def test_the_ensemble_row_is_scored_from_one_prediction_per_split_and_counts_its_members_weights(tmp_path, monkeypatch):
    from test_ensemble import trained_members

    from benchmarks import ptbxl_distillation
    from benchmarks.ptbxl_distillation import ENSEMBLE_ROW, TEACHER_RECIPES, PTBXLResults, ensemble_cell, teacher_cell
    from lrhnet.efficiency import trainable_parameters
    from lrhnet.ensemble import TeacherEnsemble

    teachers = tuple(teacher_cell(seed, recipe=TEACHER_RECIPES["crops-averaged"]) for seed in range(2))
    cell = ensemble_cell(0, 0.1, "I", teachers)
    members = trained_members(2, classes=2)
    (tmp_path / cell.name / "models").mkdir(parents=True)
    TeacherEnsemble(members, multilabel=True).save(str(tmp_path / cell.name / "models" / "teacher.keras"))
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], float)
    parts = {"validation": np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.6], [0.2, 0.1]]), "test": labels[::-1] * 0.5}
    predicted = []

    def split_probabilities(context, run, names, part="test"):
        predicted.append(part)
        return {"teacher": parts[part]}, labels

    monkeypatch.setattr(ptbxl_distillation, "split_probabilities", split_probabilities)
    contexts = []

    def train_context(args, cell):
        contexts.append(cell)
        return argparse.Namespace(classes=("A", "B"), multilabel=True)

    monkeypatch.setattr(ptbxl_distillation, "train_context", train_context)
    header = {"setting": "ptbxl", "command": "x", "commit": "x", "date": "x"}
    results = PTBXLResults(str(tmp_path / "r.json"), header)
    ptbxl_distillation.record_ensemble(argparse.Namespace(runs=str(tmp_path)), results, cell, teachers[0])
    assert contexts == [teachers[0]]  # scored on the windows its members were trained on, not the student's
    row = results.find(**ENSEMBLE_ROW)
    assert sorted(predicted) == ["test", "validation"]
    assert row["params"] == sum(trainable_parameters(member) for member in members)
    assert row["validation"]["macro_auroc"] == 1.0
    assert row["test"]["per_class"]["auroc"] == {"A": 0.0, "B": 1.0}  # A's scores rank its negatives first
    assert row["test"]["macro_auroc"] == 0.5


def recorded_rows(tmp_path, seeds, fraction, rng):
    """Results holding, for each ``{(model, teacher): recorded seeds}``, predictions that lean more on the
    labels the later the row comes; returns ``(results, {(model, teacher, seed): test macro AUROC})``."""
    from benchmarks.ptbxl_distillation import PTBXLResults

    labels = (rng.random((120, 2)) < 0.5).astype(float)
    header = {"setting": "ptbxl", "command": "x", "commit": "x", "date": "x"}
    results = PTBXLResults(str(tmp_path / "r.json"), header)
    auroc = {}
    for index, ((model, teacher), row_seeds) in enumerate(seeds.items()):
        weight = 0.8 * (index + 1) / len(seeds)
        for seed in row_seeds:
            key = {"model": model, "leads": "I", "seed": seed, "fraction": fraction, "teacher": teacher}
            predicted = weight * labels + (1 - weight) * rng.random(labels.shape)
            auroc[model, teacher, seed] = macro_auroc(labels, predicted)
            results.add_probabilities(key, predicted, labels)
            test = {"macro_auroc": auroc[model, teacher, seed], "per_class": {"auroc": {"NORM": 0.5}}}
            results.add(**key, params=1, test=test, best_epoch=0, validation={"macro_auroc": 0.5})
    return results, auroc


def test_t2_rows_are_paired_with_default_kd_and_say_when_that_rests_on_fewer_seeds(tmp_path):
    from benchmarks.ptbxl_distillation import delta_cell

    seeds = {("student", "none"): (0, 1), ("student_kd", "all"): (0,), ("student_kd_t2", "all"): (0, 1)}
    results, auroc = recorded_rows(tmp_path, seeds, 0.1, np.random.default_rng(1))  # no default KD of seed 1
    (t2,) = [row for row in results.summary() if row["model"] == "student_kd_t2"]
    gain = auroc["student_kd_t2", "all", 0] - auroc["student_kd", "all", 0]
    assert t2["paired_vs_kd"][0] == pytest.approx(gain) and t2["paired_vs_kd_seeds"] == 1
    assert t2["paired_difference_seeds"] == 2
    plain, vs_kd = delta_cell(t2).split("; ")
    assert "seeds" not in plain and vs_kd.startswith("vs KD ") and vs_kd.endswith(" (1 of 2 seeds)")


def test_same_teacher_t2_rows_are_paired_with_default_kd_of_the_same_teacher(tmp_path):
    seeds = {
        ("student", "none"): (0,),
        ("student_kd", "all"): (0,),
        ("student_kd", "same"): (0,),
        ("student_kd_t2", "same"): (0,),
    }
    results, auroc = recorded_rows(tmp_path, seeds, 0.1, np.random.default_rng(3))
    rows = {(row["model"], row["teacher"]): row for row in results.summary()}
    t2 = rows["student_kd_t2", "same"]
    t2_auroc = auroc["student_kd_t2", "same", 0]
    assert t2["paired_vs_kd"][0] == pytest.approx(t2_auroc - auroc["student_kd", "same", 0])
    assert t2["paired_difference"][0] == pytest.approx(t2_auroc - auroc["student", "none", 0])


def test_liteheart_rows_are_paired_with_the_plain_lrhnet_student_and_its_terms_with_liteheart_alone(tmp_path):
    from benchmarks.ptbxl_distillation import delta_cell

    seeds = {("student", "none"): (0,), ("liteheart_alone", "none"): (0,), ("liteheart", "all"): (0,)}
    results, auroc = recorded_rows(tmp_path, seeds, 1.0, np.random.default_rng(2))
    rows = {row["model"]: row for row in results.summary()}
    alone, terms, plain = auroc["liteheart_alone", "none", 0], auroc["liteheart", "all", 0], auroc["student", "none", 0]
    assert rows["liteheart_alone"]["paired_difference"][0] == pytest.approx(alone - plain)
    assert rows["liteheart"]["paired_difference"][0] == pytest.approx(terms - plain)
    assert rows["liteheart"]["paired_vs_alone"][0] == pytest.approx(terms - alone)
    from_plain, from_alone = delta_cell(rows["liteheart"]).split("; ")
    assert from_alone.startswith("vs alone ") and "vs" not in from_plain


def test_the_same_lead_ceiling_is_paired_with_the_plain_student_of_its_seed(tmp_path):
    seeds = {("student", "none"): (0, 1), ("same_lead_ceiling", "none"): (0, 1)}
    results, auroc = recorded_rows(tmp_path, seeds, 1.0, np.random.default_rng(3))
    (ceiling,) = [row for row in results.summary() if row["model"] == "same_lead_ceiling"]
    gains = [auroc["same_lead_ceiling", "none", seed] - auroc["student", "none", seed] for seed in (0, 1)]
    assert ceiling["paired_difference"][0] == pytest.approx(np.mean(gains))
    assert ceiling["paired_difference"][1] <= ceiling["paired_difference"][0] <= ceiling["paired_difference"][2]


def test_a_row_recorded_again_is_paired_anew_in_the_same_results(tmp_path):
    seeds = {("student", "none"): (0,), ("student_kd", "all"): (0,)}
    rng = np.random.default_rng(4)
    results, auroc = recorded_rows(tmp_path, seeds, 0.1, rng)
    (before,) = [row for row in results.summary() if row["model"] == "student_kd"]
    labels = np.asarray(results.predictions["labels"], float)
    again = labels + rng.random(labels.shape)  # the KD student trained again: it ranks every label first
    key = {"model": "student_kd", "leads": "I", "seed": 0, "fraction": 0.1, "teacher": "all"}
    results.add_probabilities(key, again, labels)
    (after,) = [row for row in results.summary() if row["model"] == "student_kd"]
    assert before["paired_difference"][0] == pytest.approx(auroc["student_kd", "all", 0] - auroc["student", "none", 0])
    assert after["paired_difference"][0] == pytest.approx(1.0 - auroc["student", "none", 0])


def test_rerun_trains_the_matching_recorded_cells_again_when_their_rows_did_not_come_from_their_folder(
    tmp_path, monkeypatch, capsys
):
    import shutil
    import sys

    from benchmarks import ptbxl_distillation

    trained, runs, out = [], tmp_path / "runs", tmp_path / "r.json"
    monkeypatch.setattr(ptbxl_distillation, "run_cell", faked_training(runs, trained))
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), "--runs", str(runs), "--seeds", "0"]
    argv += ["--lead-sets", "I", "I,II", "--only", "^lrhnet_all_0.1_"]
    monkeypatch.setattr(sys, "argv", argv)
    ptbxl_distillation.main()
    assert trained == ["teacher_all_1_s0", "lrhnet_all_0.1_I_s0", "lrhnet_all_0.1_I+II_s0"]
    for name in ("lrhnet_all_0.1_I_s0", "lrhnet_all_0.1_I+II_s0"):
        shutil.rmtree(runs / name)  # say, moved away after their teacher was trained again
    trained.clear()
    monkeypatch.setattr(sys, "argv", [*argv, "--resume"])
    ptbxl_distillation.main()
    assert trained == [], "without --rerun a recorded cell is kept"
    monkeypatch.setattr(ptbxl_distillation, "run_cell", faked_training(runs, trained, score=0.9))
    monkeypatch.setattr(sys, "argv", [*argv, "--resume", "--rerun", "_I_s0$"])
    ptbxl_distillation.main()
    assert trained == ["lrhnet_all_0.1_I_s0"], "only the matching cell"
    written = json.loads(out.read_text())
    assert {(run["model"], run["test"]["macro_auroc"]) for run in written["replaced"]} == {
        ("student", 0.8),
        ("student_kd", 0.8),
    }
    ptbxl_distillation.main()  # recorded from its folder now: nothing runs
    assert trained == ["lrhnet_all_0.1_I_s0"]
    report = runs / "lrhnet_all_0.1_I_s0" / "report.json"
    report.write_text(report.read_text().replace("0.9", "0.7"))  # its folder now holds another run
    monkeypatch.setattr(sys, "argv", [*argv, "--resume"])
    ptbxl_distillation.main()
    assert trained == ["lrhnet_all_0.1_I_s0"] and "holds another run" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", [*argv, "--resume", "--rerun", "_I_s0$"])
    ptbxl_distillation.main()  # train.py --resume would read the finished run back
    assert trained == ["lrhnet_all_0.1_I_s0"] * 2


@pytest.mark.parametrize(
    "where, rerun, message",
    [
        ("runs", [], "elsewhere: pass the --runs they were trained in, or choose another --out"),
        ("runs", ["--rerun", "lrhnet"], "pass the --runs they were trained in"),
        ("teacher", ["--rerun", "lrhnet"], "add it to --rerun"),
    ],
)
def test_resume_refuses_to_retrain_what_it_was_not_asked_to(tmp_path, monkeypatch, capsys, where, rerun, message):
    import shutil
    import sys

    from benchmarks import ptbxl_distillation

    trained, runs, out = [], tmp_path / "runs", tmp_path / "r.json"
    monkeypatch.setattr(ptbxl_distillation, "run_cell", faked_training(runs, trained))
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), "--seeds", "0", "--lead-sets", "I"]
    argv += ["--only", "^lrhnet_all_0.1_I_s0$"]
    monkeypatch.setattr(sys, "argv", [*argv, "--runs", str(runs)])
    ptbxl_distillation.main()
    if where == "runs":  # a --runs that holds none of the recorded folders: every folder would look gone
        argv += ["--runs", str(tmp_path / "elsewhere")]
    else:  # the teacher's folder is gone too: it would be trained again though the pattern misses it
        shutil.rmtree(runs / "teacher_all_1_s0")
        argv += ["--runs", str(runs)]
    before = out.read_text()
    monkeypatch.setattr(sys, "argv", [*argv, "--resume", *rerun])
    with pytest.raises(SystemExit):
        ptbxl_distillation.main()
    error = capsys.readouterr().err
    assert message in error and (where != "runs" or f"trained in {os.path.relpath(runs)}, not in" in error)
    assert trained == ["teacher_all_1_s0", "lrhnet_all_0.1_I_s0"] and out.read_text() == before


def test_resume_accepts_the_recorded_runs_folder_however_it_is_spelled(tmp_path, monkeypatch, capsys):
    import sys

    from benchmarks import ptbxl_distillation

    trained, runs, out = [], tmp_path / "runs", tmp_path / "r.json"
    monkeypatch.setattr(ptbxl_distillation, "run_cell", faked_training(runs, trained))
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), "--seeds", "0", "--cells", "2"]
    monkeypatch.setattr(sys, "argv", [*argv, "--runs", str(runs)])
    ptbxl_distillation.main()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "linked").symlink_to(runs)
    for spelling in ("runs/", "./runs", str(runs) + "/", "linked"):
        monkeypatch.setattr(sys, "argv", [*argv, "--resume", "--runs", spelling])
        ptbxl_distillation.main()  # everything recorded from its folder: nothing runs
    assert trained == ["teacher_all_1_s0", "lrhnet_all_0.1_I_s0"]
    monkeypatch.setattr(sys, "argv", [*argv, "--resume", "--runs", "runs", "--quick"])  # runs in runs_quick
    with pytest.raises(SystemExit):
        ptbxl_distillation.main()
    assert "(--quick adds _quick to it: give --quick a scratch --out)" in capsys.readouterr().err


def test_resume_refuses_a_file_of_another_benchmark_or_of_several_runs_folders(tmp_path, monkeypatch, capsys):
    import sys

    from benchmarks import ptbxl_distillation

    out = tmp_path / "r.json"
    monkeypatch.setattr(ptbxl_distillation, "run_cell", lambda *arguments: pytest.fail("a refused call trained"))
    argv = ["ptbxl_distillation", "--data", str(tmp_path), "--out", str(out), "--runs", "runs/a", "--resume"]
    monkeypatch.setattr(sys, "argv", argv)
    rows = [{"run": "runs/a/x_s0"}, {"run": "runs/b/x_s0"}]
    for runs, message in (("runs/a", "another benchmark's file"), (rows, "several folders (runs/a, runs/b)")):
        out.write_text(json.dumps({"setting": "ptbxl", "teacher_width": 0.5, "runs": runs}))
        monkeypatch.chdir(ptbxl_distillation.REPOSITORY)
        with pytest.raises(SystemExit):
            ptbxl_distillation.main()
        assert message in capsys.readouterr().err
