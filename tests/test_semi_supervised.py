"""Semi-supervised LiteHeart: pseudo-labels, augmentation consistency, the EMA student, NaN-labelled
rows, mixed batches from the data layer, and a tiny end-to-end run on real records."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from data_utils import STANDARD_LEADS, Preprocessing, open_dataset
from data_utils.augment import Augmentation
from data_utils.cache import build_cache
from data_utils.pipeline import ECGPipeline
from data_utils.splits import labeled_split
from liteheart import LiteHeartStudent
from liteheart.semi_supervised import (
    AugmentationConsistency,
    PseudoLabels,
    SemiSupervisedDistiller,
    distiller_options,
    liteheart_terms,
    strong_augment,
    weak_augment,
)
from lrhnet import SEResNet1D
from lrhnet.terms import StepOutputs


def teacher_12_leads(classes=3):
    teacher = SEResNet1D(12, classes, width=0.25)
    teacher(teacher.example_inputs(800))
    teacher.steps_trained.assign(1)
    return teacher


def mixed_batch(classes=3, labeled=4, unlabeled=4, seed=0):
    rng = np.random.default_rng(seed)
    n = labeled + unlabeled
    signal = rng.normal(size=(n, 800, 12)).astype("float32")
    labels = np.eye(classes, dtype="float32")[rng.integers(0, classes, n)]
    labels[labeled:] = np.nan
    return {"teacher": signal, "student": signal[..., :1]}, labels


def test_pseudo_labels_match_a_hand_computed_case():
    teacher_logits = tf.constant([[5.0, 0.0, 0.0], [5.0, 0.0, 0.0], [0.2, 0.1, 0.0], [0.0, 6.0, 0.0]])
    student_logits = tf.constant([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    labeled = tf.constant([1.0, 0.0, 0.0, 0.0])  # row 0 labelled: no pseudo-label loss there
    term = PseudoLabels(threshold=0.9, multilabel=False)
    loss = term.per_example(StepOutputs(student_logits, [], [teacher_logits], [], labeled=labeled)).numpy()
    expected_1 = -np.log(np.exp(1.0) / (np.exp(1.0) + 2))  # confident class 0
    expected_3 = -np.log(1 / (2 + np.exp(2.0)))  # confident class 1, student favours class 2
    np.testing.assert_allclose(loss, [0.0, expected_1, 0.0, expected_3], rtol=1e-5)
    assert term.step_logs["pseudo_label_rate"].numpy() == pytest.approx(2 / 3)


def test_multilabel_pseudo_labels_use_only_confident_classes():
    teacher_logits = tf.constant([[4.0, -4.0, 0.0]])  # p = 0.982, 0.018, 0.5
    student_logits = tf.constant([[0.0, 0.0, 3.0]])
    term = PseudoLabels(threshold=0.9, multilabel=True)
    loss = term.per_example(StepOutputs(student_logits, [], [teacher_logits], [], labeled=tf.constant([0.0]))).numpy()
    np.testing.assert_allclose(
        loss, [(2 * np.log(2.0)) / 3], rtol=1e-5
    )  # two confident classes, each log 2; the third left out
    assert term.step_logs["pseudo_label_rate"].numpy() == pytest.approx(2 / 3)


def test_consistency_is_zero_without_a_strong_pass_and_flows_only_through_it():
    weak = tf.Variable([[1.0, -1.0, 0.5]])
    strong = tf.Variable([[0.0, 0.0, 0.0]])
    term = AugmentationConsistency(multilabel=False)
    assert term.per_example(StepOutputs(weak, [], [], [])).numpy()[0] == 0.0
    with tf.GradientTape() as tape:
        value = term.per_example(StepOutputs(weak * 1.0, [], [], [], extra={"strong_logits": strong * 1.0}))
    weak_gradient, strong_gradient = tape.gradient(value, [weak, strong])
    assert value.numpy()[0] > 0 and weak_gradient is None and np.abs(strong_gradient.numpy()).sum() > 0
    same = term.per_example(StepOutputs(weak, [], [], [], extra={"strong_logits": tf.identity(weak)}))
    assert same.numpy()[0] == pytest.approx(0.0, abs=1e-6)


def test_augmentations_keep_shapes_and_strong_changes_more():
    x = tf.random.normal((8, 500, 1), seed=1)
    weak, strong = weak_augment(x), strong_augment(x)
    assert weak.shape == strong.shape == x.shape
    assert float(tf.reduce_mean(tf.abs(strong - x))) > 2 * float(tf.reduce_mean(tf.abs(weak - x)))


def test_the_strong_baseline_swing_is_slow_in_hertz_at_any_rate():
    """On a flat 20 s window the swing's strongest frequency lies in 0.1-0.5 Hz at 100 and at 500 Hz
    (noise and the blanked stretch aside): the rate is read in Hz, not cycles per sample."""
    for fs in (100, 500):
        tf.random.set_seed(3)
        out = strong_augment(tf.zeros((16, 20 * fs, 1)), fs=float(fs)).numpy()[:, :, 0]
        spectrum = np.abs(np.fft.rfft(out, axis=1))[:, 1:]
        peaks = (np.argmax(spectrum, axis=1) + 1) / 20.0  # Hz: bin k of a 20 s window is k / 20 Hz
        assert np.mean((peaks >= 0.05) & (peaks <= 0.55)) >= 0.75, peaks


def test_nan_labelled_rows_keep_the_loss_finite_and_the_student_learning():
    keras.utils.set_random_seed(0)
    teacher, student = teacher_12_leads(), LiteHeartStudent(3)
    distiller = SemiSupervisedDistiller(
        student, teacher, liteheart_terms(multilabel=False, pseudo_source="ema", threshold=0.6), ema_decay=0.9
    )
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3), multilabel=False)
    inputs, labels = mixed_batch()
    before = [w.numpy().copy() for w in student.trainable_weights]
    teacher_before = [w.numpy().copy() for w in teacher.weights]
    ema_weights = [distiller.ema_student.weights[i] for i in distiller.ema_positions]  # the student's order
    ema_before = [w.numpy().copy() for w in ema_weights]
    logs = distiller.train_on_batch(inputs, labels, return_dict=True)
    assert all(np.isfinite(value) for value in logs.values()), logs
    assert {"pseudo_label", "pseudo_label_rate", "consistency", "region_kd", "mi_kd", "logit_kd"} <= set(logs)
    assert any(not np.array_equal(old, w.numpy()) for old, w in zip(before, student.trainable_weights))
    assert all(np.array_equal(old, w.numpy()) for old, w in zip(teacher_before, teacher.weights))
    for old, average, current in zip(ema_before, ema_weights, student.weights):
        if current.dtype.is_floating:
            np.testing.assert_allclose(average.numpy(), 0.9 * old + 0.1 * current.numpy(), rtol=1e-5, atol=1e-6)
    all_unlabeled = np.full_like(labels, np.nan)
    assert np.isfinite(distiller.train_on_batch(inputs, all_unlabeled, return_dict=True)["loss"])


@pytest.mark.parametrize("multilabel", [False, True])
def test_an_lrhnet_student_with_demographics_learns_from_kd_and_consistency(multilabel):
    from lrhnet import LogitDistillation, LRHNet

    keras.utils.set_random_seed(0)
    teacher = SEResNet1D(12, 3, width=0.25, demographics=True)
    teacher(teacher.example_inputs(800))
    teacher.steps_trained.assign(1)
    student = LRHNet(1, 3, demographics=True)
    mode = "bernoulli" if multilabel else "softmax"
    terms = [LogitDistillation(0.7, mode=mode), AugmentationConsistency(1.0, multilabel=multilabel)]
    distiller = SemiSupervisedDistiller(student, teacher, terms, weak_augmentation=False)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3), multilabel=multilabel)
    inputs, labels = mixed_batch(labeled=8, unlabeled=0)
    inputs["demographics"] = np.random.default_rng(1).normal(size=(8, 5)).astype("float32")
    before = [w.numpy().copy() for w in student.trainable_weights]
    teacher_before = [w.numpy().copy() for w in teacher.weights]
    logs = distiller.train_on_batch(inputs, labels, return_dict=True)
    assert logs["consistency"] > 0 and np.isfinite(logs["loss"]), logs
    assert any(not np.array_equal(old, w.numpy()) for old, w in zip(before, student.trainable_weights))
    assert all(np.array_equal(old, w.numpy()) for old, w in zip(teacher_before, teacher.weights))
    evaluated = distiller.evaluate(inputs, labels, return_dict=True, verbose=0)
    assert evaluated["consistency"] == 0.0  # no strong pass at evaluation


def test_switches_and_bad_arguments():
    names = [term.name for term in liteheart_terms(region=0, pseudo=0.5)]
    assert names == ["logit_kd", "mi_kd", "pseudo_label", "consistency"]
    with pytest.raises(ValueError, match="unknown LiteHeart terms"):
        liteheart_terms(regoin=1.0)
    with pytest.raises(ValueError, match="needs ema_decay"):
        SemiSupervisedDistiller(LiteHeartStudent(3), teacher_12_leads(), [PseudoLabels(source="ema")])
    with pytest.raises(ValueError, match="threshold"):
        PseudoLabels(threshold=0.3)


def cached(dataset, tmp_path):
    return build_cache(
        dataset,
        Preprocessing(fs=100, band=(0.5, 40.0)),
        STANDARD_LEADS,
        cache_dir=str(tmp_path / "cache"),
        progress=False,
    )


def test_semi_supervised_batches_put_labelled_rows_first(tmp_path):
    cache = cached(open_dataset("synthetic:n=40,fs=100,seconds=6,seed=1"), tmp_path)
    pipeline = ECGPipeline(cache, 12, "I", window_seconds=4)
    labeled, unlabeled = labeled_split(np.arange(40), cache.labels, 0.25, seed=0)
    assert len(labeled) + len(unlabeled) == 40 and not set(labeled) & set(unlabeled)
    batches = list(pipeline.semi_supervised(labeled, unlabeled, batch_size=4, unlabeled_batch_size=8, seed=0))
    assert len(batches) == int(np.ceil(len(unlabeled) / 8))
    inputs, labels = batches[0]
    assert (
        inputs["teacher"].shape == (12, 400, 12) and inputs["student"].shape == (12, 400, 1) and labels.shape[0] == 12
    )
    assert np.all(np.isfinite(labels[:4])) and np.all(np.isnan(labels[4:]))
    np.testing.assert_array_equal(
        inputs["student"][..., 0], inputs["teacher"][..., 0]
    )  # lead I is the teacher's first lead
    assert (
        len(list(pipeline.semi_supervised(np.arange(40), np.arange(0), batch_size=8))) == 5
    )  # fully labelled: plain batches
    with pytest.raises(ValueError, match="at least one labelled row"):
        pipeline.semi_supervised(np.arange(0), np.arange(40))


def test_the_student_augments_on_its_own_only_when_the_pipeline_does_not(tmp_path):
    cache = cached(open_dataset("synthetic:n=8,fs=100,seconds=6,seed=1"), tmp_path)
    plain = ECGPipeline(cache, 12, "I", window_seconds=4)
    shared = ECGPipeline(cache, 12, "I", window_seconds=4, augmentation=Augmentation())
    assert distiller_options(plain) == {"fs": cache.fs, "weak_augmentation": True}
    assert distiller_options(shared) == {"fs": cache.fs, "weak_augmentation": False}


@pytest.mark.slow  # the default run stays under 15 minutes on a slower CPU; `python -m pytest -m slow`
def test_tiny_semi_supervised_run_on_real_records(bundled, tmp_path):
    dataset = open_dataset(bundled("ludb"))
    cache = cached(dataset.with_classes(sorted(dataset.class_counts(), key=dataset.class_counts().get)[-2:]), tmp_path)
    pipeline = ECGPipeline(cache, 12, "I", window_seconds=4)
    rows = np.arange(len(cache))
    labeled, unlabeled = rows[:1], rows[1:]
    keras.utils.set_random_seed(0)
    teacher = SEResNet1D(12, len(cache.classes), width=0.25)
    teacher.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    teacher.fit(pipeline.train(rows, 4, view="teacher"), epochs=1, verbose=0)
    student = LiteHeartStudent(len(cache.classes))
    distiller = SemiSupervisedDistiller(student, teacher, liteheart_terms(threshold=0.7))
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = distiller.fit(
        pipeline.semi_supervised(labeled, unlabeled, batch_size=1, seed=0).repeat(4), epochs=3, verbose=0
    ).history
    assert len(history["loss"]) == 3 and all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]
    logits = distiller.predict(pipeline.evaluate(rows, batch_size=4), verbose=0)
    assert logits.shape == (len(cache), len(cache.classes)) and np.all(np.isfinite(logits))
