"""The AF screen: its threshold against hand-computed cases, its place in the sidecar, in ``predict``'s CSV, in
``install`` and in ``benchmarks.af_external``."""

import json
import os
import shutil

import numpy as np
import pytest
from conftest import predict_csv

from benchmarks.af_screen import choose_screen, screen_threshold
from lrhnet.predict import Predictor
from lrhnet.sidecar import SidecarError, check_sidecar

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = os.path.join(ROOT, "models", "cinc2017")
CLASSES = ["N", "A", "O", "~"]


def copy_unscreened(names, folder):
    """Copy committed files of ``models/cinc2017`` into ``folder``, their sidecars without a screen."""
    for name in names:
        shutil.copyfile(os.path.join(MODELS, name), os.path.join(folder, name))
        if name.endswith(".json"):
            with open(os.path.join(MODELS, name)) as handle:
                sidecar = json.load(handle)
            sidecar.pop("screen", None)
            with open(os.path.join(folder, name), "w") as handle:
                json.dump(sidecar, handle, indent=1)


def test_the_threshold_lies_halfway_across_the_lowest_gap_that_keeps_the_specificity():
    positive = [True, True, True, False, False, False, False]
    scores = [0.9, 0.6, 0.3, 0.05, 0.1, 0.2, 0.5]
    # three negatives of four below (0.75): above 0.2, the next score is 0.3; two (0.5): above 0.1, then 0.2
    assert screen_threshold(positive, scores, 0.75) == pytest.approx(0.25)
    assert screen_threshold(positive, scores, 0.5) == pytest.approx(0.15)
    assert screen_threshold(positive, scores, 1.0) == pytest.approx(0.55)  # every negative below: 0.5 < t < 0.6
    # int8 outputs tie: a negative sharing the positives' score is called with them
    assert screen_threshold([True, False, True, False, False], [0.5, 0.5, 0.5, 0.25, 0.25], 0.6) == 0.375
    # 0.55 of 100 negatives is 55, though 0.55 * 100 is 55.00000000000001 in floating point
    negatives = [i / 1000 for i in range(100)]
    assert screen_threshold([False] * 100 + [True], [*negatives, 0.5], 0.55) == pytest.approx(0.0545)
    assert screen_threshold([True, False, False, False], [0.9, 0.1, 0.2, 0.3], 1e-12) == pytest.approx(0.15)


@pytest.mark.parametrize(
    "positive, scores, specificity, message",
    [
        ([True, True], [0.1, 0.2], 0.9, "positive and negative records"),
        ([False, False], [0.1, 0.2], 0.9, "positive and negative records"),
        ([True, False], [0.1, float("nan")], 0.9, "finite"),
        ([True, False], [0.1, 0.2, 0.3], 0.9, r"two \(N,\) arrays"),
        ([True, False], [0.1, 0.2], 0.0, "min_specificity"),
        ([True, False, False], [0.8, 0.8, 0.1], 1.0, "would call no record"),  # a negative at the top score
        ([True, False, True, False, False], [0.5, 0.5, 0.5, 0.25, 0.25], 1.0, "would call no record"),
    ],
)
def test_bad_screen_inputs_are_refused(positive, scores, specificity, message):
    with pytest.raises(ValueError, match=message):
        screen_threshold(positive, scores, specificity)


def split(p_af, classes):
    """(probabilities, one-hot labels) of records with these ``p_A`` and true classes."""
    probabilities = np.array([[1 - p, p, 0, 0] for p in p_af])
    return probabilities, np.eye(4)[[CLASSES.index(name) for name in classes]]


def test_the_screen_is_chosen_on_validation_and_only_scored_on_test():
    validation = split([0.9, 0.4, 0.1, 0.2, 0.3, 0.05], ["A", "A", "N", "O", "~", "N"])
    entry, figures = choose_screen({"validation": validation, "test": validation}, CLASSES, min_specificity=0.75)
    threshold = entry["threshold"]
    assert threshold == figures["threshold"] == pytest.approx(0.25) and entry["class"] == "A"
    # test records would pull the threshold anywhere if they chose it; one A scores exactly the threshold
    test = split([0.35, 0.2, threshold, 0.99, 0.99], ["A", "A", "A", "N", "N"])
    entry, figures = choose_screen({"validation": validation, "test": test}, CLASSES, min_specificity=0.75)
    assert entry["threshold"] == threshold and figures["min_specificity"] == 0.75 and "0.75" in entry["rule"]
    assert figures["validation"]["sensitivity"]["count"] == [2, 2]
    assert figures["validation"]["specificity"]["count"] == [3, 4]
    assert figures["test"]["sensitivity"]["count"] == [2, 3]  # at or above the threshold: called
    assert figures["test"]["specificity"]["count"] == [0, 2]


@pytest.mark.parametrize(
    "validation, classes, message",
    [
        (split([0.9, 0.1], ["N", "O"]), CLASSES, "all other than A"),
        (split([0.9, 0.1], ["A", "A"]), CLASSES, "all A"),
        (split([0.1, 0.05, 0.2, 0.9, 0.3], ["A", "N", "N", "N", "N"]), CLASSES, "calls none of the validation A"),
        (split([0.9, 0.1], ["A", "N"]), ["N", "X", "O", "~"], "needs class 'A'"),
    ],
)
def test_a_screen_that_validation_cannot_choose_is_refused(validation, classes, message):
    with pytest.raises(ValueError, match=message):
        choose_screen({"validation": validation, "test": validation}, classes, min_specificity=0.5)


def test_the_sidecar_checks_its_screen():
    with open(os.path.join(MODELS, "lrhnet_int8.tflite.json")) as handle:
        sidecar = json.load(handle)
    check_sidecar({**sidecar, "screen": {"class": "A", "threshold": 0.2, "rule": "any words"}})
    check_sidecar({**sidecar, "screen": None})
    for screen in (
        {"class": "B", "threshold": 0.2},
        {"class": "A", "threshold": "0.2"},
        {"class": "A"},
        [0.2],
        {"class": "A", "threshold": 1.5},  # never fires
        {"class": "A", "threshold": 0},  # always fires
        {"class": "A", "threshold": 10**400},
        {"class": "A", "threshold": 0.2, "rule": 5},
        {"class": "A", "threshold": True},
    ):
        with pytest.raises(SidecarError, match="'screen'"):
            check_sidecar({**sidecar, "screen": screen})


def test_predict_writes_the_screen_column_of_a_sidecar_that_has_one(bundled, tmp_path):
    copy_unscreened(("lrhnet_int8.tflite", "lrhnet_int8.tflite.json", "labels.txt"), tmp_path)
    model = str(tmp_path / "lrhnet_int8.tflite")
    plain = predict_csv(model, bundled("cinc2017"), str(tmp_path / "plain.csv"))
    assert "screen_A" not in plain[0]
    p_af = sorted(float(row["p_A"]) for row in plain)
    threshold = (p_af[1] + p_af[2]) / 2  # two records above, two below
    sidecar = json.loads((tmp_path / "lrhnet_int8.tflite.json").read_text())
    (tmp_path / "lrhnet_int8.tflite.json").write_text(
        json.dumps({**sidecar, "screen": {"class": "A", "threshold": threshold}})
    )
    screened = predict_csv(model, bundled("cinc2017"), str(tmp_path / "screened.csv"))
    assert predict_csv(model, bundled("cinc2017"), str(tmp_path / "screened.csv")) == screened  # its own file: replaced
    with pytest.raises(SidecarError, match="'screen'"):
        Predictor(model, sidecar={**sidecar, "screen": {"class": "A", "threshold": 2}})
    assert [row["screen_A"] for row in screened] == [str(int(float(row["p_A"]) >= threshold)) for row in plain]
    assert sorted(row["screen_A"] for row in screened) == ["0", "0", "1", "1"]
    assert [row["labels"] for row in screened] == [row["labels"] for row in plain]  # the decision rule is untouched


def test_install_adds_the_screens_it_is_given_and_leaves_the_sidecar_as_it_is_otherwise(tmp_path):
    from benchmarks.published_files import install

    source = tmp_path / "run"
    source.mkdir()
    copy_unscreened(("lrhnet_int8.tflite", "lrhnet_int8.tflite.json", "labels.txt", "lrhnet.keras"), source)
    files = (str(source / "lrhnet_int8.tflite"), str(source / "lrhnet.keras"))
    install(*files, str(tmp_path / "plain"), "a_int8.tflite", "a.keras", [1, 0.5, 1, 1])
    plain = tmp_path / "plain"
    assert (plain / "a_int8.tflite.json").read_text() == (source / "lrhnet_int8.tflite.json").read_text()
    keras = json.loads((plain / "a.keras.json").read_text())
    assert keras["thresholds"] == [1, 0.5, 1, 1] and "int8_calibration" not in keras and "screen" not in keras
    for bad, message in (
        ({"b.keras": {"class": "A", "threshold": 0.2}}, "only a_int8.tflite and a.keras"),
        ({"a.keras": {"class": "A", "threshold": 2}}, "'screen'"),
    ):
        with pytest.raises(ValueError, match=message):
            install(*files, str(tmp_path / "refused"), "a_int8.tflite", "a.keras", [1, 0.5, 1, 1], bad)
        assert not (tmp_path / "refused").exists()  # refused before the first copy
    screens = {"a_int8.tflite": {"class": "A", "threshold": 0.2}, "a.keras": {"class": "A", "threshold": 0.3}}
    install(*files, str(tmp_path / "screened"), "a_int8.tflite", "a.keras", [1, 0.5, 1, 1], screens)
    for name, threshold in (("a_int8.tflite", 0.2), ("a.keras", 0.3)):
        assert Predictor(str(tmp_path / "screened" / name)).sidecar["screen"]["threshold"] == threshold


def test_af_external_scores_the_screen_each_file_ships_with(bundled, tmp_path, capsys):
    from benchmarks.af_external import main
    from data_utils.readers import open_dataset

    models = tmp_path / "models"
    models.mkdir()
    for name in ("liteheart_int8.tflite", "liteheart_int8.tflite.json", "labels.txt"):
        shutil.copyfile(os.path.join(MODELS, name), models / name)
    predictor = Predictor(str(models / "liteheart_int8.tflite"))
    dataset = open_dataset(bundled("ptbxl_af"), format="ptbxl", label_set="all")
    p_af = {dataset.refs[i].record_id: predictor.predict(record)[1] for i, record in dataset.iter_records()}
    sidecar = json.loads((models / "liteheart_int8.tflite.json").read_text())
    # 152 has AF, 1 neither AF nor flutter, 18 flutter alone; a threshold at a record's p_A calls it (>=)
    for threshold in sorted({min(1.0, max(p, 1e-6)) for p in p_af.values()} | {1.0}):
        (models / "liteheart_int8.tflite.json").write_text(
            json.dumps({**sidecar, "screen": {"class": "A", "threshold": threshold}})
        )
        out = tmp_path / f"af_{threshold}.json"
        assert main(["--data", bundled("ptbxl_af"), "--models", str(models), "--out", str(out)]) == 0
        screen = json.loads(out.read_text())["files"]["liteheart_int8.tflite"]["screen"]
        called = {key: int(p >= threshold) for key, p in p_af.items()}
        assert screen["threshold"] == threshold
        assert screen["sensitivity"]["count"] == [called["152"], 1]
        assert screen["specificity"]["count"] == [1 - called["1"], 1]
        assert screen["flutter_called_af"]["count"] == [called["18"], 1]
    other = {**sidecar, "screen": {"class": "O", "threshold": 1}}
    (models / "liteheart_int8.tflite.json").write_text(json.dumps(other))
    with pytest.raises(SystemExit):
        main(["--data", bundled("ptbxl_af"), "--models", str(models), "--out", str(tmp_path / "o.json")])
    assert "its sidecar's screen calls 'O', not 'A'" in capsys.readouterr().err


def test_the_card_shows_each_files_screen_and_which_rule_reaches_the_aim():
    from benchmarks.af_external import proportion
    from benchmarks.model_card import model_card, read_reports

    results = os.path.join(ROOT, "benchmarks", "results")
    reports = read_reports(results)
    figures = {
        "threshold": 0.1234,
        "min_specificity": 0.95,
        "validation": {"sensitivity": proportion(55, 59), "specificity": proportion(593, 624)},
        "test": {"sensitivity": proportion(51, 59), "specificity": proportion(590, 623)},
    }
    for method, report in reports.items():
        report["af_screen"] = {f"{method}_int8.tflite": figures}
    with open(os.path.join(results, "cinc2017_af_ptbxl.json")) as handle:
        external = json.load(handle)
    name, scores = next(iter(external["files"].items()))
    scores["screen"] = {
        "threshold": 0.1234,
        "sensitivity": proportion(200, 226),
        "specificity": proportion(2900, 3213),
        "flutter_called_af": proportion(3, 12),
    }
    card = model_card(reports, external)
    assert "## AF screen" in card and "`screen_A` where the sidecar holds the AF screen below" in card
    assert "for a specificity of at least 0.95" in card and "have no screen" not in card
    assert "| `lrhnet_int8.tflite` | 0.123 | 0.932 | 0.950 | 0.864 (51/59) [0.75, 0.93] | 0.947 (590/623)" in card
    assert f"| `{name}` | AF screen: p_A ≥ 0.123 | 0.885 (200/226) [0.84, 0.92] | 0.903 (2900/3213)" in card
    assert f"`{name}` (its AF screen)" in card
    del reports["lrhnet"]["af_screen"]  # one method republished since the screen, the other not
    card = model_card(reports, external)
    assert "The files of `lrhnet` have no screen." in card
    assert "| `liteheart_int8.tflite` | 0.123 |" in card and "| `lrhnet_int8.tflite` | 0.123 |" not in card
    del reports["liteheart"]["af_screen"]
    assert "## AF screen" not in model_card(reports, external)


def test_the_readme_table_shows_every_seed_and_the_screens_of_the_published_files(tmp_path):
    from benchmarks.af_external import proportion
    from benchmarks.tables import published

    kept = os.path.join(ROOT, "benchmarks", "results", "cinc2017_seeds")
    for method in ("lrhnet", "liteheart"):
        rows = []
        for seed in (0, 1):
            with open(os.path.join(kept, f"{method}_s{seed}", "report.json")) as handle:
                report = json.load(handle)
            student = report["models"][report["models"]["student_int8"]["from"]]
            int8 = next(export for export in report["exports"] if export["kind"] == "int8")
            test = (student["test"]["cinc2017_f1"], int8["test"]["cinc2017_f1"])
            rows.append({"seed": seed, "deployed": "x", "validation": 0.8 + seed / 100, "test_float": test[0]})
            rows[-1]["test_int8"] = test[1]
        report.update(published={"command": "python -m benchmarks.publish_cinc2017", "commit": "c", "date": "2026"})
        report["published_seeds"] = {"chosen": 1, "rows": rows}
        if method == "liteheart":
            figures = {"sensitivity": proportion(50, 59), "specificity": proportion(600, 623)}
            report["af_screen"] = {
                "liteheart_int8.tflite": {
                    "threshold": 0.07,
                    "min_specificity": 0.95,
                    "validation": figures,
                    "test": figures,
                }
            }
        (tmp_path / f"cinc2017_published_{method}.json").write_text(json.dumps(report))
    table = "\n".join(published(str(tmp_path)))
    assert "`lrhnet` over 2 seeds (0, 1), one split; the published file is seed 1's" in table
    assert "| `liteheart_int8.tflite` | 0.070 | 0.847 | 0.963 | 0.847 (50/59)" in table
    assert "The files of `lrhnet` have no screen." in table and "## AF screen" not in table
