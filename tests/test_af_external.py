"""``benchmarks.af_external``: AF screening figures against hand-computed cases, the run on bundled PTB-XL
records, its refusal to replace foreign files, and the committed results naming the committed files."""

import json
import os
import shutil

import pytest

from benchmarks.af_external import af_group, af_scores, main, wilson_interval
from benchmarks.published_files import fingerprint, model_files
from data_utils.readers import open_dataset
from lrhnet.predict import Predictor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = os.path.join(ROOT, "models", "cinc2017")
RESULTS = os.path.join(ROOT, "benchmarks", "results", "cinc2017_af_ptbxl.json")


def test_wilson_interval_matches_the_textbook_values():
    # 8 of 10 at 95 %: p = 0.8, centre (0.8 + 1.92/10) / 1.384, half-width 1.96 / 1.384 * sqrt(0.016 + 0.0096)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 5)[0] == pytest.approx(0.0, abs=1e-12) and wilson_interval(5, 5)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == [None, None]


def test_af_scores_count_the_decision_rule_and_rank_af_against_negatives_only():
    groups = ["af", "af", "negative", "negative", "flutter", "negative"]
    p_af = [0.9, 0.4, 0.3, 0.1, 0.95, 0.5]
    called = [True, False, False, True, True, False]
    scores = af_scores(groups, p_af, called)
    assert scores["sensitivity"]["count"] == [1, 2] and scores["sensitivity"]["value"] == 0.5
    assert scores["specificity"]["count"] == [2, 3] and scores["specificity"]["value"] == pytest.approx(2 / 3)
    # AF {0.9, 0.4} against negatives {0.3, 0.1, 0.5}: 5 of the 6 pairs ranked right (0.4 < 0.5); flutter left out
    assert scores["auroc"] == pytest.approx(5 / 6)
    assert scores["flutter_called_af"]["count"] == [1, 1]


def test_af_group_puts_fibrillation_before_flutter():
    assert af_group(("AFLT", "AFIB")) == "af"
    assert af_group(("AFLT", "ABQRS")) == "flutter"
    assert af_group(("NORM", "SR")) == "negative"


def test_run_on_bundled_records_matches_predict_file_by_file(bundled, tmp_path):
    out = tmp_path / "af.json"
    assert main(["--data", bundled("ptbxl_af"), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["data"] | {"folder": None} == {
        "folder": None,
        "records": 3,
        "skipped": 0,
        "af": 1,
        "flutter": 1,
        "negative": 1,
    }
    assert sorted(result["files"]) == sorted(os.path.basename(path) for path in model_files(MODELS))
    dataset = open_dataset(bundled("ptbxl_af"), format="ptbxl", label_set="all")
    records = {dataset.refs[i].record_id: record for i, record in dataset.iter_records()}
    for name, scores in result["files"].items():
        predictor = Predictor(os.path.join(MODELS, name))
        said_af = {key: predictor.decide(predictor.predict(record)) == ["A"] for key, record in records.items()}
        assert scores["sensitivity"]["count"] == [int(said_af["152"]), 1]
        assert scores["specificity"]["count"] == [int(not said_af["1"]), 1]
        assert scores["flutter_called_af"]["count"] == [int(said_af["18"]), 1]
        assert scores["fingerprint"] == fingerprint(os.path.join(MODELS, name))
        assert scores["thresholds"] == predictor.sidecar["thresholds"]


@pytest.mark.parametrize("content", ["my notes\n", '{"benchmark": "training_speed"}'])
def test_a_file_it_did_not_write_is_left_as_it_is(bundled, tmp_path, content, capsys):
    out = tmp_path / "mine.json"
    out.write_text(content)
    with pytest.raises(SystemExit):
        main(["--data", bundled("ptbxl_af"), "--out", str(out)])
    assert out.read_text() == content
    assert "not a results file of this benchmark" in capsys.readouterr().err


def test_a_record_of_likelihood_zero_counts(bundled):
    # ecg_id 152 carries {'AFIB': 0.0, ...} in ptbxl_database.csv: the statement counts, whatever its likelihood
    dataset = open_dataset(bundled("ptbxl_af"), format="ptbxl", label_set="all")
    assert {ref.record_id: af_group(ref.labels) for ref in dataset.refs} == {
        "1": "negative",
        "18": "flutter",
        "152": "af",
    }


def test_a_quick_run_never_replaces_a_full_one(bundled, tmp_path, capsys):
    out = tmp_path / "af.json"
    out.write_text(json.dumps({"benchmark": "af_external", "quick": False}))
    with pytest.raises(SystemExit):
        main(["--data", bundled("ptbxl_af"), "--out", str(out), "--quick"])
    assert "holds a full run's results" in capsys.readouterr().err
    assert json.loads(out.read_text()) == {"benchmark": "af_external", "quick": False}


def test_bad_arguments_are_refused_before_anything_is_read(tmp_path, capsys):
    data, empty, out = tmp_path / "data", tmp_path / "empty", tmp_path / "af.json"
    data.mkdir()
    empty.mkdir()
    for argv, message in (
        (["--data", str(data), "--out", str(tmp_path / "af.csv")], "--out must name a .json file"),
        (["--data", str(data), "--models", str(empty), "--out", str(out)], "no .tflite or .keras file with a .json"),
        (["--data", str(tmp_path / "absent"), "--out", str(out)], "absent: not a folder"),
        (["--data", str(data), "--out", str(data / "af.json")], "lies inside the data folder"),
    ):
        with pytest.raises(SystemExit):
            main(argv)
        assert message in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["data", "empty"] and not os.listdir(data)


def test_committed_results_measured_the_committed_files():
    with open(RESULTS) as handle:
        result = json.load(handle)
    assert result["data"]["af"] > 100, "the committed figures come from the PTB-XL set, not the bundled records"
    assert not result["quick"] and not result["code_changed"]
    assert sorted(result["files"]) == sorted(os.path.basename(path) for path in model_files(MODELS))
    for name, scores in result["files"].items():
        assert scores["fingerprint"] == fingerprint(os.path.join(MODELS, name)), f"{name} changed since it was measured"


def test_card_leaves_out_figures_of_files_that_changed_since(tmp_path):
    from benchmarks.model_card import external_section, read_external

    results = os.path.dirname(RESULTS)
    for name in os.listdir(MODELS):
        shutil.copyfile(os.path.join(MODELS, name), tmp_path / name)
    with open(RESULTS) as handle:
        assert read_external(results, str(tmp_path))["files"].keys() == json.load(handle)["files"].keys()
    sidecar = json.loads((tmp_path / "lrhnet_int8.tflite.json").read_text())
    (tmp_path / "lrhnet_int8.tflite.json").write_text(json.dumps({**sidecar, "thresholds": [1, 0.5, 1, 1]}))
    assert read_external(results, str(tmp_path)) is None  # a new decision rule, same network
    (tmp_path / "lrhnet_int8.tflite.json").write_text(json.dumps(sidecar))
    shutil.copyfile(tmp_path / "lrhnet_int8.tflite", tmp_path / "extra_int8.tflite")
    shutil.copyfile(tmp_path / "lrhnet_int8.tflite.json", tmp_path / "extra_int8.tflite.json")
    assert read_external(results, str(tmp_path)) is None  # a file published since, never measured
    assert "Not measured for these files yet" in "\n".join(external_section(None))
