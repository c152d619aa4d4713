"""Quantization-aware training through Conv2D twins, and its int8 TFLite graph."""

import numpy as np
import pytest
import tf_keras as keras
from conftest import op_dtypes

from liteheart import LiteHeartStudent
from lrhnet import Distiller, LogitDistillation, LRHNet, SEResNet1D
from lrhnet.compress import UpdatePruningStep, kernel_sparsity, prune_layers, strip_pruning
from lrhnet.export import export_tflite
from lrhnet.litert import TFLiteModel
from lrhnet.twin import GraphNetwork, quantize_twin, student_twin

WINDOW = 400


def data(demographics=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(48, WINDOW, 1)).astype("float32")
    demo = rng.random((48, 5)).astype("float32")
    return x, demo, np.eye(4, dtype="float32")[rng.integers(0, 4, 48)]


def trained(network, inputs, y):
    network.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    network.fit(inputs, y, epochs=2, batch_size=16, verbose=0)
    return network


STUDENTS = {"lrhnet": LRHNet, "liteheart": lambda leads, classes, **kwargs: LiteHeartStudent(classes, **kwargs)}


@pytest.mark.parametrize("demographics", [False, True])
@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_twin_computes_the_same_function(student, demographics):
    x, demo, y = data()
    network = trained(STUDENTS[student](1, 4, demographics=demographics), (x, demo) if demographics else x, y)
    twin = student_twin(network, WINDOW)
    twin_inputs = [x[:, None], demo] if demographics else x[:, None]
    expected = network((x, demo) if demographics else x, training=False).numpy()
    np.testing.assert_allclose(twin(twin_inputs, training=False).numpy(), expected, atol=1e-5)
    with pytest.raises(TypeError, match="twins exist for LRHNet and LiteHeartStudent"):
        student_twin(SEResNet1D(1, 4, width=0.25), WINDOW)


@pytest.mark.parametrize(
    "student", ["lrhnet", pytest.param("liteheart", marks=pytest.mark.slow)]
)  # LiteHeart's QAT with `python -m pytest -m slow` (the default run stays under 15 minutes)
def test_qat_student_distils_and_converts_to_an_all_int8_graph(tmp_path, student):
    x, _, y = data()
    keras.utils.set_random_seed(0)
    teacher = trained(LRHNet(1, 4, name="teacher"), x, y)
    student = trained(STUDENTS[student](1, 4), x, y)
    qat = GraphNetwork(quantize_twin(student_twin(student, WINDOW)), 1, 4, name="qat_student")
    distiller = Distiller(qat, teacher, [LogitDistillation(0.7, mode="softmax", scale_t2=True)])
    distiller.compile(optimizer=keras.optimizers.Adam(1e-4), multilabel=False)
    history = distiller.fit({"teacher": x, "student": x}, y, epochs=2, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    path = str(tmp_path / "qat.tflite")
    export_tflite(
        qat, path, "int8", window=WINDOW, classes=list("NAO~"), leads=["I"], fs=100, preprocessing={}, multilabel=False
    )
    ops = op_dtypes(path)
    compute_ops = {name: dtypes for name, dtypes in ops.items() if name not in ("QUANTIZE", "DEQUANTIZE")}
    assert {"CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D"} <= set(compute_ops)
    assert all(np.float32 not in dtypes for dtypes in compute_ops.values()), compute_ops
    got, expected = TFLiteModel(path)(x), qat(x, training=False).numpy()
    step = np.min(np.diff(np.unique(expected)))  # the QAT model's outputs are fake-quantized to this grid
    assert np.abs(got - expected).max() <= 1.01 * step, "TFLite and Keras QAT differ by more than one output step"


def test_pruning_preserving_qat_keeps_the_zeros():
    x, _, y = data()
    keras.utils.set_random_seed(0)
    student = trained(LRHNet(1, 4), x, y)
    prune_layers(student, 0.5, end_step=4, frequency=1)
    student.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    student.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[UpdatePruningStep()])
    strip_pruning(student)
    assert kernel_sparsity(student)[0] == pytest.approx(0.5, abs=0.01)
    quantized = quantize_twin(student_twin(student, WINDOW), preserve_sparsity=True)
    quantized.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    quantized.fit(x[:, None], y, epochs=2, batch_size=16, verbose=0)
    kernels = [
        w.numpy()
        for w in quantized.weights
        if w.name.endswith(("/kernel:0", "/depthwise_kernel:0")) and "_bn" not in w.name
    ]
    zeros = sum(int((k == 0).sum()) for k in kernels) / sum(k.size for k in kernels)
    assert zeros == pytest.approx(0.5, abs=0.02)
