"""The Distiller: terms vanish when student equals teacher, gradients reach only the student and
adapters, bad inputs are refused before training, MLKD, a real LUDB run, and tf.distribute."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from data_utils import STANDARD_LEADS, Preprocessing, open_dataset
from data_utils.cache import build_cache
from data_utils.pipeline import ECGPipeline
from lrhnet import (
    Distiller,
    FeatureDistillation,
    LogitDistillation,
    LRHNet,
    SelectOnValidation,
    SEResNet1D,
    assistant_distiller,
    mlkd_distiller,
    step_decay,
)
from lrhnet.terms import StepOutputs


def trained(network, leads=None, classes=3, length=256):
    """A network with one training step behind it (so the Distiller does not warn)."""
    network(tf.zeros((1, length, leads or network.num_leads)))
    network.steps_trained.assign(1)
    return network


def batch(teacher_leads=4, student_leads=1, classes=3, size=8, length=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size, length, teacher_leads)).astype("float32")
    return {"teacher": x, "student": x[:, :, :student_leads]}, (rng.random((size, classes)) < 0.4).astype("float32")


@pytest.mark.parametrize("mode", LogitDistillation.MODES)
def test_logit_term_is_zero_when_student_equals_teacher(mode):
    logits = tf.constant(np.random.default_rng(0).normal(size=(4, 6)) * 3, tf.float32)
    term = LogitDistillation(temperature=7.0, mode=mode)
    same = term.per_example(StepOutputs(logits, [], [logits], [[]]))
    np.testing.assert_allclose(same.numpy(), 0.0, atol=1e-6)
    different = term.per_example(StepOutputs(logits * 0.5 + 1.0, [], [logits], [[]]))
    assert np.all(different.numpy() > 1e-4)


def test_feature_term_is_zero_when_mapped_student_features_equal_the_teachers():
    features = tf.constant(np.random.default_rng(1).normal(size=(2, 16, 8)), tf.float32)
    term = FeatureDistillation(pairs=[(0, 0)])
    term.prepare([8], [[8]])
    adapter = term.adapters[0]
    adapter.set_weights([np.eye(8, dtype="float32")[None], np.zeros(8, "float32")])
    np.testing.assert_allclose(
        term.per_example(StepOutputs(None, [features], [None], [[features]])).numpy(), 0, atol=1e-10
    )
    half_length = features[:, ::2]  # a student stage at half the teacher's length is resampled, not refused
    assert term.per_example(StepOutputs(None, [half_length], [None], [[features]])).shape == (2,)


def test_gradients_reach_student_and_adapters_never_the_teacher():
    teacher, student = trained(SEResNet1D(4, 3, width=0.25)), LRHNet(1, 3)
    distiller = Distiller(
        student, teacher, [LogitDistillation(0.7), FeatureDistillation(0.5, pairs=[(-1, -1), (0, 1)])]
    )
    distiller.compile(optimizer="adam")
    inputs, labels = batch()
    with tf.GradientTape(persistent=True) as tape:
        per_example = distiller.compute_losses(inputs, labels, training=True)[0]
        loss = tf.reduce_mean(per_example)
    adapters = [v for term in distiller.terms for v in term.trainable_variables]
    assert len(adapters) == 4 and {id(v) for v in distiller.trainable_variables} == {
        id(v) for v in student.trainable_variables + adapters
    }
    assert all(
        g is not None and np.any(g.numpy() != 0) for g in tape.gradient(loss, student.trainable_variables + adapters)
    )
    assert all(g is None for g in tape.gradient(loss, teacher.weights))


def test_fit_leaves_the_teacher_untouched_and_predict_returns_the_student():
    teacher, student = trained(SEResNet1D(4, 3, width=0.25)), LRHNet(1, 3)
    before = [(w, w.numpy().copy()) for w in teacher.weights]  # the variables themselves: names repeat
    distiller = Distiller(student, teacher, [LogitDistillation(0.7), FeatureDistillation(0.1)])
    distiller.compile(optimizer="adam", metrics=[keras.metrics.AUC(from_logits=True, multi_label=True, name="auc")])
    inputs, labels = batch(size=16)
    history = distiller.fit(inputs, labels, epochs=2, batch_size=8, verbose=0).history
    assert {"loss", "supervised", "logit_kd", "feature_kd", "auc"} <= set(history)
    assert all(np.array_equal(value, w.numpy()) for w, value in before)
    np.testing.assert_allclose(
        distiller.predict(inputs, verbose=0), student.predict(inputs["student"], verbose=0), atol=1e-6
    )
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(8)
    assert np.isfinite(distiller.evaluate(dataset, verbose=0, return_dict=True)["loss"])


def test_mixed_bfloat16_trains_in_bfloat16_with_float32_logits_and_saves_a_float32_network(tmp_path):
    from lrhnet.saving import load_network
    from lrhnet.training import precision_policy

    inputs, labels = batch(size=16)
    with precision_policy("mixed_bfloat16"):
        teacher, student = trained(SEResNet1D(4, 3, width=0.25)), LRHNet(1, 3)
        distiller = Distiller(student, teacher, [LogitDistillation(0.7), FeatureDistillation(0.1)])
        distiller.compile(optimizer="adam")
        history = distiller.fit(inputs, labels, epochs=2, batch_size=8, verbose=0).history
        logits, features = student.forward(inputs["student"])
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the block
    assert student.compute_dtype == "bfloat16" and student.weights[0].dtype == tf.float32
    assert logits.dtype == tf.float32 and features[0].dtype == tf.bfloat16
    assert distiller.terms[1].adapters[0].compute_dtype == "float32"  # the terms compute in float32
    assert all(np.isfinite(history[name]).all() for name in ("loss", "logit_kd", "feature_kd"))
    student.save(str(tmp_path / "student.keras"))
    loaded = load_network(str(tmp_path / "student.keras"))
    assert loaded.compute_dtype == "float32"
    np.testing.assert_allclose(loaded.predict(inputs["student"], verbose=0), logits.numpy(), atol=0.1)
    with pytest.raises(ValueError, match="not one of"):
        with precision_policy("float16"):
            pass


def test_unlabelled_rows_add_no_supervised_loss():
    student = LRHNet(1, 3)
    distiller = Distiller(student, [])
    distiller.compile(optimizer="adam", supervised_weight=1.0)
    inputs, labels = batch()
    labels[4:] = np.nan
    per_example = distiller.compute_losses(inputs, labels, training=False)[0].numpy()
    assert np.all(np.isfinite(per_example)) and np.all(per_example[4:] == 0) and np.all(per_example[:4] > 0)


def test_supervised_loss_is_the_mean_over_labelled_rows_only():
    """With 2 of 8 rows labelled, the batch's supervised loss is the mean cross-entropy of those 2,
    by hand; an all-unlabelled batch has none."""
    student = LRHNet(1, 3)
    distiller = Distiller(student, [])
    distiller.compile(optimizer="adam", supervised_weight=1.0)
    inputs, labels = batch(size=8)
    logits = student(inputs["student"], training=False).numpy().astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    by_hand = -(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean(axis=1)[:2].mean()
    labels[2:] = np.nan
    supervised = distiller.compute_losses(inputs, labels, training=False)[1].numpy()
    np.testing.assert_allclose(supervised.mean(), by_hand, rtol=1e-5)
    labels[:] = np.nan
    assert np.all(distiller.compute_losses(inputs, labels, training=False)[1].numpy() == 0)


def test_bad_inputs_are_refused_before_training():
    teacher = trained(SEResNet1D(4, 3, width=0.25))
    student = LRHNet(1, 3)
    distiller = Distiller(student, teacher, [LogitDistillation()])
    distiller.compile(optimizer="adam")
    start = [w.numpy().copy() for w in student.trainable_weights]
    inputs, labels = batch(teacher_leads=3)
    with pytest.raises(ValueError, match="reads 4 leads but the 'teacher' input has 3"):
        distiller.fit(inputs, labels, verbose=0)
    inputs, labels = batch(classes=5)
    with pytest.raises(ValueError, match="labels have 5 classes"):
        distiller.fit(inputs, labels, verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(start, student.trainable_weights))
    with pytest.raises(ValueError, match="classes"):
        Distiller(LRHNet(1, 4), teacher)
    with pytest.raises(ValueError, match="cannot be aligned"):
        Distiller(LRHNet(1, 3), teacher, [FeatureDistillation(pairs=[(3, 0)])])
    with pytest.raises(ValueError, match="distinct"):
        Distiller(LRHNet(1, 3), teacher, [LogitDistillation(), LogitDistillation(teacher_index=0)])
    with pytest.warns(UserWarning, match="never been trained"):
        Distiller(LRHNet(1, 3), SEResNet1D(4, 3, width=0.25))


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_multilevel_distillation(mode):
    teacher = trained(SEResNet1D(4, 3, width=0.25))
    inputs, labels = batch(teacher_leads=4, student_leads=2, size=16)
    assistant = LRHNet(2, 3, name="assistant")
    trainer = assistant_distiller(teacher, assistant, mode)
    trainer.compile(optimizer="adam", supervised_weight=1.0 if mode == "parallel" else 0.3)
    trainer.fit(inputs, labels, epochs=1, batch_size=8, verbose=0)
    assert len(trainer.teachers) == (0 if mode == "parallel" else 1) and int(assistant.steps_trained.numpy()) == 2
    student = LRHNet(2, 3)
    distiller = mlkd_distiller(student, teacher, assistant)
    distiller.compile(optimizer="adam", supervised_weight=0.3)
    history = distiller.fit(inputs, labels, epochs=1, batch_size=8, verbose=0).history
    assert [term.weight for term in distiller.terms] == pytest.approx([0.42, 0.28])
    assert distiller.teacher_views == ["teacher", "student"] and np.isfinite(history["kd_teacher2"][0])


def test_distilled_student_loss_decreases_on_real_ludb_records(bundled, tmp_path):
    dataset = open_dataset(bundled("ludb"))
    cache = build_cache(dataset, Preprocessing(fs=100), STANDARD_LEADS, cache_dir=str(tmp_path), progress=False)
    pipeline = ECGPipeline(cache, teacher_leads=12, student_leads=1, window_seconds=4)
    train = pipeline.train(np.tile(np.arange(3), 8), batch_size=8, seed=0)
    validation = pipeline.evaluate(np.arange(3), crop="sliding", stride_seconds=3)
    keras.utils.set_random_seed(0)
    teacher = SEResNet1D(12, len(cache.classes), width=0.25)
    teacher.compile(optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    teacher.fit(pipeline.train(np.tile(np.arange(3), 8), 8, seed=1, view="teacher"), epochs=3, verbose=0)
    student = LRHNet(1, len(cache.classes))
    distiller = Distiller(student, teacher, [LogitDistillation(0.7, temperature=7.0)])
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3))
    selector = SelectOnValidation(student, validation, cache.classes)
    history = distiller.fit(train, epochs=6, verbose=0, callbacks=[step_decay(3e-3, epochs=(4,)), selector]).history
    assert history["loss"][-1] < 0.8 * history["loss"][0]
    assert history["lr"][-1] == pytest.approx(3e-4) and len(history["val_macro_auroc"]) == 6
    assert selector.best_epoch is not None and selector.thresholds.shape == (len(cache.classes),)


@pytest.mark.slow  # the default run stays under 15 minutes on a slower CPU; `python -m pytest -m slow`
def test_distiller_under_mirrored_strategy_matches_one_device():
    script = os.path.join(os.path.dirname(__file__), "scripts", "mirrored_distiller.py")
    result = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["replicas"] == 2 and summary["mirrored_steps"] == 4
    assert summary["weights_moved"] > 1e-3 and summary["weights_difference"] < 1e-6


def test_single_label_epochs_are_scored_under_a_rule_tuned_on_validation():
    import tensorflow as tf

    from data_utils.scoring import cinc2017_f1

    # a fixed "network" whose softmax says N for every record, with A a close second on the A records
    logits = np.log(
        np.array([[0.6, 0.4, 0.0, 0.0]] * 4 + [[0.7, 0.1, 0.1, 0.1]] * 4 + [[0.2, 0.1, 0.6, 0.1]] * 2) + 1e-9
    )
    labels = np.eye(4, dtype=np.float32)[[1] * 4 + [0] * 4 + [2] * 2]
    inputs = keras.Input((4,))
    network = keras.Model(inputs, keras.layers.Lambda(lambda x: x)(inputs))
    network.demographics = False
    validation = tf.data.Dataset.from_tensor_slices(({"student": logits.astype(np.float32)}, labels)).batch(4)
    selector = SelectOnValidation(network, validation, ("N", "A", "O", "~"), multilabel=False)
    logs = {}
    selector.on_epoch_end(0, logs)
    argmax_f1 = cinc2017_f1(labels, logits)[0]
    assert logs["val_cinc2017_f1"] > argmax_f1  # dividing p_A by less than 1 recovers the A records
    assert selector.thresholds[0] == 1.0 and selector.thresholds[1] < 1.0
