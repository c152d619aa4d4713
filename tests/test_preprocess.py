"""Preprocessing properties: frequencies survive resampling, filtering removes baseline wander."""

import numpy as np
import pytest

from data_utils import LEAD_SETS, resolve_leads
from data_utils.errors import RecordTooShort, UnsupportedSamplingRate
from data_utils.preprocess import Preprocessing, bandpass, fix_length, normalize, resample, sliding_windows


def dominant_frequency(signal, fs):
    spectrum = np.abs(np.fft.rfft(signal - signal.mean()))
    return np.fft.rfftfreq(len(signal), 1 / fs)[np.argmax(spectrum)]


def sine(frequency, fs, seconds=10.0, leads=2):
    t = np.arange(int(seconds * fs)) / fs
    return np.stack([np.sin(2 * np.pi * frequency * t)] * leads, axis=1)


@pytest.mark.parametrize("fs_in, fs_out", [(500, 100), (300, 257), (1000, 500), (100, 500)])
def test_resampling_keeps_a_sines_frequency(fs_in, fs_out):
    out = resample(sine(7.0, fs_in), fs_in, fs_out)
    assert out.shape == (int(np.ceil(10 * fs_out)), 2) and out.dtype == np.float32
    assert dominant_frequency(out[:, 0], fs_out) == pytest.approx(7.0, abs=0.1)
    assert np.abs(out[100:-100]).max() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize(
    "fs_in, fs_out", [(0, 100), (-500, 100), (float("nan"), 100), (500, float("inf")), (0.5, 1000)]
)
def test_unusable_sampling_rates_are_refused(fs_in, fs_out):
    with pytest.raises(UnsupportedSamplingRate):
        resample(np.zeros((100, 1)), fs_in, fs_out, record="rec7")


def test_bandpass_removes_baseline_wander_and_keeps_the_band():
    fs = 500
    wander, ecg_band = sine(0.15, fs, 20) * 2.0, sine(10.0, fs, 20)
    out = bandpass(wander + ecg_band, fs, 0.5, 40.0, order=3)
    assert np.std(out - ecg_band) < 0.05 * np.std(wander)
    assert np.std(out) == pytest.approx(np.std(ecg_band), rel=0.05)


def test_filter_uses_the_rate_it_is_given():
    # A 45 Hz tone passes a 40 Hz low cut-off only if the filter was designed for the wrong rate.
    tone = sine(45.0, 250, 10)
    assert np.std(bandpass(tone, 250, None, 40.0)) < 0.3 * np.std(tone)
    with pytest.raises(ValueError, match="inside"):
        bandpass(tone, 60, 0.5, 40.0)


def test_normalize_is_per_lead():
    signal = np.stack([np.linspace(0, 5, 100), 3 + 10 * np.sin(np.arange(100))], axis=1)
    out = normalize(signal)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)


def test_crops_pads_and_windows():
    signal = np.arange(10, dtype=np.float32)[:, None]
    assert fix_length(signal, 4, "start")[:, 0].tolist() == [0, 1, 2, 3]
    assert fix_length(signal, 4, "center")[:, 0].tolist() == [3, 4, 5, 6]
    first = fix_length(signal, 4, "random", np.random.default_rng(5))
    assert np.array_equal(first, fix_length(signal, 4, "random", np.random.default_rng(5)))
    assert fix_length(signal, 12)[:, 0].tolist() == list(range(10)) + [0, 0]
    with pytest.raises(RecordTooShort, match="rec9"):
        fix_length(signal, 12, pad=False, record="rec9")
    windows = sliding_windows(signal, 4, stride=3)
    assert windows[:, 0, 0].tolist() == [0, 3, 6] and windows[-1, -1, 0] == 9


def test_preprocessing_resamples_then_filters_at_the_target_rate():
    out = Preprocessing(fs=100, band=(0.5, 40)).apply(sine(5.0, 500) + 3.0, 500)
    assert out.shape == (1000, 2) and dominant_frequency(out[:, 0], 100) == pytest.approx(5.0, abs=0.1)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)


def test_lead_selection():
    assert resolve_leads(1) == ("I",) and resolve_leads("3") == LEAD_SETS[3] == ("I", "II", "V2")
    assert resolve_leads("avl") == ("aVL",) and resolve_leads(["V1", "ii"]) == ("II", "V1")
    assert len(resolve_leads(12)) == 12 and resolve_leads(6)[-1] == "aVF"
    for bad in (5, "V7", ""):
        with pytest.raises(ValueError):
            resolve_leads(bad)
