"""Training that converges: the cosine schedule with warm-up, early stopping on validation, and
feature alignment by average pooling (every student step gets a gradient)."""

import types

import numpy as np
import pytest
import tensorflow as tf

from lrhnet import training
from lrhnet.terms import align_length
from lrhnet.training import SelectOnValidation, cosine_rate


def test_cosine_rate_by_hand():
    rates = [cosine_rate(epoch, 4, initial=1.0) for epoch in range(4)]  # no warm-up under 10 epochs
    np.testing.assert_allclose(rates, [1.0, 0.5 * (1 + np.cos(np.pi / 4)), 0.5, 0.5 * (1 + np.cos(3 * np.pi / 4))])
    assert cosine_rate(0, 10, initial=1.0) == pytest.approx(0.5)  # 10 epochs: 1 warm-up epoch (half up)
    assert cosine_rate(0, 40, initial=2.0) == pytest.approx(2.0 / 3)  # 2 warm-up epochs
    assert cosine_rate(39, 40, initial=2.0) == pytest.approx(2.0 * 0.5 * (1 + np.cos(np.pi * 37 / 38)))


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience(monkeypatch):
    scores = iter([0.60, 0.70, 0.65, 0.69, 0.68, 0.90])
    monkeypatch.setattr(training, "predict_probabilities", lambda *args: (np.zeros((2, 1)), np.zeros((2, 1))))
    monkeypatch.setattr(training, "score", lambda *args: {"macro_auroc": next(scores)})
    network = types.SimpleNamespace(get_weights=lambda: "weights")
    selector = SelectOnValidation(network, validation_data=None, classes=("a",), patience=3)
    selector.model = types.SimpleNamespace(stop_training=False)
    for epoch in range(6):
        selector.on_epoch_end(epoch, {})
        if selector.model.stop_training:
            break
    assert (selector.best_epoch, selector.best_score, selector.last_epoch, epoch) == (1, 0.70, 4, 4)
    assert selector.model.stop_training


def test_average_pooling_alignment_reaches_every_step():
    features = tf.Variable(np.random.default_rng(0).normal(size=(2, 250, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        pooled = align_length(features, 32)
        total = tf.reduce_sum(pooled * np.arange(1, 33, dtype=np.float32)[None, :, None])
    gradient = tape.gradient(total, features).numpy()
    assert pooled.shape == (2, 32, 3) and np.all(gradient != 0), "every one of the 250 steps gets a gradient"
    eight = np.arange(8, dtype=np.float32).reshape(1, 8, 1)
    np.testing.assert_allclose(align_length(tf.constant(eight), 4).numpy()[0, :, 0], [0.5, 2.5, 4.5, 6.5])
    assert align_length(tf.constant(eight), 16).shape == (1, 16, 1)  # lengthening interpolates
    dynamic = tf.function(lambda x: align_length(x, 4), input_signature=[tf.TensorSpec((1, None, 1))])
    np.testing.assert_allclose(dynamic(tf.constant(eight)).numpy()[0, :, 0], [0.5, 2.5, 4.5, 6.5])
