"""``TeacherEnsemble``: several trained networks on the same leads, distilled from as one teacher.

Averaging the probabilities of a few independently trained teachers gives a stronger teacher than
any one of them (on PTB-XL, three width-0.5 SE-ResNets: see ``docs/results.md``), and distilling an
ensemble into one small student is the classic use of knowledge distillation (Hinton et al. 2015,
arXiv:1503.02531). The ensemble's logits are those of the mean probability, so that everything that
reads a network's logits (``LogitDistillation``, ``predict_probabilities``) reads the ensemble's
probabilities unchanged. KD's temperature then softens the mean probability (its logits divided by
T), not each member's output before averaging. It has no stage features: feature terms (MLKD,
LiteHeart's region and mutual-information terms) need one network and refuse it.
"""

import tensorflow as tf
import tf_keras as keras

from lrhnet.layers import serializable

EPSILON = 1e-6  # probabilities are clipped to [EPSILON, 1 - EPSILON] before taking logits


@serializable
class TeacherEnsemble(keras.Model):
    """The mean of the members' probabilities, as logits.

    Args:
        members: trained ``lrhnet`` networks reading the same leads and giving the same classes.
        multilabel: members' probabilities are per-class sigmoids (logits: ``log p - log(1 - p)``);
            otherwise a softmax over classes (logits: ``log p``).
    Raises:
        ValueError: fewer than two members, or members that differ in leads, classes or demographics.
    """

    def __init__(self, members, multilabel, **kwargs):
        kwargs.setdefault("name", "teacher_ensemble")
        super().__init__(**kwargs)
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
        shapes = {(m.num_leads, m.num_classes, getattr(m, "demographics", False)) for m in members}
        if len(shapes) != 1:
            raise ValueError(f"ensemble members must read the same leads and give the same classes, got {shapes}")
        ((self.num_leads, self.num_classes, self.demographics),) = shapes
        self.members, self.multilabel = members, bool(multilabel)

    @property
    def steps_trained(self):
        """The fewest optimizer steps any member took (0 when one was never trained)."""
        return tf.reduce_min(tf.stack([member.steps_trained for member in self.members]))

    def example_inputs(self, length=256):
        return self.members[0].example_inputs(length)

    def forward(self, inputs, training=None):
        """``(logits (B, K) of the members' mean probability, [])``: an ensemble has no stage features."""
        logits = [member.forward(inputs, training=False)[0] for member in self.members]
        if self.multilabel:
            mean = tf.clip_by_value(tf.reduce_mean(tf.sigmoid(tf.stack(logits)), axis=0), EPSILON, 1 - EPSILON)
            return tf.math.log(mean) - tf.math.log1p(-mean), []
        mean = tf.reduce_mean(tf.nn.softmax(tf.stack(logits)), axis=0)
        return tf.math.log(tf.maximum(mean, EPSILON)), []

    def call(self, inputs, training=None):
        return self.forward(inputs, training=training)[0]

    def get_config(self):
        return {
            "members": [keras.saving.serialize_keras_object(member) for member in self.members],
            "multilabel": self.multilabel,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        members = [keras.saving.deserialize_keras_object(member) for member in config.pop("members")]
        return cls(members, **config)
