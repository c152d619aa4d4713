"""Semi-supervised LiteHeart training (our interpretation, docs/design.md).

A training batch holds labelled rows and unlabelled rows (labels all NaN; see
``data_utils.pipeline.ECGPipeline.semi_supervised``). The supervised loss sees only labelled rows;
every distillation term sees all rows, so the teacher teaches on unlabelled records too. Two terms
use the unlabelled rows further, in the manner of FixMatch (Sohn et al. 2020):
  * ``PseudoLabels``: where the teacher (or an exponential moving average of the student) is
    confident about an unlabelled record, its hard prediction becomes a target for the student's
    output on a strongly augmented copy;
  * ``AugmentationConsistency``: the student's output on a strongly augmented copy is pulled
    towards its own output on a weakly augmented copy (all rows).
``SemiSupervisedDistiller`` trains the student on weak augmentations and adds the strong pass and
the EMA student's outputs to what the terms see. No term reads labels.
"""

import numpy as np
import tensorflow as tf

from liteheart.mutual_information import CrossLayerMutualInformation
from liteheart.region import RegionAwareDistillation
from lrhnet.distiller import Distiller
from lrhnet.terms import DistillationTerm, LogitDistillation, logit_kl


def weak_augment(signal):
    """(B, T, C) -> same shape: per-lead gain 0.9-1.1 and light Gaussian noise (sigma 0.02)."""
    batch, channels = tf.shape(signal)[0], tf.shape(signal)[2]
    gain = tf.random.uniform([batch, 1, channels], 0.9, 1.1)
    return signal * gain + tf.random.normal(tf.shape(signal), stddev=0.02)


def strong_augment(signal, fs=100.0):
    """(B, T, C) at ``fs`` Hz -> same shape: per-lead gain 0.6-1.4, noise (sigma 0.1), a slow
    baseline swing (0.1-0.5 Hz, up to 0.3 per lead) and one blanked stretch of 10 % of the window."""
    shape = tf.shape(signal)
    batch, length, channels = shape[0], shape[1], shape[2]
    gain = tf.random.uniform([batch, 1, channels], 0.6, 1.4)
    seconds = tf.cast(tf.range(length), tf.float32)[None, :, None] / fs
    frequency = tf.random.uniform([batch, 1, 1], 0.1, 0.5)  # Hz
    swing = tf.random.uniform([batch, 1, channels], 0.0, 0.3) * tf.sin(
        2 * np.pi * frequency * seconds + tf.random.uniform([batch, 1, 1], 0, 2 * np.pi)
    )
    stretch = length // 10
    start = tf.random.uniform([batch, 1, 1], 0, tf.maximum(length - stretch, 1), dtype=tf.int32)
    index = tf.range(length)[None, :, None]
    keep = tf.cast((index < start) | (index >= start + stretch), signal.dtype)
    return (signal * gain + swing + tf.random.normal(shape, stddev=0.1)) * keep


def _with_signal(student_inputs, transform):
    """Apply ``transform`` to the signal of a student input (a tensor or ``(signal, demographics)``)."""
    if isinstance(student_inputs, (tuple, list)):
        return (transform(student_inputs[0]), *student_inputs[1:])
    return transform(student_inputs)


class SemiSupervisedDistiller(Distiller):
    """A ``Distiller`` for batches of labelled and unlabelled rows.

    While training, the student reads a weak augmentation of its input, and the terms also get
    ``extra["strong_logits"]`` (the student on a strong augmentation of that weak input) and, with ``ema_decay``,
    ``extra["ema_logits"]`` (an exponential moving average of the student, updated after each
    step, on the weak input). At evaluation the student reads the clean input and the strong pass
    is left out. Arguments as for ``Distiller``, plus ``ema_decay`` (None: no EMA student) and
    ``fs``, the sampling rate of the inputs (Hz; the strong augmentation's baseline swing is in Hz),
    and ``weak_augmentation`` (False: the student reads its input as it comes, for pipelines that
    augment the window the teacher reads too, so that both read the same record).
    Raises ``ValueError`` when a term needs the EMA student and ``ema_decay`` is None.
    """

    def __init__(
        self,
        student,
        teachers,
        terms=(),
        teacher_views=None,
        student_view="student",
        ema_decay=None,
        fs=100.0,
        weak_augmentation=True,
        **kwargs,
    ):
        super().__init__(student, teachers, terms, teacher_views, student_view, **kwargs)
        if not fs > 0:
            raise ValueError(f"fs must be a positive rate in Hz, not {fs}")
        self.fs, self.weak_augmentation = float(fs), bool(weak_augmentation)
        if any(getattr(term, "source", None) == "ema" for term in self.terms) and ema_decay is None:
            raise ValueError("a PseudoLabels term with source='ema' needs ema_decay (for example 0.99)")
        self.ema_decay, self.ema_student = ema_decay, None
        if ema_decay is not None:
            if not 0 < ema_decay < 1:
                raise ValueError(f"ema_decay must lie in (0, 1), not {ema_decay}")
            self.ema_student = student.__class__.from_config(student.get_config())
            self.ema_student(student.example_inputs(), training=False)
            self.ema_student.set_weights(student.get_weights())
            paired = self.ema_student.weights  # in the student's order while both are trainable
            self.ema_student.trainable = False  # which reorders ``weights``: remember where each went
            position = {id(weight): index for index, weight in enumerate(self.ema_student.weights)}
            self.ema_positions = [position[id(weight)] for weight in paired]

    def student_inputs(self, student_inputs, training):
        return _with_signal(student_inputs, weak_augment) if training and self.weak_augmentation else student_inputs

    def extra_outputs(self, student_inputs, training):
        extra = {}
        if training:
            strong = _with_signal(student_inputs, lambda signal: strong_augment(signal, self.fs))
            extra["strong_logits"] = self.student(strong, training=True)
        if self.ema_student is not None:
            extra["ema_logits"] = tf.stop_gradient(self.ema_student(student_inputs, training=False))
        return extra

    def train_step(self, data):
        logs = super().train_step(data)
        if self.ema_student is not None:
            averages = self.ema_student.weights
            for index, value in zip(self.ema_positions, self.student.weights):
                if value.dtype.is_floating:
                    averages[index].assign(self.ema_decay * averages[index] + (1.0 - self.ema_decay) * value)
                else:  # the step counter
                    averages[index].assign(value)
        return logs


def distiller_options(pipeline):
    """``SemiSupervisedDistiller`` options for batches of ``pipeline`` (a ``data_utils.ECGPipeline``): its
    sampling rate, and no weak augmentation of the student's own when the pipeline augments the window
    that teacher and student both read."""
    return {"fs": pipeline.cache.fs, "weak_augmentation": pipeline.augmentation is None}


class PseudoLabels(DistillationTerm):
    """Confident predictions on unlabelled rows as hard targets for the strongly augmented student.

    Args:
        threshold: confidence a prediction needs (single-label: the top class probability;
            multi-label: per class, p >= threshold gives a positive and p <= 1 - threshold a
            negative target; other classes are left out).
        source: ``"teacher"`` (``teacher_index``) or ``"ema"`` (the EMA student).
        multilabel: sigmoid targets and loss, or softmax.
    Logs ``<name>_rate``: the share of unlabelled rows (single-label) or row-classes (multi-label)
    that got a target. Rows with labels contribute zero.
    """

    def __init__(self, weight=1.0, threshold=0.9, source="teacher", multilabel=True, teacher_index=0, **kwargs):
        kwargs.setdefault("name", "pseudo_label")
        super().__init__(weight, teacher_index, **kwargs)
        if source not in ("teacher", "ema"):
            raise ValueError(f"source must be 'teacher' or 'ema', not {source!r}")
        if not 0.5 < threshold < 1:
            raise ValueError(f"threshold must lie in (0.5, 1), not {threshold}")
        self.threshold, self.source, self.multilabel = float(threshold), source, bool(multilabel)
        self.log_names = (f"{self.name}_rate",)

    def per_example(self, outputs):
        source = outputs.teacher_logits[self.teacher_index] if self.source == "teacher" else outputs.extra["ema_logits"]
        source = tf.stop_gradient(source)
        predicted = outputs.extra.get("strong_logits", outputs.student_logits)
        unlabeled = 1.0 - outputs.labeled
        if self.multilabel:
            probability = tf.sigmoid(source)
            confident = tf.cast((probability >= self.threshold) | (probability <= 1 - self.threshold), predicted.dtype)
            targets = tf.cast(probability >= 0.5, predicted.dtype)
            loss = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=predicted) * confident, axis=-1
            )
            rate = tf.reduce_sum(tf.reduce_mean(confident, axis=-1) * unlabeled)
        else:
            probability = tf.nn.softmax(source)
            confident = tf.cast(tf.reduce_max(probability, axis=-1) >= self.threshold, predicted.dtype)
            targets = tf.one_hot(tf.argmax(probability, axis=-1), tf.shape(probability)[-1], dtype=predicted.dtype)
            loss = tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=predicted) * confident
            rate = tf.reduce_sum(confident * unlabeled)
        self.step_logs = {self.log_names[0]: rate / tf.maximum(tf.reduce_sum(unlabeled), 1.0)}
        return loss * unlabeled

    def get_config(self):
        return {
            **super().get_config(),
            "threshold": self.threshold,
            "source": self.source,
            "multilabel": self.multilabel,
        }


class AugmentationConsistency(DistillationTerm):
    """KL from the student's (fixed) output on the weak augmentation to its output on the strong one,
    on every row; zero when there is no strong pass (evaluation)."""

    def __init__(self, weight=1.0, multilabel=True, **kwargs):
        kwargs.setdefault("name", "consistency")
        super().__init__(weight, 0, **kwargs)
        self.multilabel = bool(multilabel)

    def per_example(self, outputs):
        if "strong_logits" not in outputs.extra:
            return tf.zeros_like(outputs.student_logits[:, 0])
        mode = "bernoulli" if self.multilabel else "softmax"
        return logit_kl(tf.stop_gradient(outputs.student_logits), outputs.extra["strong_logits"], mode)

    def get_config(self):
        return {**super().get_config(), "multilabel": self.multilabel}


TERM_WEIGHTS = {"kd": 0.7, "region": 1.0, "mi": 0.1, "pseudo": 1.0, "consistency": 1.0}


def liteheart_terms(
    multilabel=True,
    threshold=0.9,
    pseudo_source="teacher",
    temperature=None,
    scale_t2=False,
    beat_weight=0.0,
    **weights,
):
    """LiteHeart's distillation terms with their weights; a weight of 0 switches a term off.

    Args:
        weights: any of ``TERM_WEIGHTS`` (``kd``, ``region``, ``mi``, ``pseudo``, ``consistency``).
        multilabel: the task type (logit KD mode, CAM confidences, pseudo-label targets).
        temperature: logit KD temperature (default 7).
        scale_t2: multiply logit KD by T^2 (see ``lrhnet.terms.LogitDistillation``; default no).
        beat_weight: share of heartbeat windows beside the teacher's class-activation map in the
            region term's weighting (``RegionAwareDistillation``; needs batches with ``"beats"``).
    Returns:
        a list of terms for ``SemiSupervisedDistiller``.
    """
    unknown = set(weights) - set(TERM_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown LiteHeart terms {sorted(unknown)}; choose from {sorted(TERM_WEIGHTS)}")
    weights = {**TERM_WEIGHTS, **weights}
    mode = "bernoulli" if multilabel else "softmax"
    builders = {
        "kd": lambda w: LogitDistillation(w, temperature=temperature or 7.0, mode=mode, scale_t2=scale_t2),
        "region": lambda w: RegionAwareDistillation(w, beat_weight=beat_weight, multilabel=multilabel),
        "mi": lambda w: CrossLayerMutualInformation(w),
        "pseudo": lambda w: PseudoLabels(w, threshold=threshold, source=pseudo_source, multilabel=multilabel),
        "consistency": lambda w: AugmentationConsistency(w, multilabel=multilabel),
    }
    return [builders[name](float(weight)) for name, weight in weights.items() if weight > 0]
