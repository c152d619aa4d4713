"""Cross-layer mutual information: InfoNCE critics between student and teacher layers.

Our interpretation of LiteHeart's cross-layer MI module (docs/design.md). Each chosen student
stage and teacher layer (a stage, or ``"logits"`` for the teacher's decision) is average-pooled over
time and projected by its own dense head to a shared space; the critic is the cosine similarity of
the two projections over a temperature. Over a batch of B records, the InfoNCE bound (van den Oord
et al. 2018) gives I(student layer; teacher layer) >= log B - L, with L the cross-entropy of finding
each record's teacher projection among the batch's. The student maximises the weighted sum of the
bounds; the pair weights are fixed, or learned as each student layer's softmax attention over the
teacher layers. Learned weights would collapse onto the pair whose bound is easiest to raise (the
gradient of the weighted sum moves weight towards the largest bound), so half of each student
layer's weight (``weight_floor``) is spread evenly over its teacher layers and only the rest is
learned. Each pair's estimate is logged as ``mi_s<i>_t<j>``.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lrhnet.terms import TERM_DTYPE, DistillationTerm

LOGITS = "logits"


def infonce(first, second, temperature):
    """Per-example InfoNCE loss (B,) of paired (B, D) embeddings; ``log B - mean`` bounds their MI."""
    first, second = tf.math.l2_normalize(first, axis=-1), tf.math.l2_normalize(second, axis=-1)
    scores = tf.matmul(first, second, transpose_b=True) / temperature
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.range(tf.shape(scores)[0]), logits=scores)


class CrossLayerMutualInformation(DistillationTerm):
    """Weighted InfoNCE between student stages and teacher layers.

    Args:
        student_stages: student stage indices; teacher_layers: teacher stage indices and/or
            ``"logits"``.
        pair_weights: (S, T) fixed weights (default uniform); ignored when ``learn_weights``.
        learn_weights: learn each student stage's softmax attention over the teacher layers.
        weight_floor: with ``learn_weights``, the share of each student stage's weight spread evenly
            over the teacher layers; every pair keeps at least ``weight_floor / (S * T)``.
        projection_dim, temperature: the critic's shared space and temperature.
    """

    def __init__(
        self,
        weight=0.1,
        student_stages=(-2, -1),
        teacher_layers=(-1, LOGITS),
        pair_weights=None,
        learn_weights=False,
        weight_floor=0.5,
        projection_dim=64,
        temperature=0.1,
        teacher_index=0,
        **kwargs,
    ):
        kwargs.setdefault("name", "mi_kd")
        super().__init__(weight, teacher_index, **kwargs)
        self.student_stages, self.teacher_layers = [int(s) for s in student_stages], list(teacher_layers)
        shape = (len(self.student_stages), len(self.teacher_layers))
        fixed = (
            np.full(shape, 1.0 / np.prod(shape)) if pair_weights is None else np.asarray(pair_weights, dtype=np.float32)
        )
        if fixed.shape != shape or np.any(fixed < 0):
            raise ValueError(f"pair_weights must be non-negative with shape {shape}")
        if not 0 <= weight_floor <= 1:
            raise ValueError(f"weight_floor must lie in [0, 1], not {weight_floor}")
        self.fixed_weights, self.learn_weights = fixed.astype(np.float32), bool(learn_weights)
        self.weight_floor = float(weight_floor)
        self.projection_dim, self.temperature = int(projection_dim), float(temperature)
        self.student_heads, self.teacher_heads, self.attention = [], [], None

    @property
    def pair_names(self):
        return [f"mi_s{s}_t{t}" for s in self.student_stages for t in self.teacher_layers]

    @property
    def log_names(self):
        """Extra values the Distiller logs for this term: one MI estimate per pair."""
        return self.pair_names

    def prepare(self, student_channels, teacher_channels):
        super().prepare(student_channels, teacher_channels)
        stages = teacher_channels[self.teacher_index]
        for stage in self.student_stages:
            if not -len(student_channels) <= stage < len(student_channels):
                raise ValueError(f"{self.name}: the student has no stage {stage}")
        for layer in self.teacher_layers:
            if layer != LOGITS and not -len(stages) <= int(layer) < len(stages):
                raise ValueError(f"{self.name}: the teacher has no stage {layer}")
        self.student_heads = [
            keras.layers.Dense(self.projection_dim, name=f"mi_student_head{i}", dtype=TERM_DTYPE)
            for i in range(len(self.student_stages))
        ]
        self.teacher_heads = [
            keras.layers.Dense(self.projection_dim, name=f"mi_teacher_head{j}", dtype=TERM_DTYPE)
            for j in range(len(self.teacher_layers))
        ]
        if self.learn_weights:
            self.attention = self.add_weight(
                name="pair_attention", shape=self.fixed_weights.shape, initializer="zeros", trainable=True
            )

    def pair_weights(self):
        """(S, T) weights in use, summing to one: fixed, or per student stage the floor spread evenly
        plus the rest by its attention, over S."""
        if self.attention is None:
            return tf.constant(self.fixed_weights)
        stages, layers = self.fixed_weights.shape
        learned = (1 - self.weight_floor) * tf.nn.softmax(self.attention, axis=1) + self.weight_floor / layers
        return learned / stages

    def pooled_pairs(self, outputs):
        """Pooled student stages (list of (B, C)) and teacher layers (list of (B, C) or logits)."""
        students = [tf.reduce_mean(outputs.student_features[s], axis=1) for s in self.student_stages]
        features = outputs.teacher_features[self.teacher_index]
        teachers = [
            tf.stop_gradient(
                outputs.teacher_logits[self.teacher_index] if t == LOGITS else tf.reduce_mean(features[int(t)], axis=1)
            )
            for t in self.teacher_layers
        ]
        return students, teachers

    def per_example(self, outputs):
        students, teachers = self.pooled_pairs(outputs)
        projected_teachers = [head(t) for head, t in zip(self.teacher_heads, teachers)]
        weights = self.pair_weights()
        batch = tf.cast(tf.shape(students[0])[0], tf.float32)
        total, self.step_logs = 0.0, {}
        for i, (head, student) in enumerate(zip(self.student_heads, students)):
            projected = head(student)
            for j, teacher in enumerate(projected_teachers):
                loss = infonce(projected, teacher, self.temperature)
                self.step_logs[self.pair_names[i * len(projected_teachers) + j]] = tf.math.log(batch) - tf.reduce_mean(
                    loss
                )
                total += weights[i, j] * loss
        return total
