"""``benchmarks.publish_ptbxl``: networks chosen on validation only; from a small benchmark to ``predict``."""

import json
import os
import subprocess
import sys

import pytest
from conftest import predict_csv

from benchmarks.publish_ptbxl import FILES, TEACHER, choose, in_published_order, kept_entries

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def results_with(rows):
    """Benchmark results holding ``rows`` of ``(model, teacher, leads, fraction, [(seed, validation, test)])``."""
    runs, summary = [], []
    for model, teacher, leads, fraction, seeds in rows:
        group = {"model": model, "teacher": teacher, "leads": leads, "fraction": fraction}
        for seed, validation, test in seeds:
            run = {**group, "seed": seed, "validation": {"macro_auroc": validation}, "test": {"macro_auroc": test}}
            runs.append({**run, "run": f"runs/x/{model}_{leads}_s{seed}", "params": 1})
        mean = sum(validation for _, validation, _ in seeds) / len(seeds)
        summary.append({**group, "validation_macro_auroc": mean, "macro_auroc": [0, 0], "runs": len(seeds)})
    every_seed = sorted({run["seed"] for run in runs})
    lead_sets = sorted({run["leads"] for run in runs if run["leads"] != "12"}, key=len)
    return {"runs": runs, "summary": summary, "seeds": every_seed, "lead_sets": lead_sets}


def test_the_rows_and_seeds_are_chosen_on_validation_even_when_test_disagrees():
    results = results_with(
        [
            ("teacher", "all", "12", 1.0, [(0, 0.90, 0.88), (1, 0.91, 0.86)]),
            ("teacher", "ensemble", "12", 1.0, [(0, 0.99, 0.99)]),  # not a trained teacher of one seed
            ("student", "none", "I", 1.0, [(0, 0.80, 0.90), (1, 0.80, 0.90)]),  # the best on test, not on validation
            ("student_kd", "all", "I", 1.0, [(0, 0.83, 0.80), (1, 0.81, 0.82)]),
            ("same_lead_ceiling", "none", "I", 1.0, [(0, 0.95, 0.95)]),  # not a student
            ("student_kd", "all", "I", 0.1, [(0, 0.97, 0.97), (1, 0.97, 0.97)]),  # another fraction
            ("student", "none", "I,II", 0.1, [(0, 0.84, 0.80), (1, 0.84, 0.80)]),
            ("student", "none", "I,II", 1.0, [(0, 0.84, 0.80), (1, 0.84, 0.80)]),
        ]
    )
    chosen = choose(results, fraction=1.0)
    assert set(chosen) == {TEACHER, "student_I", "student_I_II"}
    assert chosen[TEACHER]["row"]["teacher"] == "all" and chosen[TEACHER]["run"]["seed"] == 1
    assert chosen["student_I"]["row"]["model"] == "student_kd" and chosen["student_I"]["run"]["seed"] == 0
    assert {model for model, _, _ in chosen["student_I"]["candidates"]} == {"student", "student_kd"}
    assert choose(results, fraction=0.1)["student_I"]["row"]["fraction"] == 0.1
    assert set(choose(results, lead_sets=["I"])) == {TEACHER, "student_I"}  # a lead set still running is left out


def test_results_without_a_teacher_are_refused():
    with pytest.raises(ValueError, match="no teacher"):
        choose(results_with([("student", "none", "I", 1.0, [(0, 0.8, 0.8)])]))


@pytest.mark.slow  # three 1-epoch train.py runs, exports and predict: 4 min 26 s here beside a running benchmark
def test_publish_after_a_small_benchmark_writes_files_that_predict_reads(tmp_path, bundled):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    data, runs = "synthetic:n=240,seed=0", str(tmp_path / "runs")
    results = str(tmp_path / "results" / "ptbxl_distillation.json")
    os.makedirs(os.path.dirname(results))
    benchmark = [sys.executable, "-m", "benchmarks.ptbxl_distillation", "--data", data, "--quick"]
    benchmark += ["--runs", runs, "--out", results, "--teacher-width", "0.125", "--lead-sets", "I", "I,II"]
    finished = subprocess.run(benchmark, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert finished.returncode == 0, finished.stderr[-3000:]
    models, published = str(tmp_path / "models"), str(tmp_path / "results" / "ptbxl_published.json")
    publish = [sys.executable, "-m", "benchmarks.publish_ptbxl", "--data", data, "--results", results]
    publish += ["--runs", runs + "_quick", "--fraction", "0.1", "--models", models]
    publish += ["--staging", str(tmp_path / "staging"), "--results-dir", os.path.dirname(published)]
    finished = subprocess.run(publish, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert finished.returncode == 0, finished.stderr[-3000:]
    with open(published) as handle:
        entries = json.load(handle)["published"]
    assert set(entries) == {TEACHER, "student_I", "student_I_II"}
    with open(os.path.join(models, "MODEL_CARD.md")) as handle:
        assert "`student_I_II.tflite`" in handle.read()
    for name, entry in entries.items():
        for suffix in (".tflite", ".tflite.json", ".keras", ".keras.json"):
            assert os.path.getsize(os.path.join(models, name + suffix)) > 0
        with open(os.path.join(models, name + ".tflite.json")) as handle:
            sidecar = json.load(handle)
        assert sidecar["leads"] == entry["leads"] and len(sidecar["thresholds"]) == len(sidecar["classes"])
    assert len(entries[TEACHER]["leads"]) == 12 and entries["student_I_II"]["leads"] == ["I", "II"]
    rows = predict_csv(os.path.join(models, "student_I_II.tflite"), bundled("ptbxl"), str(tmp_path / "p.csv"))
    probabilities = [float(value) for row in rows for key, value in row.items() if key.startswith("p_")]
    assert len(rows) == 4 and len(probabilities) == 4 * len(sidecar["classes"])
    assert all(0 <= p <= 1 for p in probabilities)


def test_a_lead_set_whose_rows_lack_seeds_is_refused():
    results = results_with(
        [
            ("teacher", "all", "12", 1.0, [(0, 0.90, 0.88), (1, 0.91, 0.86)]),
            ("student", "none", "I", 1.0, [(0, 0.80, 0.90), (1, 0.80, 0.90)]),
            ("student_kd", "ensemble", "I,II", 1.0, [(0, 0.99, 0.99)]),  # one seed of two so far
        ]
    )
    with pytest.raises(ValueError, match="on I,II has all 2 seeds"):
        choose(results)


@pytest.mark.parametrize(
    "problem, message",
    [
        ("foreign file", "holds files publishing does not write"),
        ("missing run", "lacks the chosen"),
        ("earlier student", "holds published files this call would not replace (student_I_II_V2.tflite)"),
        ("unknown lead set", "--lead-sets: the benchmark has no students on V1"),
    ],
)
def test_publish_refuses_before_writing_anything(tmp_path, monkeypatch, capsys, problem, message):
    from benchmarks import publish_ptbxl

    students = [("student", "none", leads, 1.0, [(0, 0.8, 0.8)]) for leads in ("I", "I,II", "I,II,V2")]
    results = results_with([("teacher", "all", "12", 1.0, [(0, 0.9, 0.9)]), *students])
    results.update(command="x", commit="x", date="x", epochs=1, teacher_width=0.5)
    (tmp_path / "r.json").write_text(json.dumps(results))
    models, runs = tmp_path / "models", tmp_path / "runs" / "x"
    models.mkdir()
    runs.mkdir(parents=True)
    if problem == "foreign file":
        (models / "notes.txt").write_text("mine")
    if problem != "missing run":
        for run in results["runs"]:
            (runs / os.path.basename(run["run"])).mkdir()
    if problem == "earlier student":  # published before with every lead set; now only two
        (models / "student_I_II_V2.tflite").write_text("earlier")
    argv = ["publish_ptbxl", "--data", str(tmp_path), "--results", str(tmp_path / "r.json"), "--runs", str(runs)]
    argv += ["--models", str(models), "--results-dir", str(tmp_path), "--staging", str(tmp_path / "staging")]
    argv += {"earlier student": ["--lead-sets", "I", "I,II"], "unknown lead set": ["--lead-sets", "V1"]}.get(
        problem, []
    )
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(publish_ptbxl, "stage", lambda *a: pytest.fail("nothing is exported after a refusal"))
    with pytest.raises(SystemExit):
        publish_ptbxl.main()
    assert message in capsys.readouterr().err
    kept = {"foreign file": ["notes.txt"], "earlier student": ["student_I_II_V2.tflite"]}.get(problem, [])
    assert sorted(os.listdir(models)) == kept
    assert not (tmp_path / "ptbxl_published.json").exists() and not (tmp_path / "staging").exists()


KEPT_RESULTS = results_with(
    [
        ("teacher", "all", "12", 1.0, [(0, 0.90, 0.88)]),
        ("student", "none", "I", 1.0, [(0, 0.80, 0.80)]),
        ("student_mlkd", "all", "I", 1.0, [(0, 0.85, 0.79)]),
        ("student", "none", "I,II", 1.0, [(0, 0.86, 0.85)]),
    ]
)


def earlier_publication(tmp_path, names, fraction=1.0):
    """A ``ptbxl_published.json`` in ``tmp_path`` listing ``names`` (students chosen from ``KEPT_RESULTS``:
    ``student_I`` is its MLKD row), and a models folder holding their files."""
    models = tmp_path / "models"
    models.mkdir()
    for name in names:
        for suffix in FILES:
            (models / (name + suffix)).write_text("earlier")
    entries = {
        name: {
            "row": {"model": "student_mlkd", "teacher": "all", "leads": "I", "fraction": 1.0},
            "seed": 0,
            "run": "runs/x/student_mlkd_I_s0",
            "validation_macro_auroc": {"row_mean": 0.85, "seed": 0.85},
        }
        for name in names
    }
    made_by = {"command": "python -m benchmarks.publish_ptbxl --lead-sets I", "commit": "abc", "date": "2026-12-02"}
    content = {**made_by, "benchmark": {"commit": "def"}, "fraction": fraction, "published": entries}
    (tmp_path / "ptbxl_published.json").write_text(json.dumps(content))
    return models


def test_keep_published_keeps_the_students_this_call_does_not_choose_again(tmp_path):
    models = earlier_publication(tmp_path, ["student_I", "student_I_II"])
    kept = kept_entries(str(tmp_path), str(models), {TEACHER: {}, "student_I_II": {}}, KEPT_RESULTS, 1.0)
    assert list(kept) == ["student_I"]
    assert kept["student_I"]["published_by"] == {
        "command": "python -m benchmarks.publish_ptbxl --lead-sets I",
        "commit": "abc",
        "date": "2026-12-02",
        "benchmark": {"commit": "def"},
    }
    assert list(in_published_order({"student_I_II": 1, "student_I": 2, TEACHER: 3})) == [
        TEACHER,
        "student_I",
        "student_I_II",
    ]


@pytest.mark.parametrize(
    "problem, message",
    [
        ("nothing published", "nothing was published to keep"),
        ("missing file", "student_I is recorded as published but student_I.keras is missing"),
        ("other fraction", "chosen among 10% labels, this call among 100%"),
        ("changed file", "student_I's files in"),
        ("run gone", "no longer holds student_I's run"),
        ("another choice", r"now chooses student_kd \(teacher all, seed 0\) for student_I"),
        ("not a record", "is not a record of published networks"),
    ],
)
def test_keep_published_refuses_what_it_cannot_keep(tmp_path, problem, message):
    results = json.loads(json.dumps(KEPT_RESULTS))
    if problem == "nothing published":
        (tmp_path / "models").mkdir()
    else:
        earlier_publication(tmp_path, ["student_I"], fraction=0.1 if problem == "other fraction" else 1.0)
    record = tmp_path / "ptbxl_published.json"
    if problem == "missing file":
        (tmp_path / "models" / "student_I.keras").unlink()
    if problem == "changed file":
        content = json.loads(record.read_text())
        content["published"]["student_I"]["fingerprints"] = {".tflite": "0", ".keras": "0"}
        record.write_text(json.dumps(content))
    if problem == "run gone":
        results["runs"] = [run for run in results["runs"] if run["model"] != "student_mlkd"]
    if problem == "another choice":  # a row finished since, better on validation
        results = results_with(
            [
                ("teacher", "all", "12", 1.0, [(0, 0.90, 0.88)]),
                ("student_mlkd", "all", "I", 1.0, [(0, 0.85, 0.79)]),
                ("student_kd", "all", "I", 1.0, [(0, 0.87, 0.78)]),
            ]
        )
    if problem == "not a record":
        record.write_text(json.dumps({"published": {}}))
    with pytest.raises(ValueError, match=message):
        kept_entries(str(tmp_path), str(tmp_path / "models"), {TEACHER: {}}, results, 1.0)


def test_the_published_networks_are_rebuilt_with_the_recipe_of_their_benchmark():
    from benchmarks.publish_ptbxl import benchmark_cells

    recorded = {"seeds": [0], "fractions": [0.1], "lead_sets": ["I"]}
    crops = benchmark_cells({**recorded, "teacher_recipe": "crops-averaged"})["teacher_all_1_s0"]
    whole = benchmark_cells(recorded)["teacher_all_1_s0"]  # a file made before recipes were recorded
    assert crops.flags == whole.flags + ("--window-seconds", "2.5", "--weight-average", "0.99")
