"""``benchmarks.cinc2017_int8``: its summary against hand-computed figures, the kept run's flags read
back with another data folder, and refusals before anything is written."""

import json
import os
import shutil
import sys

import pytest

from benchmarks.cinc2017_int8 import chosen_kind, int8_row, main, run_arguments, summary

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


def test_validation_alone_chooses_the_way_to_int8():
    rows = [row((0.80, 0.70), (0.78, 0.72), (0.79, 0.60)), row((0.90, 0.80), (0.86, 0.78), (0.90, 0.70))]
    assert chosen_kind(summary(rows)) == "ptq"  # validation losses 0.005 against 0.03; test favours QAT
    rows = [row((0.80, 0.70), (0.79, 0.60), (0.79, 0.72))]
    assert chosen_kind(summary(rows)) == "qat"  # a tie on validation keeps QAT


def test_the_results_file_records_the_way_validation_chose(tmp_path, monkeypatch):
    import benchmarks.cinc2017_int8 as benchmark

    kept = kept_copy(tmp_path, "liteheart_s0")
    figures = row((0.88, 0.83), (0.87, 0.84), (0.879, 0.81))  # ptq loses less on validation, more on test
    monkeypatch.setattr(benchmark, "int8_row", lambda folder, data, scratch: {"seed": 0, **figures})
    out = tmp_path / "int8.json"
    argv = ["--data", data_folder(tmp_path), "--out", str(out), "--kept", str(kept), "--methods", "liteheart"]
    monkeypatch.setattr(sys, "argv", ["cinc2017_int8", *argv])
    benchmark.main()
    assert json.loads(out.read_text())["methods"]["liteheart"]["chosen"] == "ptq"


@pytest.mark.parametrize("method", ["lrhnet", "liteheart"])
def test_the_kept_runs_flags_are_read_back_on_another_data_folder(method, tmp_path):
    with open(os.path.join(KEPT, f"{method}_s0", "report.json")) as handle:
        report = json.load(handle)
    args = run_arguments(report, str(tmp_path))
    assert args.data == f"cinc2017:{tmp_path}"
    assert (args.seed, args.split_seed, args.method) == (0, 0, method)
    assert args.quantize == report["config"]["quantize"] == report["models"]["student_int8"]["quantization"]
    assert args.augment_invert == report["config"]["augment_invert"]


def run_main(monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", ["cinc2017_int8", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code


def test_an_existing_file_of_another_kind_is_refused_and_kept(tmp_path, monkeypatch, capsys):
    out = tmp_path / "earlier.json"
    out.write_text('{"benchmark": "decision_rule"}')
    assert run_main(monkeypatch, "--data", data_folder(tmp_path), "--out", str(out)) == 2
    assert "not a results file of this benchmark" in capsys.readouterr().err
    assert out.read_text() == '{"benchmark": "decision_rule"}'


def test_a_data_folder_that_does_not_exist_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "int8.json"
    assert run_main(monkeypatch, "--data", str(tmp_path / "absent"), "--out", str(out)) == 2
    assert "not a folder" in capsys.readouterr().err
    assert not out.exists()


def kept_copy(tmp_path, *names):
    kept = tmp_path / "kept"
    kept.mkdir()
    for name in names:
        shutil.copytree(os.path.join(KEPT, name), kept / name)
    return kept


def test_a_kept_folder_without_runs_of_a_method_is_refused_before_writing(tmp_path, monkeypatch, capsys):
    kept = kept_copy(tmp_path, "liteheart_s0")
    out = tmp_path / "int8.json"
    assert run_main(monkeypatch, "--data", data_folder(tmp_path), "--out", str(out), "--kept", str(kept)) == 2
    assert "no kept run of lrhnet" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("lost", ["split.json", "models/liteheart.keras"])
def test_a_kept_run_missing_a_file_is_refused_before_any_work(lost, tmp_path, monkeypatch, capsys):
    kept = kept_copy(tmp_path, "liteheart_s0")  # a QAT run (the published LRH-Net runs are kept with PTQ)
    os.remove(kept / "liteheart_s0" / lost)
    out = tmp_path / "int8.json"
    argv = ("--data", data_folder(tmp_path), "--out", str(out), "--kept", str(kept), "--methods", "liteheart")
    assert run_main(monkeypatch, *argv) == 2
    assert "liteheart_s0 lacks" in capsys.readouterr().err
    assert not out.exists()


def data_folder(tmp_path):
    """An empty folder standing for the data (outside which --out lies)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    return str(tmp_path / "data")


class FakeContext:
    run = None


def fake_context(split):
    """A ``build_context`` that gives ``split`` (record names per split) and records nothing else."""
    return lambda args: (FakeContext(), {"split_names": split})


def test_data_that_does_not_give_the_runs_split_is_refused_before_writing(tmp_path, monkeypatch, capsys):
    import kdpipeline.runner

    with open(os.path.join(KEPT, "liteheart_s0", "split.json")) as handle:
        split = json.load(handle)
    monkeypatch.setattr(kdpipeline.runner, "build_context", fake_context({**split, "test": split["test"][1:]}))
    out = tmp_path / "int8.json"
    argv = ("--data", data_folder(tmp_path), "--out", str(out), "--kept", KEPT, "--methods", "liteheart")
    assert run_main(monkeypatch, *argv) == 2
    assert "does not give the test split" in capsys.readouterr().err
    assert not out.exists()


def test_the_float_student_is_exported_as_post_training_int8_beside_the_runs_figures(tmp_path, monkeypatch):
    import kdpipeline.compression
    import kdpipeline.runner
    import lrhnet.saving

    folder = os.path.join(KEPT, "liteheart_s2")  # a QAT run (the published LRH-Net runs are kept with PTQ)
    with open(os.path.join(folder, "split.json")) as handle:
        monkeypatch.setattr(kdpipeline.runner, "build_context", fake_context(json.load(handle)))
    monkeypatch.setattr(lrhnet.saving, "load_network", lambda path: path)
    calls = []

    def exported(ctx, network, filename, kind):
        calls.append((ctx.run.path(filename), network, kind))
        return {"validation": {"cinc2017_f1": 0.5}, "test": {"cinc2017_f1": 0.4}, "bytes": 7}

    monkeypatch.setattr(kdpipeline.compression, "exported", exported)
    row = int8_row(folder, str(tmp_path), str(tmp_path / "scratch"))
    assert calls == [
        (
            str(tmp_path / "scratch" / "liteheart_ptq.tflite"),
            os.path.join(folder, "models", "liteheart.keras"),
            "int8",
        )
    ]
    with open(os.path.join(folder, "report.json")) as handle:
        export = json.load(handle)["models"]["student_int8"]["export"]
    assert row["ptq"] == {"validation": 0.5, "test": 0.4, "bytes": 7}
    assert row["qat"]["validation"] == export["validation"]["cinc2017_f1"]
    assert row["float"]["test"] == export["keras_test"]["cinc2017_f1"]
    assert (row["seed"], row["student"]) == (2, "liteheart")


def test_a_kept_run_whose_int8_file_is_post_training_is_refused_before_writing(tmp_path, monkeypatch, capsys):
    kept = kept_copy(tmp_path, "lrhnet_s0")
    path = kept / "lrhnet_s0" / "report.json"
    report = json.loads(path.read_text())
    report["models"]["student_int8"]["quantization"] = "ptq"
    path.write_text(json.dumps(report))
    out = tmp_path / "int8.json"
    argv = ("--data", data_folder(tmp_path), "--out", str(out), "--kept", str(kept), "--methods", "lrhnet")
    assert run_main(monkeypatch, *argv) == 2
    assert "not quantization-aware" in capsys.readouterr().err
    assert not out.exists()
