"""TFLite export against Keras on real records, sidecars, and the predict command on every format."""

import csv
import functools
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tf_keras as keras

from data_utils import Preprocessing, open_dataset
from data_utils.cache import build_cache
from data_utils.pipeline import ECGPipeline
from liteheart import LiteHeartStudent
from lrhnet import LRHNet
from lrhnet.export import KINDS, export_tflite
from lrhnet.litert import TFLiteModel
from lrhnet.sidecar import MissingSidecar, read_sidecar, write_sidecar

ROOT = os.path.join(os.path.dirname(__file__), "..")
PREPROCESSING = Preprocessing(fs=100, band=(0.5, 40.0))
WINDOW = 500  # 5 s at 100 Hz


@pytest.fixture(scope="module")
def real_windows(tmp_path_factory):
    """Lead-I windows (N, 500, 1) cut from the bundled real records of all five sources."""
    windows = []
    for name in ("cinc2017", "ludb", "cinc2020", "cinc2021", "ptbxl"):
        dataset = open_dataset(os.path.join(ROOT, "tests", "data", name))
        cache = build_cache(
            dataset, PREPROCESSING, ("I",), cache_dir=str(tmp_path_factory.mktemp("cache")), progress=False
        )
        pipeline = ECGPipeline(cache, "I", window_seconds=WINDOW / 100)
        windows.extend(x.numpy() for x, _ in pipeline.evaluate(np.arange(len(cache)), crop="sliding", view="student"))
    return np.concatenate(windows)


@pytest.fixture(scope="module", params=["lrhnet", "liteheart"])
def trained_student(real_windows, request):
    """A lead-I student (LRH-Net or LiteHeart) fit briefly on the real windows (4 classes), so its
    outputs are not trivial."""
    keras.utils.set_random_seed(0)
    network = LRHNet(1, 4) if request.param == "lrhnet" else LiteHeartStudent(4)
    network.compile(optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    labels = np.eye(4, dtype="float32")[np.arange(len(real_windows)) % 4]
    network.fit(real_windows, labels, epochs=3, batch_size=16, verbose=0)
    return network


def sidecar_fields(classes=("N", "A", "O", "~"), leads=("I",)):
    return dict(
        classes=list(classes), leads=list(leads), fs=100, preprocessing=PREPROCESSING.as_dict(), multilabel=False
    )


@pytest.mark.parametrize("kind, tolerance", [("float32", 1e-4), ("float16", 1e-2), ("dynamic", 0.1), ("int8", 0.1)])
def test_tflite_matches_keras_on_real_records(trained_student, real_windows, tmp_path, kind, tolerance):
    """float32 within 1e-4 (absolute, logits); the quantised kinds within ``tolerance`` x the logit range."""
    path = str(tmp_path / f"student_{kind}.tflite")
    representative = [[real_windows[i : i + 1]] for i in range(0, len(real_windows), 2)]
    size = export_tflite(trained_student, path, kind, window=WINDOW, representative=representative, **sidecar_fields())
    assert size == os.path.getsize(path)
    expected = trained_student(real_windows, training=False).numpy()
    got = TFLiteModel(path)(real_windows)
    scale = 1.0 if kind == "float32" else float(np.ptp(expected))
    assert np.abs(got - expected).max() <= tolerance * scale


def test_sidecar_and_labels_file(tmp_path):
    path = str(tmp_path / "model.tflite")
    with pytest.raises(MissingSidecar, match="model.tflite.json"):
        read_sidecar(path)
    write_sidecar(
        path, window=WINDOW, thresholds=[0.5, 0.2], **{**sidecar_fields(classes=("a", "b")), "multilabel": True}
    )
    assert read_sidecar(path)["thresholds"] == [0.5, 0.2] and read_sidecar(path)["window"] == WINDOW
    assert (tmp_path / "labels.txt").read_text().split() == ["a", "b"]
    with pytest.raises(ValueError, match="thresholds"):
        write_sidecar(path, window=WINDOW, thresholds=[0.5], **sidecar_fields(classes=("a", "b")))
    assert set(KINDS) == {"float32", "float16", "dynamic", "int8"}


def run_predict(*args):
    return subprocess.run(
        [sys.executable, "-m", "lrhnet.predict", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def exported(trained_student, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    tflite = str(folder / "student.tflite")
    export_tflite(trained_student, tflite, "float32", window=WINDOW, **sidecar_fields())
    trained_student.save(folder / "student.keras")
    write_sidecar(str(folder / "student.keras"), window=WINDOW, **sidecar_fields())
    return tflite, str(folder / "student.keras")


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    "name, records", [("cinc2017", 4), ("ludb", 3), ("cinc2020", 3), ("cinc2021", 4), ("ptbxl", 4)]
)
def test_predict_on_every_bundled_format(exported, tmp_path, name, records):
    result = run_predict(
        "--model", exported[0], "--input", os.path.join(ROOT, "tests", "data", name), "--out", str(tmp_path / "p.csv")
    )
    assert result.returncode == 0, result.stderr
    quiet = [f"{records} records predicted, 0 skipped; wrote {tmp_path / 'p.csv'}"]
    assert result.stderr.splitlines() == quiet, "nothing else on stderr: TensorFlow and LiteRT start quietly"
    rows = read_rows(tmp_path / "p.csv")
    assert len(rows) == records and list(rows[0]) == ["record", "p_N", "p_A", "p_O", "p_~", "labels"]
    for row in rows:
        assert sum(float(row[f"p_{c}"]) for c in "NAO~") == pytest.approx(1.0, abs=1e-4)
        assert row["labels"] in "NAO~" and not row["record"].endswith((".hea", ".mat"))


def test_predict_on_a_written_synthetic_folder(exported, tmp_path):
    from data_utils.synthetic import write_wfdb

    write_wfdb(open_dataset("synthetic:n=3,fs=250,seconds=12,seed=2"), str(tmp_path / "synthetic"))
    result = run_predict(
        "--model", exported[0], "--input", str(tmp_path / "synthetic"), "--out", str(tmp_path / "p.csv")
    )
    assert result.returncode == 0, result.stderr
    assert [row["record"] for row in read_rows(tmp_path / "p.csv")] == ["S000000", "S000001", "S000002"]


def test_predict_keras_and_tflite_agree_on_one_record(exported, tmp_path):
    record = os.path.join(ROOT, "tests", "data", "cinc2017", "A00592")
    outputs = []
    for model in exported:
        assert run_predict("--model", model, "--input", record, "--out", str(tmp_path / "p.csv")).returncode == 0
        outputs.append([float(v) for k, v in read_rows(tmp_path / "p.csv")[0].items() if k.startswith("p_")])
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)


@pytest.mark.parametrize(
    "name", ["ludb", "cinc2017/training2017", "cinc2021-samples", "cinc2020-samples", "ptbxl-mini"]
)
def test_predict_on_the_shared_samples(exported, shared, tmp_path, name):
    folder = shared(name)
    if name.startswith("cinc2017"):  # 6,822 records: a copy of ten keeps the test short
        folder = str(tmp_path / "c17")
        os.makedirs(folder)
        for record in sorted(os.listdir(shared(name)))[:20]:
            shutil.copy(os.path.join(shared(name), record), folder)
    result = run_predict("--model", exported[0], "--input", folder, "--out", str(tmp_path / "p.csv"))
    assert result.returncode == 0, result.stderr
    assert len(read_rows(tmp_path / "p.csv")) > 0 and "0 skipped" in result.stderr


def test_predict_bad_input(exported, tmp_path, bundled):
    lonely = str(tmp_path / "lonely.keras")
    shutil.copy(exported[1], lonely)  # a model without its sidecar
    result = run_predict("--model", lonely, "--input", bundled("cinc2017"), "--out", str(tmp_path / "p.csv"))
    assert result.returncode == 2 and "no sidecar lonely.keras.json" in result.stderr
    v2_model = str(tmp_path / "v2.tflite")
    shutil.copy(exported[0], v2_model)
    write_sidecar(v2_model, window=WINDOW, **sidecar_fields(leads=("V2",)))
    result = run_predict("--model", v2_model, "--input", bundled("cinc2017"), "--out", str(tmp_path / "p.csv"))
    assert result.returncode == 1 and result.stderr.count("lacks lead(s) V2") == 4
    odd = tmp_path / "odd"
    shutil.copytree(bundled("cinc2017"), odd)
    header = (odd / "A00592.hea").read_text().splitlines()
    (odd / "A00592.hea").write_text("\n".join([header[0].replace(" 300 ", " 0.05 ")] + header[1:]) + "\n")
    result = run_predict("--model", exported[0], "--input", str(odd), "--out", str(tmp_path / "p.csv"))
    assert result.returncode == 0 and "A00592: cannot resample 0.05 Hz" in result.stderr
    assert len(read_rows(tmp_path / "p.csv")) == 3
    assert json.loads(open(exported[0] + ".json").read())["kind"] == "float32"


def test_parity_report_and_int8_refusal(trained_student, real_windows, bundled, tmp_path):
    from lrhnet.export import Int8AccuracyError, parity_report

    dataset = open_dataset(bundled("cinc2017"))
    cache = build_cache(dataset, PREPROCESSING, ("I",), cache_dir=str(tmp_path / "c"), progress=False)
    pipeline = ECGPipeline(cache, "I", window_seconds=WINDOW / 100)
    validation, test = (
        pipeline.evaluate(np.arange(4), crop="sliding"),
        pipeline.evaluate(np.array([0, 1]), crop="sliding"),
    )
    path = str(tmp_path / "int8.tflite")
    export_tflite(
        trained_student,
        path,
        "int8",
        window=WINDOW,
        representative=[[w[None]] for w in real_windows[:32]],
        **sidecar_fields(),
    )
    parity = functools.partial(parity_report, trained_student, path, validation, test, list("NAO~"), multilabel=False)
    report = parity()
    assert (
        set(report)
        == {"keras", "tflite", "keras_validation", "tflite_validation", "thresholds", "keras_thresholds", "metric"}
        and "cinc2017_f1" in report["tflite"]
    )
    # single-label: divisors tuned on validation for the file and the Keras model each, the first class's fixed at 1
    assert report["metric"] == "cinc2017_f1"
    for thresholds in (report["thresholds"], report["keras_thresholds"]):
        assert len(thresholds) == 4 and thresholds[0] == 1.0 and min(thresholds) > 0
    with pytest.raises(
        Int8AccuracyError, match=r"validation macro_auroc .*\(tolerance -1\)"
    ) as caught:  # any result is "too far" below -1
        parity(metric="macro_auroc", int8_tolerance=-1)
    file_value, float_value = report["tflite_validation"]["macro_auroc"], report["keras_validation"]["macro_auroc"]
    assert (
        f"macro_auroc {file_value:.4f} is {float_value - file_value:.4f} below the Keras model's {float_value:.4f}"
        in str(caught.value)
    )  # validation, not test
    with pytest.raises(
        Int8AccuracyError, match="validation cinc2017_f1"
    ):  # the tolerance alone uses the task's selection metric
        parity(int8_tolerance=-1)
    with pytest.raises(ValueError, match="'challenge_metric' is not one of"):
        parity(metric="challenge_metric", int8_tolerance=0.01)


def test_int8_ranges_chosen_on_held_out_windows_resist_an_outlier_in_calibration(
    trained_student, real_windows, tmp_path
):
    """One calibration window 40x too large stretches the converter's min/max ranges; the clipped
    ranges chosen on other windows must agree better with the float network, in an all-int8 graph."""
    from conftest import op_dtypes

    calibration, held_out = real_windows[::2], real_windows[1::2]
    representative = [[w[None]] for w in calibration[:-1]] + [[40 * calibration[-1:]]]
    paths = {name: str(tmp_path / f"{name}.tflite") for name in ("minmax", "chosen")}
    export_tflite(
        trained_student, paths["minmax"], "int8", window=WINDOW, representative=representative, **sidecar_fields()
    )
    export_tflite(
        trained_student,
        paths["chosen"],
        "int8",
        window=WINDOW,
        representative=representative,
        held_out=held_out,
        **sidecar_fields(),
    )
    calibration_record = read_sidecar(paths["chosen"])["int8_calibration"]
    assert calibration_record["ranges"].startswith("clipped at") and "min/max" in calibration_record["held_out_mad"]
    expected = trained_student(held_out, training=False).numpy()
    errors = {name: np.abs(TFLiteModel(path)(held_out) - expected).mean() for name, path in paths.items()}
    assert errors["chosen"] < errors["minmax"], errors
    compute_ops = {
        name: dtypes for name, dtypes in op_dtypes(paths["chosen"]).items() if name not in ("QUANTIZE", "DEQUANTIZE")
    }
    assert "CONV_2D" in compute_ops and all(np.float32 not in dtypes for dtypes in compute_ops.values()), compute_ops


def test_efficiency_figures(trained_student, tmp_path):
    from lrhnet.efficiency import file_sizes, multiply_accumulates, tflite_latency_ms, trainable_parameters

    network = LRHNet(1, 4)
    # Convolutions and dense layers at T = 64, counted by hand (stride 2 when the width changes).
    by_hand = 64 * 8 * 16 + 2 * 64 * 8 * 16 * 16 + (32 * 8 * 16 * 32 + 32 * 8 * 32 * 32 + 32 * 16 * 32)
    by_hand += 16 * 8 * 32 * 64 + 16 * 8 * 64 * 64 + 16 * 32 * 64 + (64 + 256 + 1024) + 64 * 128 + 128 * 4
    assert multiply_accumulates(network, 64) == pytest.approx(by_hand, rel=0.05)
    assert trainable_parameters(network) == 79188
    path = str(tmp_path / "m.tflite")
    export_tflite(trained_student, path, "float32", window=WINDOW, **sidecar_fields())
    sizes = file_sizes(path)
    assert sizes["bytes"] == os.path.getsize(path) and 0 < sizes["gzip_bytes"] < sizes["bytes"]
    assert 0 < tflite_latency_ms(path, repeats=5) < 1000
