"""benchmarks.paired_rows: rows of two results files paired by seed on the same test records."""

import json

import numpy as np
import pytest

from benchmarks import paired_rows
from benchmarks.paired import macro_auroc, run_id


def results_file(folder, name, model, probabilities, labels, validation=0.9, runs=None):
    """A minimal ``ptbxl_distillation`` results file, one run per seed of ``probabilities`` (a
    ``{seed: (N, K)}`` dict), and its predictions file beside it; ``runs`` adds other run fields."""
    recorded, kept = [], {}
    for seed, values in probabilities.items():
        run = {"model": model, "leads": "12", "seed": seed, "fraction": 1.0, "teacher": "all", "commit": name}
        run.update(
            validation={"macro_auroc": validation},
            test={"macro_auroc": macro_auroc(labels, values) if values.shape == labels.shape else 0.5},
        )
        run.update((runs or {}).get(seed, {}))
        recorded.append(run)
        kept[run_id(run)] = values.tolist()
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"runs": recorded}))
    (folder / f"{name}_predictions.json").write_text(json.dumps({"labels": labels.tolist(), "runs": kept}))
    return f"{path}:{model}"


def scored_data(n=150, seed=0):
    """(N, 3) labels and ``scored(signal)``: probabilities that follow the labels more as ``signal`` grows."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 3)) < 0.4).astype(int)
    return labels, lambda signal: signal * labels + (1 - signal) * rng.random((n, 3))


def test_rows_pair_by_seed_identical_ones_differ_by_zero_and_the_gain_is_the_seeds_mean(tmp_path, capsys):
    labels, scored = scored_data()
    weak = {0: scored(0.05), 1: scored(0.3)}  # seed 1's reference is much stronger than seed 0's
    reference = results_file(tmp_path, "a", "teacher", weak, labels, validation=0.8)
    same = results_file(tmp_path, "b", "teacher", {**weak, 2: scored(0.5)}, labels)
    better = results_file(tmp_path, "c", "crops", {1: scored(0.5), 0: scored(0.5)}, labels)
    out = tmp_path / "out.json"
    paired_rows.main(["--against", reference, "--rows", same, better, "--out", str(out)])
    rows = {spec.rpartition(":")[2]: row for spec, row in json.loads(out.read_text())["rows"].items()}
    identical, gained = rows["teacher"], rows["crops"]
    with pytest.raises(SystemExit):  # no runs at another fraction
        paired_rows.main(["--against", reference, "--rows", same, "--fraction", "0.1", "--out", str(tmp_path / "x")])
    assert "at labelled fraction 0.1" in capsys.readouterr().err
    assert identical["paired_test_difference"] == [0.0, 0.0, 0.0] and identical["seeds"] == [0, 1]  # seed 2 unpaired
    assert (
        identical["means"]["validation"] == {"row": 0.9, "reference": 0.8} and identical["row"]["commits"] == ["b"] * 2
    )
    gains = [mine - theirs for mine, theirs in zip(gained["row"]["test"], gained["reference"]["test"])]
    difference, low, high = gained["paired_test_difference"]
    assert difference == pytest.approx(np.mean(gains)) and low < difference < high
    assert gains[0] > gains[1] > 0  # seed 0 paired with its own weak reference, not seed 1's
    content = out.read_bytes()
    with pytest.raises(SystemExit):  # an existing --out is never overwritten
        paired_rows.main(["--against", reference, "--rows", same, "--out", str(out)])
    assert out.read_bytes() == content


def test_leads_picks_one_lead_set_of_a_file_that_holds_several(tmp_path, capsys):
    labels, scored = scored_data()
    on_12, on_i = scored(0.1), scored(0.3)
    reference = results_file(tmp_path, "a", "student", {0: on_12, 1: on_i}, labels, runs={1: {"seed": 0, "leads": "I"}})
    row = results_file(tmp_path, "b", "student_kd", {0: scored(0.6)}, labels)  # on leads "12" only
    out = tmp_path / "out.json"
    with pytest.raises(SystemExit):  # the reference holds two lead sets
        paired_rows.main(["--against", reference, "--rows", row, "--out", str(out)])
    assert "one run per seed of one lead set" in capsys.readouterr().err and not out.exists()
    paired_rows.main(["--against", reference, "--rows", row, "--leads", "12", "--out", str(out)])
    found = json.loads(out.read_text())
    assert found["leads"] == "12"
    assert list(found["rows"].values())[0]["reference"]["test"] == [macro_auroc(labels, on_12)]
    with pytest.raises(SystemExit):
        paired_rows.main(["--against", reference, "--rows", row, "--leads", "I", "--out", str(tmp_path / "x.json")])
    assert "no runs of model 'student_kd' at labelled fraction 1 on leads I" in capsys.readouterr().err


@pytest.mark.parametrize(
    "problem, message",
    [
        ("no FILE", "expected FILE:MODEL"),
        ("missing file", "cannot read it"),
        ("missing predictions", "_predictions.json: cannot read it"),
        ("missing model", "no runs of model 'student' at labelled fraction 1"),
        ("two lead sets", "one run per seed of one lead set"),
        ("a seed twice", "one run per seed of one lead set"),
        ("run without scores", "lacks one of leads"),
        ("wrong shape", "of its labels' shape"),
        ("the reference spelt otherwise", "not the --against row"),
        ("no --out folder", "does not exist"),
        ("probabilities not kept", "has no kept test probabilities"),
        ("other test records", "other test records"),
        ("no common seed", "b.json:teacher: no seed in common"),
        ("the reference again", "not the --against row"),
    ],
)
def test_bad_rows_are_refused_before_anything_is_written(tmp_path, problem, message, capsys):
    labels, scored = scored_data(n=12)
    reference = results_file(tmp_path, "a", "teacher", {0: scored(0.5)}, labels)
    folder = tmp_path / "other"
    folder.mkdir()
    if problem == "no FILE":
        rows = "teacher"
    elif problem == "missing file":
        rows = str(tmp_path / "none.json:teacher")
    elif problem == "missing predictions":
        rows = results_file(folder, "b", "teacher", {0: scored(0.5)}, labels)
        (folder / "b_predictions.json").unlink()
    elif problem == "missing model":
        rows = reference.replace(":teacher", ":student")
    elif problem == "two lead sets":
        rows = results_file(folder, "b", "teacher", {0: scored(0.5), 1: scored(0.5)}, labels, runs={1: {"leads": "I"}})
    elif problem == "a seed twice":
        rows = results_file(folder, "b", "teacher", {0: scored(0.5), 1: scored(0.5)}, labels, runs={1: {"seed": 0}})
    elif problem == "run without scores":
        rows = results_file(folder, "b", "teacher", {0: scored(0.5)}, labels, runs={0: {"test": {}}})
    elif problem == "wrong shape":
        rows = results_file(folder, "b", "teacher", {0: scored(0.5)[:, :2]}, labels)
    elif problem == "the reference spelt otherwise":
        rows = reference.replace(str(tmp_path), str(tmp_path / "other" / ".."))
    elif problem == "probabilities not kept":
        rows = results_file(folder, "b", "teacher", {0: scored(0.5)}, labels)
        (folder / "b_predictions.json").write_text(json.dumps({"labels": labels.tolist(), "runs": {}}))
    elif problem == "other test records":
        rows = results_file(folder, "b", "teacher", {0: scored(0.5)}, labels[::-1])
    elif problem == "no common seed":
        rows = results_file(folder, "b", "teacher", {3: scored(0.5)}, labels)
    else:
        rows = reference
    out = tmp_path / ("none/out.json" if problem == "no --out folder" else "out.json")
    if problem == "no --out folder":
        rows = results_file(folder, "b", "teacher", {0: scored(0.5)}, labels)
    with pytest.raises(SystemExit):
        paired_rows.main(["--against", reference, "--rows", rows, "--out", str(out)])
    assert not out.exists() and message in capsys.readouterr().err
