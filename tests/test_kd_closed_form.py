"""Logit distillation against its closed form, computed by hand in numpy: value and gradient, with and without T².

Bernoulli (per class, averaged over the K classes), with p = sigmoid(t / T) and q = sigmoid(s / T):
    KL = mean_k [p log(p / q) + (1 - p) log((1 - p) / (1 - q))],  dKL/ds_k = (q_k - p_k) / (K T).
Softmax (across classes), with p = softmax(t / T) and q = softmax(s / T):
    KL = sum_k p log(p / q),  dKL/ds_k = (q_k - p_k) / T.
"""

import numpy as np
import pytest
import tensorflow as tf

from lrhnet.terms import LogitDistillation, StepOutputs, carry_weights

TEACHER = np.array([[2.0, -1.0, 0.5, 4.0], [-3.0, 1.5, 0.0, -0.5]])
STUDENT = np.array([[0.5, 0.3, -1.0, 2.0], [1.0, -2.0, 0.7, 0.1]])
T = 7.0


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def by_hand(mode):
    """(value (B,), gradient (B, K)) of the KL without T²."""
    if mode == "bernoulli":
        p, q = sigmoid(TEACHER / T), sigmoid(STUDENT / T)
        value = np.mean(p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)), axis=1)
        return value, (q - p) / (TEACHER.shape[1] * T)
    p, q = softmax(TEACHER / T), softmax(STUDENT / T)
    return np.sum(p * np.log(p / q), axis=1), (q - p) / T


@pytest.mark.parametrize("mode", LogitDistillation.MODES)
@pytest.mark.parametrize("scale_t2", [False, True])
def test_value_and_gradient_match_the_closed_form(mode, scale_t2):
    term = LogitDistillation(weight=0.7, temperature=T, mode=mode, scale_t2=scale_t2)
    student = tf.Variable(STUDENT, dtype=tf.float64)
    with tf.GradientTape() as tape:
        outputs = StepOutputs(
            student_logits=student, student_features=[], teacher_logits=[tf.constant(TEACHER)], teacher_features=[[]]
        )
        value = term.per_example(outputs)
        total = tf.reduce_sum(value)
    factor = T**2 if scale_t2 else 1.0
    expected_value, expected_gradient = by_hand(mode)
    np.testing.assert_allclose(value.numpy(), factor * expected_value, rtol=1e-10)
    np.testing.assert_allclose(tape.gradient(total, student).numpy(), factor * expected_gradient, rtol=1e-8)


def test_the_default_is_the_papers_no_t2():
    assert LogitDistillation().scale_t2 is False and LogitDistillation(mode="softmax").scale_t2 is False


def test_supervised_term_and_the_papers_mix_match_the_closed_form():
    """Binary cross-entropy: mean_k -[y log σ(s) + (1 - y) log(1 - σ(s))], gradient (σ(s) - y) / K; the loss the
    Distiller minimises, 0.3 * BCE + 0.7 * KL (LRH-Net's a = 0.3, T = 7), has gradient
    0.3 (σ(s) - y) / K + 0.7 (q - p) / (K T)."""
    from lrhnet.distiller import multilabel_loss

    labels = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    student = tf.Variable(STUDENT, dtype=tf.float64)
    term = LogitDistillation(weight=0.7, temperature=T)
    with tf.GradientTape(persistent=True) as tape:
        supervised = multilabel_loss(tf.constant(labels), student)
        outputs = StepOutputs(student, [], [tf.constant(TEACHER)], [[]])
        mixed = 0.3 * supervised + term.weight * term.per_example(outputs)
        totals = tf.reduce_sum(supervised), tf.reduce_sum(mixed)
    q = sigmoid(STUDENT)
    bce = -np.mean(labels * np.log(q) + (1 - labels) * np.log(1 - q), axis=1)
    np.testing.assert_allclose(supervised.numpy(), bce, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(totals[0], student).numpy(), (q - labels) / 4, rtol=1e-6)
    kl, kl_gradient = by_hand("bernoulli")
    np.testing.assert_allclose(mixed.numpy(), 0.3 * bce + 0.7 * kl, rtol=1e-6)
    np.testing.assert_allclose(
        tape.gradient(totals[1], student).numpy(), 0.3 * (q - labels) / 4 + 0.7 * kl_gradient, rtol=1e-6
    )


def test_class_weighted_kd_matches_the_closed_form():
    """Weights w: KL = mean_k w_k KL_k and dKL/ds_k = w_k (q_k - p_k) / (K T)."""
    weights = np.array([2.0, 0.0, 1.5, 0.5])
    term = LogitDistillation(temperature=T, class_weights=weights)
    student = tf.Variable(STUDENT, dtype=tf.float64)
    with tf.GradientTape() as tape:
        value = term.per_example(StepOutputs(student, [], [tf.constant(TEACHER)], [[]]))
        total = tf.reduce_sum(value)
    p, q = sigmoid(TEACHER / T), sigmoid(STUDENT / T)
    per_class = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    np.testing.assert_allclose(value.numpy(), np.mean(weights * per_class, axis=1), rtol=1e-10)
    np.testing.assert_allclose(tape.gradient(total, student).numpy(), weights * (q - p) / (4 * T), rtol=1e-8)
    with pytest.raises(ValueError, match="class_weights"):
        LogitDistillation(mode="softmax", class_weights=weights)
    with pytest.raises(ValueError, match="class_weights"):
        LogitDistillation(class_weights=[1.0, -1.0])


def test_carry_weights_by_hand():
    """Shares of the teacher's AUROC above chance (0.2/0.4, 0.3/0.3, none, unscorable), rescaled to mean 1."""
    weights = carry_weights([0.9, 0.8, 0.5, np.nan], [0.7, 0.85, 0.6, 0.7])
    np.testing.assert_allclose(weights, np.array([0.5, 1.0, 0.0, 0.0]) / 0.375)
    np.testing.assert_array_equal(carry_weights([0.5, 0.4], [0.6, 0.6]), [1.0, 1.0])  # nothing to carry: plain KD
