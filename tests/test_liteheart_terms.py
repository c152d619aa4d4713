"""LiteHeart's region-aware and cross-layer mutual-information terms."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from data_utils import read_record
from liteheart import (
    CrossLayerMutualInformation,
    LiteHeartStudent,
    RegionAwareDistillation,
    beat_profile,
    detect_r_peaks,
    region_weights,
)
from liteheart.region import normalise_weights
from lrhnet import Distiller, SEResNet1D
from lrhnet.terms import StepOutputs


def teacher_12_leads(classes=3):
    teacher = SEResNet1D(12, classes, width=0.25)
    teacher(teacher.example_inputs(1000))
    teacher.steps_trained.assign(1)
    return teacher


def test_region_weights_are_a_distribution_per_sample():
    teacher = teacher_12_leads()
    x = np.random.default_rng(0).normal(size=(4, 1000, 12)).astype("float32")
    weights = region_weights(teacher, x).numpy()
    assert weights.shape == (4, 32) and np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    beats = np.stack([beat_profile([100, 400, 700], 1000, 100)] * 4)
    mixed = region_weights(teacher, x, beats=beats, beat_weight=1.0).numpy()
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(normalise_weights(tf.zeros((2, 5))).numpy(), 0.2)  # no evidence: uniform


def test_beat_weights_put_most_mass_on_the_qrs():
    fs, peaks = 500, [400, 900, 1400, 1900, 2400]
    profile = beat_profile(peaks, 3000, fs)
    weights = normalise_weights(tf.constant(profile[None])).numpy()[0]
    qrs = np.zeros(3000, bool)
    for peak in peaks:
        qrs[peak - 30 : peak + 31] = True  # +-60 ms
    assert weights[qrs].sum() > 0.5 and weights[~qrs].sum() > 0  # the P and T waves still count a little


def test_r_peaks_found_on_a_real_lead_fall_on_the_ludb_qrs(bundled):
    from data_utils.readers.ludb import WAVES, ludb_delineation

    record = read_record(bundled("ludb/data/1"))
    peaks = detect_r_peaks(record.signal[:, 0], record.fs)
    qrs = ludb_delineation(record.path, record.signal.shape[0], ("I",))[:, 0, WAVES.index("QRS")]
    assert len(peaks) >= 5 and np.mean(qrs[peaks]) >= 0.8


def test_region_term_is_zero_when_mapped_student_features_equal_the_teachers():
    teacher = teacher_12_leads()
    x = np.random.default_rng(1).normal(size=(2, 1000, 12)).astype("float32")
    logits, features = teacher.forward(x, training=False)
    term = RegionAwareDistillation(student_stage=0, teacher_stage=-1)
    term.prepare([128], [[16, 32, 64, 128]])
    term.adapter.set_weights([np.eye(128, dtype="float32")[None], np.zeros(128, "float32")])
    same = term.per_example(StepOutputs(None, [features[-1]], [logits], [features], [teacher], {}))
    np.testing.assert_allclose(same.numpy(), 0, atol=1e-10)
    other = term.per_example(StepOutputs(None, [features[-1] + 1.0], [logits], [features], [teacher], {}))
    assert np.all(other.numpy() > 0.5)


def fit_critics(term, make_batch, steps=150):
    optimizer = keras.optimizers.Adam(3e-3)
    for step in range(steps):
        outputs = make_batch(step)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(term.per_example(outputs))
        optimizer.apply_gradients(zip(tape.gradient(loss, term.trainable_variables), term.trainable_variables))
    return {name: float(value) for name, value in term.step_logs.items()}


def test_mutual_information_estimate_rises_for_dependent_features():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(16, 16)).astype("float32")  # a fixed invertible map

    def batch(dependent):
        def make(step):
            teacher = rng.normal(size=(64, 8, 16)).astype("float32")
            student = teacher @ mixing if dependent else rng.normal(size=(64, 8, 16)).astype("float32")
            return StepOutputs(None, [tf.constant(student)], [tf.zeros((64, 3))], [[tf.constant(teacher)]])

        return make

    estimates = {}
    for dependent in (True, False):
        tf.random.set_seed(0)
        term = CrossLayerMutualInformation(student_stages=[0], teacher_layers=[0], projection_dim=16)
        term.prepare([16], [[16]])
        estimates[dependent] = fit_critics(term, batch(dependent))["mi_s0_t0"]
    assert estimates[True] > 2.0 and abs(estimates[False]) < 0.3  # log 64 = 4.16 bounds both


def test_distiller_logs_each_pair_and_learns_pair_weights():
    teacher = teacher_12_leads()
    student = LiteHeartStudent(3)
    mi = CrossLayerMutualInformation(student_stages=(-2, -1), teacher_layers=(-1, "logits"), learn_weights=True)
    region = RegionAwareDistillation(0.5, student_stage=-1, teacher_stage=-1)
    distiller = Distiller(student, teacher, [region, mi])
    distiller.compile(optimizer="adam")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 1000, 12)).astype("float32")
    y = (rng.random((16, 3)) < 0.4).astype("float32")
    history = distiller.fit({"teacher": x, "student": x[:, :, :1]}, y, epochs=1, batch_size=8, verbose=0).history
    assert {"region_kd", "mi_kd", "mi_s-2_t-1", "mi_s-2_tlogits", "mi_s-1_t-1", "mi_s-1_tlogits"} <= set(history)
    weights = mi.pair_weights().numpy()
    np.testing.assert_allclose(weights.sum(), 1.0, atol=1e-6)
    assert not np.allclose(weights, 0.25), "the attention over teacher layers should have moved"
    with pytest.raises(ValueError, match="no stage"):
        Distiller(LiteHeartStudent(3), teacher, [CrossLayerMutualInformation(student_stages=(7,))])


def test_learned_pair_weights_cannot_collapse_onto_one_pair():
    """However far the attention goes, each of the 2 x 2 pairs keeps floor / 4 of the weight."""
    mi = CrossLayerMutualInformation(student_stages=(-2, -1), teacher_layers=(-1, "logits"), learn_weights=True)
    mi.prepare([8, 16], [[8, 16]])
    mi.attention.assign([[100.0, -100.0], [-100.0, 100.0]])
    weights = mi.pair_weights().numpy()
    np.testing.assert_allclose(weights, [[0.375, 0.125], [0.125, 0.375]], atol=1e-6)
    with pytest.raises(ValueError, match="weight_floor"):
        CrossLayerMutualInformation(weight_floor=1.5)


def test_region_term_with_beat_weight_refuses_a_batch_without_beats():
    teacher = teacher_12_leads()
    distiller = Distiller(LiteHeartStudent(3), teacher, [RegionAwareDistillation(beat_weight=1.0)])
    x = np.random.default_rng(0).normal(size=(2, 1000, 12)).astype("float32")
    labels = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="no 'beats'"):
        distiller.compute_losses({"teacher": x, "student": x[:, :, :1]}, labels, training=True)
    beats = np.stack([beat_profile([100, 400, 700], 1000, 100)] * 2)
    inputs = {"teacher": x, "student": x[:, :, :1], "beats": beats}
    assert np.isfinite(distiller.compute_losses(inputs, labels, training=True)[0].numpy()).all()
