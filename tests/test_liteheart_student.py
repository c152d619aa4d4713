"""The LiteHeart 1-lead student: size budget, lead choice, stage features, save/load."""

import numpy as np
import pytest

from liteheart import LiteHeartStudent
from lrhnet import LRHNet
from lrhnet.efficiency import multiply_accumulates, trainable_parameters
from lrhnet.saving import load_network


def test_budget_and_cost():
    student = LiteHeartStudent(4)
    student(student.example_inputs(1000))
    assert trainable_parameters(student) == 65_068
    with_demographics = LiteHeartStudent(24, demographics=True)
    with_demographics(with_demographics.example_inputs(1000))
    assert trainable_parameters(with_demographics) <= 100_000
    assert multiply_accumulates(student, 1000) < 0.5 * multiply_accumulates(LRHNet(1, 4), 1000)


def test_lead_choice_and_features():
    assert LiteHeartStudent(4).lead == "I" and LiteHeartStudent(4, lead="avl").lead == "aVL"
    with pytest.raises(ValueError, match="unknown lead"):
        LiteHeartStudent(4, lead="V9")
    logits, features = LiteHeartStudent(4).forward(np.zeros((2, 1000, 1), "float32"))
    assert logits.shape == (2, 4) and [tuple(f.shape[1:]) for f in features] == [
        (500, 16),
        (250, 24),
        (125, 32),
        (63, 48),
    ]
    with pytest.raises(ValueError, match="1 leads"):
        LiteHeartStudent(4)(np.zeros((2, 1000, 2), "float32"))


def test_save_and_load(tmp_path):
    student = LiteHeartStudent(3, lead="II")
    x = np.random.default_rng(0).normal(size=(2, 500, 1)).astype("float32")
    expected = student(x, training=False).numpy()
    student.save(tmp_path / "s.keras")
    loaded = load_network(str(tmp_path / "s.keras"))
    assert loaded.lead == "II"
    np.testing.assert_array_equal(loaded(x, training=False).numpy(), expected)
