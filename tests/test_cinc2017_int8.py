"""``benchmarks.cinc2017_int8``: its summary against hand-computed figures, the kept run's flags read
back with another data folder, and refusals before anything is written."""

import json
import os
import shutil
import sys

import pytest

from benchmarks.cinc2017_int8 import main, run_arguments, summary

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
KEPT = os.path.join(ROOT, "benchmarks", "results", "cinc2017_seeds")


def row(float_, qat, ptq):
    """A results row from ``(validation, test)`` pairs."""
    return {
        kind: dict(zip(("validation", "test"), pair)) for kind, pair in zip(("float", "qat", "ptq"), (float_, qat, ptq))
    }


def test_summary_means_and_worst_losses_by_hand():
    rows = [row((0.80, 0.70), (0.78, 0.72), (0.79, 0.69)), row((0.90, 0.80), (0.86, 0.78), (0.90, 0.81))]
    out = summary(rows)
    assert out["float"] == pytest.approx({"validation": 0.85, "test": 0.75})
    # qat losses: validation 0.02 and 0.04, test -0.02 and 0.02
    assert out["qat"] == pytest.approx(
        {
            "validation": 0.82,
            "test": 0.75,
            "validation_loss": 0.03,
            "validation_worst_loss": 0.04,
            "test_loss": 0.0,
            "test_worst_loss": 0.02,
        }
    )
    # ptq losses: validation 0.01 and 0.00, test 0.01 and -0.01
    assert out["ptq"] == pytest.approx(
        {
            "validation": 0.845,
            "test": 0.75,
            "validation_loss": 0.005,
            "validation_worst_loss": 0.01,
            "test_loss": 0.0,
            "test_worst_loss": 0.01,
        }
    )


@pytest.mark.parametrize("method", ["lrhnet", "liteheart"])
def test_the_kept_runs_flags_are_read_back_on_another_data_folder(method, tmp_path):
    with open(os.path.join(KEPT, f"{method}_s0", "report.json")) as handle:
        report = json.load(handle)
    args = run_arguments(report, str(tmp_path))
    assert args.data == f"cinc2017:{tmp_path}"
    assert (args.seed, args.split_seed, args.method, args.quantize) == (0, 0, method, "qat")
    assert args.augment_invert == report["config"]["augment_invert"]


def run_main(monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", ["cinc2017_int8", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code


def test_an_existing_out_is_refused_and_kept(tmp_path, monkeypatch, capsys):
    out = tmp_path / "earlier.json"
    out.write_text("earlier results")
    assert run_main(monkeypatch, "--data", str(tmp_path), "--out", str(out)) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_text() == "earlier results"


def test_a_data_folder_that_does_not_exist_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "int8.json"
    assert run_main(monkeypatch, "--data", str(tmp_path / "absent"), "--out", str(out)) == 2
    assert "not a folder" in capsys.readouterr().err
    assert not out.exists()


def test_a_kept_folder_without_runs_of_a_method_is_refused_before_writing(tmp_path, monkeypatch, capsys):
    kept = tmp_path / "kept"
    kept.mkdir()
    shutil.copytree(os.path.join(KEPT, "lrhnet_s0"), kept / "lrhnet_s0")
    out = tmp_path / "int8.json"
    assert run_main(monkeypatch, "--data", str(tmp_path), "--out", str(out), "--kept", str(kept)) == 2
    assert "liteheart" in capsys.readouterr().err
    assert not out.exists()
