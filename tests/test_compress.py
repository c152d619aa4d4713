"""Magnitude pruning inside our subclassed networks, fine-tuned with distillation on."""

import numpy as np
import pytest
import tf_keras as keras

from liteheart import LiteHeartStudent
from lrhnet import CNN1D, Distiller, LogitDistillation, LRHNet
from lrhnet.compress import UpdatePruningStep, kernel_sparsity, prune_layers, pruning_wrappers, strip_pruning
from lrhnet.saving import load_network


def fitted(network, x, y):
    network.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    network.fit(x, y, epochs=1, batch_size=16, verbose=0)
    return network


def liteheart_on_lead_ii(num_leads, num_classes, width):
    return LiteHeartStudent(num_classes, lead="II", width=width)


@pytest.mark.parametrize(
    "student_class", [LRHNet, CNN1D, pytest.param(liteheart_on_lead_ii, marks=pytest.mark.slow)]
)  # LiteHeart's pruning with `python -m pytest -m slow` (the default run stays under 15 minutes)
def test_pruned_student_reaches_target_sparsity_and_keeps_it(tmp_path, student_class):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 512, 2)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.integers(0, 4, 64)]
    keras.utils.set_random_seed(0)
    teacher = fitted(LRHNet(2, 4, name="teacher"), x, y)
    student_x = x[..., 1:] if student_class is liteheart_on_lead_ii else x
    student = fitted(student_class(2, 4, width=0.25 if student_class is CNN1D else 1.0), student_x, y)
    before = [(w, w.numpy().copy()) for w in teacher.weights]  # the variables themselves: names repeat
    prune_layers(student, target_sparsity=0.6, end_step=8, frequency=2)
    wrappers = len(pruning_wrappers(student))
    assert (
        wrappers == {LRHNet: 17, CNN1D: 5, liteheart_on_lead_ii: 22}[student_class]
    )  # every Conv1D and Dense, nested or not
    distiller = Distiller(student, teacher, [LogitDistillation(0.7, mode="softmax", scale_t2=True)])
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3), multilabel=False)
    distiller.fit(
        {"teacher": x, "student": student_x}, y, epochs=3, batch_size=16, verbose=0, callbacks=[UpdatePruningStep()]
    )
    strip_pruning(student)
    assert pruning_wrappers(student) == []
    overall, per_layer = kernel_sparsity(student)
    assert overall == pytest.approx(0.6, abs=0.01) and all(f == pytest.approx(0.6, abs=0.02) for _, f in per_layer)
    assert all(np.array_equal(value, w.numpy()) for w, value in before)
    expected = student(student_x[:4], training=False).numpy()
    student.save(tmp_path / "pruned.keras")
    loaded = load_network(str(tmp_path / "pruned.keras"))
    assert kernel_sparsity(loaded)[0] == pytest.approx(overall)
    np.testing.assert_array_equal(loaded(student_x[:4], training=False).numpy(), expected)


def test_pruning_arguments_are_checked():
    with pytest.raises(ValueError, match="sparsity"):
        prune_layers(LRHNet(1, 2), 1.5, end_step=10)
    with pytest.raises(ValueError, match="end_step"):
        prune_layers(LRHNet(1, 2), 0.5, end_step=0)
