"""The cache and the tf.data pipelines on real records."""

import numpy as np
import pytest

from data_utils import STANDARD_LEADS, open_dataset
from data_utils.augment import Augmentation
from data_utils.cache import build_cache
from data_utils.pipeline import ECGPipeline, aggregate_windows
from data_utils.preprocess import Preprocessing, sliding_windows, stride_samples


@pytest.fixture
def challenge_cache(bundled, tmp_path):
    dataset = open_dataset(bundled("cinc2021"), vocabulary="scored2021")
    return dataset, build_cache(
        dataset, Preprocessing(fs=100), STANDARD_LEADS, cache_dir=str(tmp_path / "c"), progress=False
    )


def test_cache_is_compact_on_disk_and_memory_mapped(challenge_cache):
    dataset, cache = challenge_cache
    assert cache.record_ids == dataset.record_ids and len(cache) == 3
    assert isinstance(cache._signals, np.memmap) and cache._signals.dtype == np.float16
    assert cache.lengths.tolist() == [1000, 1000, 1000] and cache.signal(0).shape == (1000, 12)
    np.testing.assert_array_equal(cache.labels, dataset.label_matrix())
    assert cache.demographics[0].tolist() == pytest.approx([0.77, 1, 1, 0, 1])  # E07503: 77, female
    expected = Preprocessing(fs=100).apply(dataset.read(1).signal, 500)
    np.testing.assert_allclose(cache.signal(1), expected, atol=2e-2)


def test_cache_is_reused_and_keeps_skips(bundled, tmp_path):
    first = open_dataset(bundled("cinc2021"), vocabulary="scored2021")
    build_cache(first, Preprocessing(fs=100), ("I",), cache_dir=str(tmp_path), min_seconds=8)
    again = open_dataset(bundled("cinc2021"), vocabulary="scored2021")
    cache = build_cache(again, Preprocessing(fs=100), ("I",), cache_dir=str(tmp_path), min_seconds=8)
    assert len(list(tmp_path.iterdir())) == 1, "the second call must reuse the first cache"
    assert [skip.record for skip in again.skipped] == ["E07505"] and len(cache) == 3
    too_long = open_dataset(bundled("cinc2021"), vocabulary="scored2021")
    assert len(build_cache(too_long, Preprocessing(fs=100), ("I",), cache_dir=str(tmp_path), min_seconds=11)) == 0
    assert all("shorter than one window" in skip.reason for skip in too_long.skipped[1:])


def test_teacher_and_student_views_come_from_the_same_records(challenge_cache):
    _, cache = challenge_cache
    pipeline = ECGPipeline(cache, teacher_leads=12, student_leads=["V2", "I"], window_seconds=4, demographics=True)
    inputs, labels = next(iter(pipeline.train(np.arange(3), batch_size=3, seed=0)))
    assert inputs["teacher"].shape == (3, 400, 12) and inputs["student"].shape == (3, 400, 2)
    assert inputs["demographics"].shape == (3, 5) and labels.shape == (3, 26)
    np.testing.assert_array_equal(inputs["student"].numpy(), inputs["teacher"].numpy()[:, :, [0, 7]])


def test_training_crops_are_random_but_seeded(challenge_cache):
    _, cache = challenge_cache
    pipeline = ECGPipeline(cache, 1, window_seconds=3)

    def epoch(seed):
        return np.concatenate([x.numpy() for x, _ in pipeline.train(np.arange(3), 2, seed=seed, view="student")])

    assert np.array_equal(epoch(7), epoch(7)) and not np.array_equal(epoch(7), epoch(8))


def test_augmentation_by_hand():
    """No range: the window unchanged. A 0.5 s shift alone: the window rotated by 0-50 samples at 100 Hz."""
    signals = np.random.default_rng(0).normal(size=(4, 300, 3)).astype(np.float32)
    still = Augmentation(gain=1.0, wander=0.0, noise=0.0, shift_seconds=0.0)
    np.testing.assert_array_equal(still.apply(signals, 100.0, np.random.default_rng(1)), signals)
    shifted = Augmentation(gain=1.0, wander=0.0, noise=0.0).apply(signals, 100.0, np.random.default_rng(1))
    for row in range(4):
        assert any(np.array_equal(shifted[row], np.roll(signals[row], k, axis=0)) for k in range(-50, 51))
    changed = Augmentation().apply(signals, 100.0, np.random.default_rng(1))
    assert changed.shape == signals.shape and changed.dtype == np.float32 and np.isfinite(changed).all()
    assert not np.allclose(changed, signals)
    np.testing.assert_array_equal(changed, Augmentation().apply(signals, 100.0, np.random.default_rng(1)))


def test_the_default_augmentation_draws_are_pinned():
    """The default ``Augmentation`` of fixed windows with a fixed generator gives these values (numpy as
    pinned in requirements.txt): every committed benchmark row trained on these draws, so a change to
    their order or ranges must be deliberate (and the rows rerun), not a side effect."""
    signals = np.random.default_rng(0).normal(size=(4, 300, 3)).astype(np.float32)
    out = Augmentation().apply(signals, 100.0, np.random.default_rng(1))
    np.testing.assert_allclose(out[:, 0, 0], [-1.15507, -1.40935, -1.41904, 0.61647], atol=1e-5)
    assert out.astype(np.float64).sum() == pytest.approx(-94.2422, abs=1e-3)


def test_weighted_rows_follow_their_chances_and_are_drawn_anew_each_epoch():
    from data_utils.pipeline import weighted_rows

    rows = weighted_rows(np.array([5, 7, 9]), [1.0, 0.0, 3.0], 4000, seed=0)
    first, second = (np.array([int(row) for row in rows]) for _ in range(2))
    assert len(first) == 4000 and set(first) == {5, 9}  # a row of chance 0 is never drawn
    assert np.mean(first == 9) == pytest.approx(0.75, abs=0.03) and not np.array_equal(first, second)
    np.testing.assert_array_equal(first, [int(row) for row in weighted_rows(np.array([5, 7, 9]), [1, 0, 3], 4000, 0)])
    for bad in ([1.0, 2.0], [1.0, -1.0, 1.0], [0.0, 0.0, 0.0], [1.0, np.nan, 1.0]):
        with pytest.raises(ValueError, match="finite non-negative chances"):
            weighted_rows(np.array([5, 7, 9]), bad, 10, seed=0)


def test_inversion_flips_whole_windows():
    """``invert=1``: every window negated, every lead at once; ``invert=0.5``: some windows, each
    either kept or negated whole; a probability outside [0, 1] is refused."""
    signals = np.random.default_rng(0).normal(size=(64, 200, 2)).astype(np.float32)
    still = dict(gain=1.0, wander=0.0, noise=0.0, shift_seconds=0.0)
    np.testing.assert_array_equal(
        Augmentation(**still, invert=1.0).apply(signals, 100.0, np.random.default_rng(1)), -signals
    )
    half = Augmentation(**still, invert=0.5).apply(signals, 100.0, np.random.default_rng(1))
    flipped = [np.array_equal(row, -plain) for row, plain in zip(half, signals)]
    assert all(f or np.array_equal(row, plain) for f, row, plain in zip(flipped, half, signals))
    assert 10 < sum(flipped) < 54
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="invert is a probability"):
            Augmentation(invert=bad)


def test_augmented_training_windows_are_shared_by_both_views_and_seeded(challenge_cache):
    """Teacher and student read the same augmented window; evaluation and ``augment=False`` are not augmented."""
    _, cache = challenge_cache
    pipeline = ECGPipeline(cache, 12, ["V2", "I"], window_seconds=4, augmentation=Augmentation())
    plain = ECGPipeline(cache, 12, ["V2", "I"], window_seconds=4)

    def first(pipe, seed=0, **options):
        return next(iter(pipe.train(np.arange(3), batch_size=3, seed=seed, **options)))[0]

    inputs = first(pipeline)
    np.testing.assert_array_equal(inputs["student"].numpy(), inputs["teacher"].numpy()[:, :, [0, 7]])
    assert not np.allclose(inputs["teacher"].numpy(), first(plain)["teacher"].numpy(), atol=1e-3)
    np.testing.assert_array_equal(inputs["teacher"].numpy(), first(pipeline)["teacher"].numpy())
    assert not np.array_equal(inputs["teacher"].numpy(), first(pipeline, seed=1)["teacher"].numpy())
    np.testing.assert_array_equal(first(pipeline, augment=False)["teacher"].numpy(), first(plain)["teacher"].numpy())
    evaluated = next(iter(pipeline.evaluate([0], crop="start", view="teacher")))[0].numpy()
    np.testing.assert_array_equal(evaluated[0], cache.signal(0)[:400].astype(np.float32))


def test_training_batches_carry_beat_profiles_of_the_augmented_window(challenge_cache):
    """With ``beats``, each training window's (W,) profile is found on the teacher's leads of the window
    as augmented (shifted in time), so it differs from the profile of the window before augmentation."""
    from data_utils.beats import beat_profile, multilead_r_peaks

    _, cache = challenge_cache
    shift_only = Augmentation(gain=1.0, wander=0.0, noise=0.0, shift_seconds=1.0)
    pipeline = ECGPipeline(cache, 12, "I", window_seconds=4, augmentation=shift_only, beats=True)
    inputs, _ = next(iter(pipeline.train(np.arange(3), batch_size=3, seed=0)))
    beats, teacher = inputs["beats"].numpy(), inputs["teacher"].numpy()
    unshifted = next(iter(pipeline.train(np.arange(3), batch_size=3, seed=0, augment=False)))[0]["teacher"].numpy()
    assert beats.shape == (3, 400) and beats.min() >= 0 and beats.max() <= 1
    moved = 0
    for profile, window, plain in zip(beats, teacher, unshifted):
        peaks = multilead_r_peaks(window, 100)
        assert len(peaks) >= 2 and np.all(profile[peaks] > 0.9) and np.mean(profile) < 0.5
        np.testing.assert_allclose(profile, beat_profile(peaks, 400, 100))
        moved += not np.allclose(profile, beat_profile(multilead_r_peaks(plain, 100), 400, 100))
    assert moved >= 2  # a shift of up to 1 s moves the beats of (almost) every window
    assert "beats" not in next(iter(pipeline.evaluate([0])))[0]


def test_evaluation_windows_and_aggregation(challenge_cache):
    _, cache = challenge_cache
    pipeline = ECGPipeline(cache, 12, 1, window_seconds=4)
    batches = list(pipeline.evaluate([2, 0], batch_size=4, crop="sliding", stride_seconds=3))
    records = np.concatenate([inputs["record"].numpy() for inputs, _ in batches])
    assert records.tolist() == [2, 2, 2, 0, 0, 0]  # starts 0, 3, 6 s: the last window ends at 10 s
    first = next(iter(pipeline.evaluate([0], crop="start", view="student")))[0].numpy()
    np.testing.assert_array_equal(first[0, :, 0], cache.signal(0)[:400, 0].astype(np.float32))
    rows, means = aggregate_windows(np.arange(12.0).reshape(6, 2), records)
    assert rows.tolist() == [2, 0] and means.tolist() == [[2, 3], [8, 9]]


def test_default_evaluation_windows_are_the_ones_predict_cuts(challenge_cache):
    _, cache = challenge_cache
    pipeline = ECGPipeline(cache, 12, 1, window_seconds=4)
    windows = np.concatenate([x.numpy() for x, _ in pipeline.evaluate([0], crop="sliding", view="student")])
    assert stride_samples(400, 100) == 200 and stride_samples(400, 100, 3) == 300
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="positive number of seconds"):
            stride_samples(400, 100, bad)
    expected = sliding_windows(cache.signal(0)[:, :1].astype(np.float32), 400, stride_samples(400, 100))
    assert len(windows) == 4  # a 10 s record, 4 s windows every 2 s: starts 0, 2, 4, 6 s
    np.testing.assert_array_equal(windows, expected)


def test_unlabeled_batches_carry_nan_labels(challenge_cache):
    _, cache = challenge_cache
    _, labels = next(iter(ECGPipeline(cache, 1).train(np.arange(3), view="student", unlabeled=True)))
    assert np.isnan(labels.numpy()).all()


def test_bad_pipeline_requests(challenge_cache, bundled, tmp_path):
    _, cache = challenge_cache
    with pytest.raises(ValueError, match="indices"):
        ECGPipeline(cache, 12).train([5])
    one_lead = build_cache(open_dataset(bundled("cinc2017")), Preprocessing(fs=100), ("I",), cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="lacks II"):
        ECGPipeline(one_lead, teacher_leads=2)
