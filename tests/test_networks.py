"""The three LRH-Net networks: paper parameter counts, shapes, stage features, inputs, save/load."""

import numpy as np
import pytest
import tf_keras as keras

from lrhnet import CNN1D, LRHNet, SEResNet1D
from lrhnet.saving import load_network

PAPER_COUNTS = {SEResNet1D: 8_831_300, LRHNet: 83_748, CNN1D: 993_860}


def trainable_count(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def inputs(leads, length=1024, batch=2, demographics=False, seed=0):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(batch, length, leads)).astype("float32")
    return (signal, rng.random((batch, 5)).astype("float32")) if demographics else signal


@pytest.mark.parametrize("network", list(PAPER_COUNTS))
def test_parameter_counts_match_the_paper(network):
    model = network(6, 24, demographics=True)
    model(inputs(6, demographics=True))
    assert abs(trainable_count(model) - PAPER_COUNTS[network]) <= 0.01 * PAPER_COUNTS[network]


@pytest.mark.parametrize(
    "network, stage_shapes",
    [
        (SEResNet1D, [(256, 16), (128, 32), (64, 64), (32, 128)]),
        (LRHNet, [(1024, 16), (512, 32), (256, 64)]),
        (CNN1D, [(32, 32), (8, 64), (2, 64), (1, 128)]),
    ],
)
def test_logits_and_stage_features_come_from_one_pass(network, stage_shapes):
    width = 0.25 if network is not LRHNet else 1.0
    model = network(3, 5, width=width)
    logits, features = model.forward(inputs(3), training=False)
    assert logits.shape == (2, 5)
    assert [tuple(f.shape[1:]) for f in features] == stage_shapes
    np.testing.assert_allclose(model(inputs(3), training=False).numpy(), logits.numpy(), atol=1e-6)


def test_width_option_narrows_the_teacher():
    narrow, full = SEResNet1D(12, 5, width=0.25), SEResNet1D(12, 5)
    narrow(inputs(12)), full(inputs(12))
    assert trainable_count(narrow) < trainable_count(full) / 10


def test_wrong_inputs_are_refused_clearly():
    with pytest.raises(ValueError, match=r"3 leads"):
        LRHNet(3, 5)(inputs(2))
    with pytest.raises(ValueError, match="demographics"):
        LRHNet(3, 5, demographics=True)(inputs(3))
    with pytest.raises(ValueError, match="without demographics"):
        LRHNet(3, 5)(inputs(3, demographics=True))


@pytest.mark.parametrize(
    "network, demographics",
    [(LRHNet, True), pytest.param(SEResNet1D, False, marks=pytest.mark.slow), (CNN1D, True)],  # 23 s: slow run
)
def test_save_and_load_give_identical_outputs(tmp_path, network, demographics):
    model = network(2, 4, demographics=demographics, width=0.25 if network is not LRHNet else 1.0)
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    x = inputs(2, 512, batch=8, demographics=demographics)
    model.fit(x, np.ones((8, 4), "float32"), epochs=1, verbose=0)  # moves BN statistics away from their start
    expected = model(x, training=False).numpy()
    model.save(tmp_path / "model.keras")
    model.save(tmp_path / "saved_model", save_format="tf")
    # the project's loader for .keras files; Keras itself for the TensorFlow SavedModel folder
    for loaded in (load_network(str(tmp_path / "model.keras")), keras.models.load_model(tmp_path / "saved_model")):
        np.testing.assert_array_equal(loaded(x, training=False).numpy(), expected)
        assert int(loaded.steps_trained.numpy()) == 1
