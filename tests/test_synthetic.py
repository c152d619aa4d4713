"""The synthetic 12-lead generator: each condition's signature, reproducibility, and the dataset interface."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from data_utils import STANDARD_LEADS, Preprocessing, beats, open_dataset
from data_utils.cache import build_cache
from data_utils.pipeline import ECGPipeline
from data_utils.synthetic import CONDITIONS, LEAD_MATRIX, generate, write_wfdb

FS = 500
LEAD = {name: i for i, name in enumerate(STANDARD_LEADS)}


def measured(condition, n=24, seed=0):
    """Median-beat measures of ``n`` clean records that all have ``condition`` (NSR alone for None)."""
    classes = (
        ("NSR",)
        if condition is None
        else ("NSR", condition)
        if condition not in ("AF", "STach", "SB")
        else (condition,)
    )
    frequencies = {} if condition is None else {condition: 1.0}
    signals, _ = generate(n, fs=FS, classes=classes, frequencies=frequencies, seed=seed, noisy=False)
    rows = []
    for signal in signals:
        peaks = beats.multilead_r_peaks(signal, FS)
        beat = beats.median_beat(signal, FS, peaks)
        rr = np.diff(peaks) / FS
        rows.append(
            {
                "qrs": beats.qrs_width(beat, FS),
                "rr_cv": beats.rr_variability(rr)["rr_cv"],
                "slow": np.median(rr) >= 0.85,  # the previous T wave is over before the P window
                "p": abs(beats.p_wave(beat[:, LEAD["II"]], FS)[0]),
                "pr": beats.pr_interval(beat, FS, LEAD["II"]),
                "q": {lead: beats.q_wave_depth(beat, FS, LEAD[lead]) for lead in ("I", "II", "III", "aVF")},
                "r": {lead: beats.r_wave_height(beat, FS, LEAD[lead]) for lead in ("V1", "V2")},
                "net": beats.qrs_net_amplitude(beat, FS),
                "ptp": beats.qrs_amplitudes(beat, FS),
            }
        )
    return rows


@pytest.fixture(scope="module")
def normal():
    return measured(None)


def test_lead_matrix_follows_einthoven_and_goldberger():
    i, ii, iii, avr, avl, avf = (LEAD_MATRIX[:, LEAD[name]] for name in ("I", "II", "III", "aVR", "aVL", "aVF"))
    np.testing.assert_allclose(iii, ii - i, atol=1e-6)
    np.testing.assert_allclose(avr + avl + avf, 0.0, atol=1e-6)


def test_normal_beats_are_narrow_regular_with_p_waves(normal):
    assert all(row["qrs"] < 0.11 for row in normal)
    assert all(row["rr_cv"] < 0.08 for row in normal)
    slow = [row for row in normal if row["slow"]]
    assert len(slow) >= 3 and all(row["p"] > 0.08 and 0.11 < row["pr"] < 0.2 for row in slow)


@pytest.mark.parametrize("condition", ["RBBB", "LBBB"])
def test_bundle_branch_blocks_widen_the_qrs_to_120_ms(condition):
    assert all(row["qrs"] >= 0.12 for row in measured(condition))


def test_right_bundle_branch_block_has_a_tall_late_r_in_v1(normal):
    assert min(row["r"]["V1"] for row in measured("RBBB")) > 2 * max(row["r"]["V1"] for row in normal)


def test_atrial_fibrillation_has_no_p_waves_and_irregular_rr():
    rows = measured("AF", n=40)
    assert all(row["rr_cv"] > 0.12 for row in rows)
    slow = [row for row in rows if row["slow"]]
    assert len(slow) >= 3 and all(row["p"] < 0.06 for row in slow)


def test_first_degree_block_prolongs_pr_over_200_ms():
    slow = [row for row in measured("IAVB") if row["slow"]]
    assert len(slow) >= 3 and all(row["pr"] > 0.2 for row in slow)


def test_inferior_infarction_shows_q_waves_in_ii_iii_avf_not_in_i(normal):
    rows = measured("IMI")
    assert all(min(row["q"]["II"], row["q"]["III"], row["q"]["aVF"]) > 0.2 and row["q"]["I"] < 0.05 for row in rows)
    assert all(row["q"]["II"] < 0.1 for row in normal)


def test_anterior_infarction_leaves_qs_complexes_in_v1_v2(normal):
    assert all(max(row["r"].values()) < 0.05 for row in measured("AMI"))
    assert all(min(row["r"].values()) > 0.05 for row in normal)


def test_left_axis_deviation_turns_ii_negative_and_keeps_i_positive(normal):
    rows = measured("LAD")
    assert all(row["net"][LEAD["I"]] > 0 and row["net"][LEAD["II"]] < 0 for row in rows)
    assert all(row["net"][LEAD["II"]] > 0 for row in normal)


def test_hypertrophy_raises_qrs_voltage(normal):
    def sokolow(row):  # Sokolow-Lyon-like: QRS amplitude in V1 plus the larger of V5 and V6
        return row["ptp"][LEAD["V1"]] + max(row["ptp"][LEAD["V5"]], row["ptp"][LEAD["V6"]])

    assert np.median([sokolow(row) for row in measured("LVH")]) > 1.5 * np.median([sokolow(row) for row in normal])


def test_premature_ventricular_beats_are_early_and_wide():
    signals, _ = generate(8, fs=FS, classes=("NSR", "PVC"), frequencies={"PVC": 1.0}, noisy=False)
    for signal in signals:
        peaks = beats.multilead_r_peaks(signal, FS)
        rr = np.diff(peaks) / FS
        early = np.flatnonzero(rr < 0.8 * np.median(rr))
        assert early.size >= 1
        after = early[early + 1 < rr.size]
        assert np.all(rr[after + 1] > np.median(rr))  # the compensatory pause
        premature = signal[peaks[early[0] + 1] - int(0.45 * FS) : peaks[early[0] + 1] + int(0.6 * FS)]
        assert beats.qrs_width(premature, FS) >= 0.12


def test_same_seed_same_data_and_labels_follow_frequencies():
    a, labels = generate(300, seed=3)
    b, _ = generate(300, seed=3)
    c, _ = generate(300, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == (300, 1000, 12) and labels.shape == (300, len(CONDITIONS))
    _, af_only = generate(400, classes=("NSR", "AF"), frequencies={"AF": 0.5}, seed=1)
    assert af_only.shape == (400, 2) and np.all(af_only.sum(1) == 1) and 0.4 < af_only[:, 1].mean() < 0.6


def test_conditions_only_co_occur_where_physiology_allows():
    _, labels = generate(3000, seed=2, frequencies={"RBBB": 0.5, "LBBB": 0.5, "IAVB": 0.5, "LVH": 0.5})
    column = {name: labels[:, k].astype(bool) for k, name in enumerate(CONDITIONS)}
    assert np.all(labels[:, :4].sum(1) == 1)  # exactly one rhythm
    assert (
        not np.any(column["RBBB"] & column["LBBB"])
        and not np.any(column["IAVB"] & column["AF"])
        and not np.any(column["LVH"] & column["LBBB"])
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"classes": ("NSR", "XYZ")}, "unknown synthetic classes"),
        ({"frequencies": {"AF": 1.5}}, "in \\[0, 1\\]"),
        ({"frequencies": {"AF": 0.6, "STach": 0.6}}, "add up to more than 1"),
        ({"fs": 20}, "fs >= 50"),
        ({"seconds": 1}, "at least 3 s"),
    ],
)
def test_bad_generator_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(4, **kwargs)


def test_synthetic_dataset_goes_through_the_pipeline_inspect_and_back_from_disk(tmp_path):
    dataset = open_dataset("synthetic:n=40,fs=250,seconds=8,seed=5")
    assert dataset.format == "synthetic" and len(dataset) == 40 and dataset.classes == CONDITIONS
    record = dataset.read(7)
    assert record.signal.shape == (2000, 12) and record.leads == tuple(STANDARD_LEADS) and record.fs == 250
    np.testing.assert_array_equal(dataset.read(7).signal, record.signal)
    cache = build_cache(
        dataset, Preprocessing(fs=100), STANDARD_LEADS, cache_dir=str(tmp_path / "cache"), progress=False
    )
    x, y = next(iter(ECGPipeline(cache, 12, "I", window_seconds=5).train(np.arange(40), 8, seed=0)))
    assert x["teacher"].shape == (8, 500, 12) and x["student"].shape == (8, 500, 1) and y.shape == (8, len(CONDITIONS))

    folder = tmp_path / "written"
    write_wfdb(dataset.subset(range(5)), str(folder))
    back = open_dataset(str(folder))
    assert back.format == "challenge" and sorted(back.record_ids) == dataset.record_ids[:5]
    original = dataset.read(0)
    reread = back.read(back.record_ids.index(original.record_id))
    np.testing.assert_allclose(reread.signal, original.signal, atol=1e-3)  # 1 uV steps
    assert reread.labels == tuple(sorted(original.labels)) and reread.age == original.age and reread.sex == original.sex
    root = os.path.join(os.path.dirname(__file__), "..")
    shown = subprocess.run(
        [sys.executable, "-m", "data_utils.inspect", "synthetic:12", "--json"],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
    )
    assert json.loads(shown.stdout)["records"] == 12


@pytest.mark.parametrize(
    "spec, message", [("n=0", "at least 1"), ("rate=5", "unknown key"), ("n=ten", "must be a number")]
)
def test_bad_synthetic_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        open_dataset(f"synthetic:{spec}")
