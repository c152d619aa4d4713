"""Distillation terms: small layers with a weight that turn one step's outputs into a per-example loss.

A term sees a ``StepOutputs`` and returns a (B,) tensor; the ``Distiller`` weights, sums and
averages them over the global batch, and logs each term's mean under the term's name.
"""

import dataclasses

import numpy as np
import tensorflow as tf
import tf_keras as keras


@dataclasses.dataclass
class StepOutputs:
    """What the networks produced for one batch.

    student_logits: (B, K); student_features: list of (B, T_s, C_s);
    teacher_logits: list over teachers of (B, K); teacher_features: list over teachers of lists;
    teachers: the teacher networks; inputs: the batch dict (extra entries such as ``"beats"``);
    labeled: (B,) 1.0 for rows with labels, 0.0 for unlabelled rows;
    extra: more outputs a Distiller subclass adds (the semi-supervised one: ``"strong_logits"``,
    ``"ema_logits"``).
    """

    student_logits: tf.Tensor
    student_features: list
    teacher_logits: list
    teacher_features: list
    teachers: list = None
    inputs: dict = None
    labeled: tf.Tensor = None
    extra: dict = dataclasses.field(default_factory=dict)


TERM_DTYPE = "float32"  # the terms and their layers compute in float32, under a mixed_bfloat16 policy too


class DistillationTerm(keras.layers.Layer):
    """Base class: ``weight`` scales the term; ``teacher_index`` picks the teacher it learns from.
    Terms compute in float32 (``TERM_DTYPE``): layers a term builds take ``dtype=TERM_DTYPE``.

    The term's ``name`` is the metric it is logged under; terms of one Distiller need distinct names.
    A term may log more values: it lists their names in ``log_names`` and sets ``step_logs``
    (name -> scalar tensor) in ``per_example``.
    """

    log_names = ()

    def __init__(self, weight=1.0, teacher_index=0, **kwargs):
        kwargs.setdefault("dtype", TERM_DTYPE)
        super().__init__(**kwargs)
        self.weight, self.teacher_index = float(weight), int(teacher_index)
        self.step_logs = {}

    def prepare(self, student_channels, teacher_channels):
        """Check the term against the networks and create its variables.

        Args:
            student_channels: channels of each student stage; teacher_channels: per teacher, a list.
        Raises:
            ValueError: the term refers to a teacher or stage that does not exist.
        """
        if not 0 <= self.teacher_index < len(teacher_channels):
            raise ValueError(
                f"{self.name}: teacher_index {self.teacher_index} but the Distiller has {len(teacher_channels)} "
                "teacher(s)"
            )

    def per_example(self, outputs):
        """(B,) loss for a ``StepOutputs``."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "weight": self.weight, "teacher_index": self.teacher_index}


def logit_kl(target_logits, logits, mode, class_weights=None):
    """(B,) KL(target || prediction) of two logit tensors (B, K).

    ``mode="softmax"``: across classes; ``"bernoulli"``: per class, averaged over classes, each
    class's KL times its ``class_weights`` entry (K,) if given. No gradient is stopped here.
    """
    if mode == "softmax":
        log_p_t, log_p_s = tf.nn.log_softmax(target_logits, axis=-1), tf.nn.log_softmax(logits, axis=-1)
        return tf.reduce_sum(tf.exp(log_p_t) * (log_p_t - log_p_s), axis=-1)
    t, s = target_logits, logits
    p_t = tf.sigmoid(t)
    per_class = p_t * (tf.math.log_sigmoid(t) - tf.math.log_sigmoid(s)) + (1 - p_t) * (
        tf.math.log_sigmoid(-t) - tf.math.log_sigmoid(-s)
    )
    if class_weights is not None:
        per_class = per_class * tf.constant(class_weights, per_class.dtype)
    return tf.reduce_mean(per_class, axis=-1)


class LogitDistillation(DistillationTerm):
    """KD on logits at temperature T.

    ``mode="bernoulli"`` (default, for multi-label tasks): per-class KL(Bern(sigmoid(t/T)) ||
    Bern(sigmoid(s/T))), averaged over classes. ``mode="softmax"``: KL(softmax(t/T) ||
    softmax(s/T)) across classes. ``scale_t2`` multiplies by T^2, as Hinton et al. 2015
    (arXiv:1503.02531) suggest to keep the soft-target gradients' size; the LRH-Net authors' code
    has no T^2, and neither has our default (``scale_t2=False``). With T = 7 the factor is 49, and
    with weight 0.7 the KD term then makes up most of the loss (docs/design.md).
    ``class_weights`` (K,), Bernoulli mode only, weighs each class's KL (``carry_weights``).
    """

    MODES = ("bernoulli", "softmax")

    def __init__(
        self,
        weight=0.7,
        temperature=7.0,
        mode="bernoulli",
        teacher_index=0,
        scale_t2=False,
        class_weights=None,
        **kwargs,
    ):
        kwargs.setdefault("name", "logit_kd")
        super().__init__(weight, teacher_index, **kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mode {mode!r} is not one of {self.MODES}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, not {temperature}")
        if class_weights is not None:
            class_weights = [float(value) for value in class_weights]
            if mode != "bernoulli" or min(class_weights) < 0:
                raise ValueError("class_weights must be non-negative and need mode 'bernoulli'")
        self.temperature, self.mode = float(temperature), mode
        self.scale_t2, self.class_weights = bool(scale_t2), class_weights

    def per_example(self, outputs):
        t = tf.stop_gradient(outputs.teacher_logits[self.teacher_index]) / self.temperature
        kl = logit_kl(t, outputs.student_logits / self.temperature, self.mode, self.class_weights)
        return kl * self.temperature**2 if self.scale_t2 else kl

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "mode": self.mode,
            "scale_t2": self.scale_t2,
            "class_weights": self.class_weights,
        }


def carry_weights(teacher_auroc, same_lead_auroc):
    """(K,) per-class KD weights: the share of the teacher's skill above chance on each class that a
    network reading only the student's leads reaches, ``clip((a_s - 0.5) / (a_t - 0.5), 0, 1)`` of
    validation AUROCs (K,), rescaled to mean 1 so that the KD term keeps its overall size.

    A class the teacher does not score above chance, or either network cannot score (NaN), gets 0;
    all zero gives all ones (plain KD).
    """
    teacher, same = np.asarray(teacher_auroc, float), np.asarray(same_lead_auroc, float)
    usable = np.isfinite(teacher) & np.isfinite(same) & (teacher > 0.5)
    share = np.zeros_like(teacher)
    share[usable] = np.clip((same[usable] - 0.5) / (teacher[usable] - 0.5), 0.0, 1.0)
    return share / share.mean() if share.sum() > 0 else np.ones_like(teacher)


def align_length(features, length):
    """Resample (B, T, C) feature maps along time to (B, length, C); ``length`` an int or a tensor.

    Shortening averages the steps that fall into each output step (average pooling over shares of
    T), so every input step reaches the output and gets a gradient; lengthening interpolates
    linearly.
    """
    source = features.shape[1]
    if isinstance(length, int) and source == length:
        return features
    if isinstance(length, int) and source is not None:
        return average_pool(features, length) if source > length else linear_resize(features, length)
    return tf.cond(
        tf.shape(features)[1] > length, lambda: average_pool(features, length), lambda: linear_resize(features, length)
    )


def average_pool(features, length):
    """(B, T, C) -> (B, length, C), T >= length: step t joins output step floor(t * length / T), and each output
    step is the mean of the steps that joined it."""
    source = tf.shape(features)[1]
    steps = (tf.range(source) * length) // source  # (T,) the output step of each input step
    pooled = tf.math.unsorted_segment_mean(tf.transpose(features, (1, 0, 2)), steps, length)  # (length, B, C)
    return tf.transpose(pooled, (1, 0, 2))


def linear_resize(features, length):
    """(B, T, C) -> (B, length, C) by linear interpolation along time."""
    resized = tf.image.resize(features[:, :, None, :], (length, 1), method="bilinear")[:, :, 0, :]
    return tf.cast(resized, features.dtype)  # resize computes in float32


class FeatureDistillation(DistillationTerm):
    """Hint loss (FitNets, Romero et al. 2015) between student and teacher stages.

    For each ``(student_stage, teacher_stage)`` pair: a learned 1x1 convolution maps the student's
    channels to the teacher's, the result is resampled to the teacher's length, and the loss is the
    mean squared difference over time and channels; pairs are averaged.
    """

    def __init__(self, weight=1.0, pairs=((-1, -1),), teacher_index=0, **kwargs):
        kwargs.setdefault("name", "feature_kd")
        super().__init__(weight, teacher_index, **kwargs)
        self.pairs = [tuple(int(i) for i in pair) for pair in pairs]
        if not self.pairs:
            raise ValueError("FeatureDistillation needs at least one (student_stage, teacher_stage) pair")
        self.adapters = []

    def prepare(self, student_channels, teacher_channels):
        super().prepare(student_channels, teacher_channels)
        stages = teacher_channels[self.teacher_index]
        self.adapters = []
        for s_stage, t_stage in self.pairs:
            if not (
                -len(student_channels) <= s_stage < len(student_channels) and -len(stages) <= t_stage < len(stages)
            ):
                raise ValueError(
                    f"{self.name}: pair ({s_stage}, {t_stage}) cannot be aligned: the student has "
                    f"{len(student_channels)} stages, teacher {self.teacher_index} has {len(stages)}"
                )
            adapter = keras.layers.Conv1D(stages[t_stage], 1, name=f"adapter_s{s_stage}_t{t_stage}", dtype=TERM_DTYPE)
            adapter.build((None, None, student_channels[s_stage]))
            self.adapters.append(adapter)

    def per_example(self, outputs):
        teacher = outputs.teacher_features[self.teacher_index]
        losses = []
        for (s_stage, t_stage), adapter in zip(self.pairs, self.adapters):
            target = tf.stop_gradient(teacher[t_stage])
            mapped = align_length(adapter(outputs.student_features[s_stage]), target.shape[1] or tf.shape(target)[1])
            losses.append(tf.reduce_mean(tf.square(mapped - target), axis=[1, 2]))
        return tf.add_n(losses) / len(losses)

    def get_config(self):
        return {**super().get_config(), "pairs": self.pairs}
