"""``Distiller``: a Keras model that trains a student from frozen teachers with weighted terms.

Inputs are the ``data_utils.pipeline`` dicts ``{"teacher": (B, T, Ct), "student": (B, T, Cs)}``
(plus ``"demographics": (B, 5)`` for networks built with demographics), numpy or ``tf.data``.
Each teacher reads one view (``teacher_views``); the student reads ``"student"``. Labels are
(B, K); rows holding NaN are unlabelled: they add nothing to the supervised loss, which is the mean
over the labelled rows only (so ``supervised_weight`` keeps its meaning whatever share of a batch
is labelled), while every distillation term is a mean over all rows.

The loss of a batch is ``supervised_weight * supervised + sum(term.weight * term)``, averaged with
``tf.nn.compute_average_loss``, so it is correct under ``tf.distribute``.
``predict`` and ``call`` return the student's logits.
"""

import warnings

import tensorflow as tf
import tf_keras as keras

from lrhnet.terms import StepOutputs


def multilabel_loss(labels, logits):
    """(B,) sigmoid cross-entropy averaged over classes."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1)


def single_label_loss(labels, logits):
    """(B,) softmax cross-entropy against one-hot labels."""
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def as_float32(tensor):
    """``tensor`` in float32: feature maps come out in bfloat16 under a ``mixed_bfloat16`` policy."""
    return tf.cast(tensor, tf.float32)


def labelled_share(mask):
    """The labelled share of the global batch from this replica's (B,) mask (1 labelled, 0 not).

    Summed over replicas, so that the supervised loss is the mean over every labelled row of the
    global batch even when one replica's slice holds all of them (labelled rows come first).
    """
    context = tf.distribute.get_replica_context()
    counts = tf.stack([tf.reduce_sum(mask), tf.cast(tf.shape(mask)[0], mask.dtype)])
    if context is not None and context.num_replicas_in_sync > 1:
        counts = context.all_reduce(tf.distribute.ReduceOp.SUM, counts)
    return counts[0] / counts[1]


def stage_channels(network):
    """Build ``network`` (so that Keras saves it as built) and return the channels of each stage."""
    inputs = network.example_inputs()
    network(inputs, training=False)
    return [int(f.shape[-1]) for f in network.forward(inputs, training=False)[1]]


def looks_untrained(network):
    """True when the network has taken no training step (its own ``fit`` or as a Distiller's student)."""
    return int(network.steps_trained.numpy()) == 0


class Distiller(keras.Model):
    """Train ``student`` with a supervised loss and distillation terms from frozen ``teachers``.

    Args:
        student: an ``lrhnet`` network (``forward`` returns logits and stage features).
        teachers: one network or a list; they are frozen here (``trainable = False``).
        terms: ``DistillationTerm`` objects (``LogitDistillation``, ``FeatureDistillation``, ...).
        teacher_views: input key each teacher reads; default ``"teacher"`` for all. A teacher on
            the student's leads (the MLKD assistant) reads ``"student"``.
        student_view: input key the trained network reads (``"teacher"`` to train a teacher alone).
    Raises:
        ValueError: class counts differ, or a term refers to a missing teacher or stage.
    """

    def __init__(self, student, teachers, terms=(), teacher_views=None, student_view="student", **kwargs):
        super().__init__(**kwargs)
        self.student, self.student_view = student, student_view
        self.teachers = list(teachers) if isinstance(teachers, (list, tuple)) else [teachers]
        self.teacher_views = list(teacher_views or ["teacher"] * len(self.teachers))
        if len(self.teacher_views) != len(self.teachers):
            raise ValueError(f"{len(self.teachers)} teachers but {len(self.teacher_views)} teacher_views")
        for index, teacher in enumerate(self.teachers):
            if teacher.num_classes != student.num_classes:
                raise ValueError(
                    f"teacher {index} ({teacher.name}) has {teacher.num_classes} classes, the student "
                    f"{student.num_classes}"
                )
            if looks_untrained(teacher):
                warnings.warn(
                    f"teacher {index} ({teacher.name}) has never been trained; distilling from it teaches noise",
                    stacklevel=2,
                )
            teacher.trainable = False
        self.terms = list(terms)
        names = [term.name for term in self.terms] + [name for term in self.terms for name in term.log_names]
        if len(set(names)) != len(names) or {"loss", "supervised"} & set(names):
            raise ValueError(
                f"term names {names} must be distinct and not 'loss' or 'supervised': pass name= to each term"
            )
        student_channels = stage_channels(student)
        teacher_channels = [stage_channels(teacher) for teacher in self.teachers]
        for term in self.terms:
            term.prepare(student_channels, teacher_channels)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.supervised_tracker = keras.metrics.Mean(name="supervised")
        self.term_trackers = [keras.metrics.Mean(name=term.name) for term in self.terms]
        self.log_trackers = [keras.metrics.Mean(name=name) for term in self.terms for name in term.log_names]
        self.supervised_loss, self.supervised_weight = multilabel_loss, 1.0

    def compile(self, optimizer="adam", metrics=None, loss=None, supervised_weight=0.3, multilabel=True, **kwargs):
        """Args beyond Keras': ``loss`` maps (labels, logits) to a (B,) loss (default: sigmoid
        cross-entropy, or softmax cross-entropy when ``multilabel=False``); ``supervised_weight`` is
        the paper's alpha. Metrics receive logits (use ``keras.metrics.AUC(from_logits=True)``)."""
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        self.supervised_loss = loss or (multilabel_loss if multilabel else single_label_loss)
        self.supervised_weight = float(supervised_weight)

    @property
    def metrics(self):
        compiled = self.compiled_metrics.metrics if getattr(self, "compiled_metrics", None) is not None else []
        return [self.loss_tracker, self.supervised_tracker, *self.term_trackers, *self.log_trackers, *compiled]

    def network_inputs(self, network, inputs, view):
        """The input ``network`` takes from the batch dict, checked against its lead count."""
        if not isinstance(inputs, dict) or view not in inputs:
            raise ValueError(
                f"the Distiller takes a dict with key {view!r} (and 'demographics' if used); got "
                f"{type(inputs).__name__}"
            )
        signal = inputs[view]
        if signal.shape[-1] is not None and signal.shape[-1] != network.num_leads:
            raise ValueError(
                f"{network.name} reads {network.num_leads} leads but the {view!r} input has {signal.shape[-1]}"
            )
        if network.demographics:
            if "demographics" not in inputs:
                raise ValueError(f"{network.name} was built with demographics; the inputs lack 'demographics'")
            return signal, inputs["demographics"]
        return signal

    def call(self, inputs, training=None):
        return self.student(self.network_inputs(self.student, inputs, self.student_view), training=training)

    def student_inputs(self, student_inputs, training):
        """What the student is trained on, from what it reads; subclasses augment here."""
        return student_inputs

    def extra_outputs(self, student_inputs, training):
        """More outputs for the terms (``StepOutputs.extra``); none here."""
        return {}

    def run_teachers(self, inputs):
        outputs = [
            teacher.forward(self.network_inputs(teacher, inputs, view), training=False)
            for teacher, view in zip(self.teachers, self.teacher_views)
        ]
        return [tf.stop_gradient(logits) for logits, _ in outputs], [
            [tf.stop_gradient(as_float32(f)) for f in features] for _, features in outputs
        ]

    def compute_losses(self, inputs, labels, training):
        """Return per-example ``(total, supervised, ([term values], {extra logs}), student logits,
        clean labels, labelled mask)``."""
        if labels.shape[-1] is not None and labels.shape[-1] != self.student.num_classes:
            raise ValueError(f"labels have {labels.shape[-1]} classes but the networks {self.student.num_classes}")
        teacher_logits, teacher_features = self.run_teachers(inputs)
        student_inputs = self.student_inputs(self.network_inputs(self.student, inputs, self.student_view), training)
        logits, features = self.student.forward(student_inputs, training=training)
        features = [as_float32(f) for f in features]  # the terms compute in float32 under mixed precision
        labels = tf.cast(labels, logits.dtype)
        labeled = tf.reduce_all(tf.math.is_finite(labels), axis=-1)
        clean = tf.where(tf.math.is_finite(labels), labels, tf.zeros_like(labels))
        mask = tf.cast(labeled, logits.dtype)
        supervised = self.supervised_loss(clean, logits) * tf.math.divide_no_nan(mask, labelled_share(mask))
        step = StepOutputs(
            logits,
            features,
            teacher_logits,
            teacher_features,
            self.teachers,
            inputs,
            mask,
            self.extra_outputs(student_inputs, training),
        )
        values = [term.per_example(step) for term in self.terms]
        logs = {name: value for term in self.terms for name, value in term.step_logs.items()}
        per_example = self.supervised_weight * supervised + sum(
            (term.weight * value for term, value in zip(self.terms, values)), tf.zeros_like(supervised)
        )
        return per_example, supervised, (values, logs), logits, clean, mask

    def record(self, per_example, supervised, term_values, labels, logits, mask):
        values, logs = term_values
        self.loss_tracker.update_state(per_example)
        self.supervised_tracker.update_state(supervised)
        for tracker, value in zip(self.term_trackers, values):
            tracker.update_state(value)
        for tracker in self.log_trackers:
            tracker.update_state(logs[tracker.name])
        self.compiled_metrics.update_state(labels, logits, sample_weight=mask)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        inputs, labels = data[0], data[1]
        with tf.GradientTape() as tape:
            per_example, supervised, values, logits, clean, mask = self.compute_losses(inputs, labels, training=True)
            loss = tf.nn.compute_average_loss(per_example)
        variables = self.trainable_variables
        self.student.steps_trained.assign_add(1)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self.record(per_example, supervised, values, clean, logits, mask)

    def test_step(self, data):
        inputs, labels = data[0], data[1]
        per_example, supervised, values, logits, clean, mask = self.compute_losses(inputs, labels, training=False)
        return self.record(per_example, supervised, values, clean, logits, mask)
