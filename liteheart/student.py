"""The LiteHeart 1-lead student.

Our choice (LiteHeart's own architecture is not published): LRH-Net's residual SE blocks behind a
strided stem. LRH-Net runs its first block at the full sampling rate, which costs most of its
multiply-accumulates; here a k15, stride-2 stem with batch normalisation halves the rate first,
and four stages (16/24/32/48 channels, stride 2 whenever the width grows) reach a receptive field
of about 340 samples (3.4 s at 100 Hz: a beat's P-QRS-T and several RR intervals, what rhythm and
morphology classes need from one lead). 65,068 trainable weights for 4 classes without
demographics: under the 100 k a wearable budget allows, and about 45 % of LRH-Net's MACs.
"""

import tf_keras as keras

from data_utils.leads import canonical_lead
from lrhnet.layers import LRHBlock, logits_layer, serializable
from lrhnet.networks import ECGNetwork, blocks_and_head, scaled

STAGE_WIDTHS = (16, 24, 32, 48)


@serializable
class LiteHeartStudent(ECGNetwork):
    """A 1-lead network: called on (B, T, 1) [+ (B, 5) demographics], returns logits (B, K).

    Args:
        num_classes: output classes.
        lead: the lead it reads (default ``"I"``), any standard lead name in any case; pipelines
            and sidecars take it from ``student.lead``.
    Features (``forward``): the 4 stage outputs, at T/2, T/4, T/8, T/16.
    """

    def __init__(self, num_classes, *, lead="I", demographics=False, width=1.0, **kwargs):
        kwargs.setdefault("name", "liteheart_student")
        super().__init__(1, num_classes, demographics=demographics, width=width, **kwargs)
        self.lead = canonical_lead(lead)
        self.stem = keras.layers.Conv1D(scaled(STAGE_WIDTHS[0], width), 15, strides=2, padding="same")
        self.stem_bn = keras.layers.BatchNormalization()
        self.blocks = [LRHBlock(scaled(filters, width)) for filters in STAGE_WIDTHS]
        self.hidden = keras.layers.Dense(64, activation="relu")
        self.classifier = logits_layer(num_classes)

    def forward(self, inputs, training=None):
        signal, demo = self.split_inputs(inputs)
        x = keras.activations.relu(self.stem_bn(self.stem(signal, training=training), training=training))
        return blocks_and_head(self, x, demo, training)

    def get_config(self):
        config = super().get_config()
        config.pop("num_leads")
        return {**config, "lead": self.lead}

    @classmethod
    def from_config(cls, config):
        return cls(config.pop("num_classes"), **config)
