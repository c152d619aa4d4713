"""benchmarks.paired_rows: rows of two results files paired by seed on the same test records."""

import json

import numpy as np
import pytest

from benchmarks import paired_rows


def results_file(folder, name, model, seeds, probabilities, labels, validation=0.9):
    """A minimal ``ptbxl_distillation`` results file and its predictions beside it."""
    runs, kept = [], {}
    for seed in seeds:
        run = {"model": model, "leads": "12", "seed": seed, "fraction": 1.0, "teacher": "all"}
        run.update(validation={"macro_auroc": validation}, test={"macro_auroc": 0.8})
        runs.append(run)
        kept[f"{model}/12/{seed}/1.0/all"] = probabilities.tolist()
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"runs": runs, "cpu": {"model": "cpu " + name}, "commit": "abc"}))
    (folder / f"{name}_predictions.json").write_text(json.dumps({"labels": labels.tolist(), "runs": kept}))
    return f"{path}:{model}"


def test_identical_predictions_differ_by_zero_and_better_ones_gain(tmp_path):
    rng = np.random.default_rng(0)
    labels = (rng.random((120, 3)) < 0.4).astype(int)
    noise = rng.random((120, 3))
    good, poor = 0.7 * labels + 0.3 * noise, 0.1 * labels + 0.9 * noise
    reference = results_file(tmp_path, "a", "teacher", [0, 1], poor, labels, validation=0.8)
    same = results_file(tmp_path, "b", "teacher", [0, 1, 2], poor, labels)
    better = results_file(tmp_path, "c", "teacher_crops", [1], good, labels)
    out = tmp_path / "out.json"
    paired_rows.main(["--against", reference, "--rows", same, better, "--out", str(out)])
    written = json.loads(out.read_text())
    assert written["rows"][same]["paired_test_difference"] == [0.0, 0.0, 0.0]
    assert written["rows"][same]["seeds"] == [0, 1]  # seed 2 has no reference
    assert written["rows"][same]["means"]["validation"] == {"row": 0.9, "reference": 0.8}
    difference, low, high = written["rows"][better]["paired_test_difference"]
    assert 0 < low < difference < high and written["trained"][better]["cpu"] == "cpu c"
    with pytest.raises(SystemExit):  # an existing --out is never overwritten
        paired_rows.main(["--against", reference, "--rows", same, "--out", str(out)])


@pytest.mark.parametrize("problem", ["missing model", "other test records", "no FILE"])
def test_bad_rows_are_refused_before_writing(tmp_path, problem, capsys):
    labels = np.eye(3, dtype=int)[[0, 1, 2, 0, 1, 2]]
    reference = results_file(tmp_path, "a", "teacher", [0], labels * 0.5, labels)
    other_labels = labels[::-1]
    rows = {
        "missing model": reference.replace(":teacher", ":student"),
        "other test records": results_file(tmp_path, "b", "teacher", [0], labels * 0.5, other_labels),
        "no FILE": "teacher",
    }[problem]
    out = tmp_path / "out.json"
    with pytest.raises(SystemExit):
        paired_rows.main(["--against", reference, "--rows", rows, "--out", str(out)])
    assert not out.exists()
    assert {"missing model": "no runs of model", "other test records": "other test records", "no FILE": "FILE:MODEL"}[
        problem
    ] in capsys.readouterr().err
