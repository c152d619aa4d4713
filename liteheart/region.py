"""Region-aware distillation: match features where the teacher looks and where the beats are.

Our interpretation of LiteHeart's region-aware module (docs/design.md). Per sample, a weight
w(t) >= 0 with sum_t w(t) = 1 over the teacher's feature time axis mixes
  * the teacher's class-activation map (Zhou et al. 2016): for a teacher whose logits are a linear
    map of its pooled last-stage features (``SEResNet1D``, ``CNN1D``), cam_k(t) = F(t) . W[:, k];
    classes are weighted by the teacher's own probabilities, negative evidence is clipped;
  * optionally, heartbeat windows: around each R peak a profile peaking on the QRS (Gaussian,
    sigma 40 ms) over a floor across the P-QRS-T window (250 ms before to 450 ms after the peak).
The loss is sum_t w(t) * mean_c (adapter(student features)(t) - teacher features(t))^2, the
student's map resampled to the teacher's length.
"""

import tensorflow as tf
import tf_keras as keras

from lrhnet.terms import TERM_DTYPE, DistillationTerm, align_length


def normalise_weights(weights):
    """(B, T) non-negative weights scaled to sum to one per row; an all-zero row becomes uniform."""
    weights = tf.nn.relu(weights)
    total = tf.reduce_sum(weights, axis=1, keepdims=True)
    uniform = tf.ones_like(weights) / tf.cast(tf.shape(weights)[1], weights.dtype)
    return tf.where(total > 0, weights / tf.maximum(total, 1e-12), uniform)


def class_activation_weights(teacher, last_features, logits, multilabel=True):
    """(B, T) weights from the teacher's class-activation map, each row summing to one.

    Args:
        teacher: a network whose ``classifier`` reads the pooled last stage first (then, if any,
            demographics); last_features: its last stage (B, T, C); logits: its logits (B, K).
    """
    channels = last_features.shape[-1]
    kernel = teacher.classifier.kernel[:channels]  # (C, K): the rows that read the pooled features
    cam = tf.nn.relu(tf.einsum("btc,ck->btk", last_features, kernel))
    confidence = tf.sigmoid(logits) if multilabel else tf.nn.softmax(logits)
    return normalise_weights(tf.einsum("btk,bk->bt", cam, confidence))


def region_weights(teacher, teacher_inputs, beats=None, cam_weight=1.0, beat_weight=0.0, multilabel=True, stage=-1):
    """Region weights for a batch, for plotting over the ECG or for the loss.

    Args:
        teacher: the teacher network; teacher_inputs: what it is called on.
        beats: optional (B, T_signal) beat profiles (``data_utils.beats.beat_profiles``).
    Returns:
        float32 (B, T_features) weights of the teacher's ``stage`` feature axis, rows summing to one.
    """
    logits, features = teacher.forward(teacher_inputs, training=False)
    return mix_weights(teacher, features, logits, beats, cam_weight, beat_weight, multilabel, stage)


def mix_weights(teacher, features, logits, beats, cam_weight, beat_weight, multilabel, stage=-1):
    """(B, T) mix of CAM and beat weights on the time axis of ``features[stage]``, rows summing to one."""
    length = features[stage].shape[1] or tf.shape(features[stage])[1]

    def on_stage_axis(weights):
        return normalise_weights(align_length(weights[:, :, None], length)[:, :, 0])

    mixed = tf.zeros(tf.shape(features[stage])[:2])
    if cam_weight:
        mixed += cam_weight * on_stage_axis(class_activation_weights(teacher, features[-1], logits, multilabel))
    if beat_weight and beats is not None:
        mixed += beat_weight * on_stage_axis(tf.cast(beats, tf.float32))
    return normalise_weights(mixed)


class RegionAwareDistillation(DistillationTerm):
    """Region-weighted feature matching (see the module doc).

    Args:
        student_stage, teacher_stage: the feature maps matched through a learned 1x1 adapter.
        cam_weight, beat_weight: the mix of the two weightings (``beat_weight`` needs a
            ``"beats"`` (B, T) entry in the batch inputs: an ``ECGPipeline`` with ``beats=True``).
        multilabel: how teacher logits turn into class confidences (sigmoid or softmax).
    """

    def __init__(
        self,
        weight=1.0,
        student_stage=-1,
        teacher_stage=-1,
        cam_weight=1.0,
        beat_weight=0.0,
        multilabel=True,
        teacher_index=0,
        **kwargs,
    ):
        kwargs.setdefault("name", "region_kd")
        super().__init__(weight, teacher_index, **kwargs)
        if cam_weight < 0 or beat_weight < 0 or cam_weight + beat_weight == 0:
            raise ValueError("cam_weight and beat_weight must be non-negative and not both zero")
        self.student_stage, self.teacher_stage = int(student_stage), int(teacher_stage)
        self.cam_weight, self.beat_weight, self.multilabel = float(cam_weight), float(beat_weight), bool(multilabel)
        self.adapter, self.teacher = None, None

    def prepare(self, student_channels, teacher_channels):
        super().prepare(student_channels, teacher_channels)
        stages = teacher_channels[self.teacher_index]
        if not (
            -len(student_channels) <= self.student_stage < len(student_channels)
            and -len(stages) <= self.teacher_stage < len(stages)
        ):
            raise ValueError(
                f"{self.name}: stages ({self.student_stage}, {self.teacher_stage}) cannot be aligned: "
                f"{len(student_channels)} student and {len(stages)} teacher stages"
            )
        self.adapter = keras.layers.Conv1D(stages[self.teacher_stage], 1, name="region_adapter", dtype=TERM_DTYPE)
        self.adapter.build((None, None, student_channels[self.student_stage]))

    def per_example(self, outputs):
        teacher = outputs.teachers[self.teacher_index]
        features = outputs.teacher_features[self.teacher_index]
        target = tf.stop_gradient(features[self.teacher_stage])
        beats = (outputs.inputs or {}).get("beats") if self.beat_weight else None
        if self.beat_weight and beats is None:
            raise ValueError(
                f"{self.name} has beat_weight {self.beat_weight} but the batch has no 'beats': build the "
                "ECGPipeline with beats=True"
            )
        weights = tf.stop_gradient(
            mix_weights(
                teacher,
                features,
                outputs.teacher_logits[self.teacher_index],
                beats,
                self.cam_weight,
                self.beat_weight,
                self.multilabel,
                self.teacher_stage,
            )
        )
        mapped = align_length(
            self.adapter(outputs.student_features[self.student_stage]), target.shape[1] or tf.shape(target)[1]
        )
        return tf.reduce_sum(weights * tf.reduce_mean(tf.square(mapped - target), axis=-1), axis=1)
