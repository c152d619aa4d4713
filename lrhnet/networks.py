"""The LRH-Net teacher (SE-ResNet18-1D), student (LRH-Net) and baseline (1D-CNN), after docs/design.md.

Each network is called on ``signal`` (B, T, num_leads), or on ``(signal, demographics)`` with
demographics (B, 5) when built with ``demographics=True``, and returns logits (B, num_classes).
``forward`` returns ``(logits, features)``: one (B, T_s, C_s) feature map per stage, from the same pass.
"""

import tensorflow as tf
import tf_keras as keras

from lrhnet.layers import LRHBlock, SEBasicBlock, logits_layer, serializable


def scaled(channels, width):
    """``channels`` times the width multiplier, at least 1."""
    return max(1, int(round(channels * width)))


class ECGNetwork(keras.Model):
    """Shared input handling, demographic branch, config and feature output of the three networks."""

    def __init__(self, num_leads, num_classes, *, demographics=False, width=1.0, **kwargs):
        super().__init__(**kwargs)
        if int(num_leads) < 1 or int(num_classes) < 1:
            raise ValueError(f"num_leads ({num_leads}) and num_classes ({num_classes}) must be positive")
        self.num_leads, self.num_classes = int(num_leads), int(num_classes)
        self.demographics, self.width = bool(demographics), float(width)
        self.demographic_dense = (
            keras.layers.Dense(10, activation="relu", name="demographics") if demographics else None
        )
        self.pool = keras.layers.GlobalAveragePooling1D()
        # Optimizer steps this network has taken (here or as a Distiller's student); saved with it.
        self.steps_trained = self.add_weight(
            name="steps_trained",
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )

    def example_inputs(self, length=256):
        """Zero inputs of batch 1 in the form the network is called on (a fixed ``window`` wins)."""
        signal = tf.zeros((1, getattr(self, "window", None) or length, self.num_leads))
        return (signal, tf.zeros((1, 5))) if self.demographics else signal

    def split_inputs(self, inputs):
        """Check and split the inputs into ``(signal, demographics or None)``."""
        if self.demographics:
            if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
                raise ValueError(f"{self.name} was built with demographics=True: call it on (signal, demographics)")
            signal, demo = inputs
        else:
            if isinstance(inputs, (tuple, list)):
                raise ValueError(f"{self.name} was built without demographics: call it on the signal alone")
            signal, demo = inputs, None
        signal = tf.convert_to_tensor(signal)
        if signal.shape.rank != 3 or (signal.shape[-1] is not None and signal.shape[-1] != self.num_leads):
            raise ValueError(
                f"{self.name} expects signals (batch, time, {self.num_leads} leads), got shape {tuple(signal.shape)}"
            )
        return signal, demo

    def pooled_head_input(self, features, demo, training=None):
        """Global average pool of the last feature map, concatenated with the demographic encoding.

        ``forward`` runs outside Keras' ``__call__`` when a Distiller calls it, so every layer call
        in it passes ``training`` explicitly (pruning wrappers depend on it).
        """
        pooled = self.pool(features, training=training)
        return (
            keras.layers.concatenate([pooled, self.demographic_dense(demo, training=training)])
            if demo is not None
            else pooled
        )

    def forward(self, inputs, training=None):
        """Return ``(logits (B, K), [feature maps (B, T_s, C_s) per stage])``."""
        raise NotImplementedError

    def call(self, inputs, training=None):
        return self.forward(inputs, training=training)[0]

    def train_step(self, data):
        self.steps_trained.assign_add(1)
        return super().train_step(data)

    def get_config(self):
        return {
            "num_leads": self.num_leads,
            "num_classes": self.num_classes,
            "demographics": self.demographics,
            "width": self.width,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(config.pop("num_leads"), config.pop("num_classes"), **config)


@serializable
class SEResNet1D(ECGNetwork):
    """SE-ResNet18-1D teacher: stem conv k15/2 + max-pool, 4 stages x 2 SE basic blocks
    (64/128/256/512 x ``width``), average pool, dense. 8,831,300 trainable weights at 6 leads, 24
    classes and demographics. Features: the 4 stage outputs, at T/4, T/8, T/16, T/32.
    """

    def __init__(self, num_leads, num_classes, *, demographics=False, width=1.0, dropout=0.2, **kwargs):
        kwargs.setdefault("name", "se_resnet1d")
        super().__init__(num_leads, num_classes, demographics=demographics, width=width, **kwargs)
        self.dropout = dropout
        self.stem_conv = keras.layers.Conv1D(scaled(64, width), 15, strides=2, padding="same", use_bias=False)
        self.stem_bn = keras.layers.BatchNormalization()
        self.stem_pool = keras.layers.MaxPooling1D(3, strides=2, padding="same")
        self.stages = [
            [
                SEBasicBlock(scaled(filters, width), stride=stride if block == 0 else 1, dropout=dropout)
                for block in range(2)
            ]
            for filters, stride in ((64, 1), (128, 2), (256, 2), (512, 2))
        ]
        self.classifier = logits_layer(num_classes)

    def forward(self, inputs, training=None):
        signal, demo = self.split_inputs(inputs)
        x = self.stem_pool(
            keras.activations.relu(self.stem_bn(self.stem_conv(signal, training=training), training=training)),
            training=training,
        )
        features = []
        for stage in self.stages:
            for block in stage:
                x = block(x, training=training)
            features.append(x)
        return self.classifier(self.pooled_head_input(x, demo, training), training=training), features

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout}


def blocks_and_head(network, x, demo, training):
    """The shared tail of ``LRHNet`` and the LiteHeart student: ``network.blocks`` (each output kept
    as a stage feature), pool (+ demographics), ``network.hidden``, ``network.classifier``.

    Returns:
        ``(logits, features)``.
    """
    features = []
    for block in network.blocks:
        x = block(x, training=training)
        features.append(x)
    head = network.hidden(network.pooled_head_input(x, demo, training), training=training)
    return network.classifier(head, training=training), features


@serializable
class LRHNet(ECGNetwork):
    """LRH-Net student: stem conv k8 (16 x ``width``) + ReLU, 3 residual SE blocks (16/32/64 x
    ``width``, stride 2 when the width changes), average pool, dense 128, dense. 83,748 trainable
    weights at 6 leads, 24 classes and demographics. Features: the 3 block outputs, at T, T/2, T/4.
    Each position of the last block sees 85 input samples through its convolutions (1 + the sum of
    (kernel - 1) x the product of the strides before each: 0.85 s at 100 Hz, which holds the three
    beats of two RR intervals only above about 140 beats per minute); only the squeeze-excitation
    gates and the average pool look further.
    """

    def __init__(self, num_leads, num_classes, *, demographics=False, width=1.0, **kwargs):
        kwargs.setdefault("name", "lrhnet")
        super().__init__(num_leads, num_classes, demographics=demographics, width=width, **kwargs)
        self.stem = keras.layers.Conv1D(scaled(16, width), 8, padding="same", activation="relu")
        self.blocks = [LRHBlock(scaled(filters, width)) for filters in (16, 32, 64)]
        self.hidden = keras.layers.Dense(128, activation="relu")
        self.classifier = logits_layer(num_classes)

    def forward(self, inputs, training=None):
        signal, demo = self.split_inputs(inputs)
        return blocks_and_head(self, self.stem(signal, training=training), demo, training)


@serializable
class CNN1D(ECGNetwork):
    """Baseline 1D-CNN: 4 x (conv without bias - BN - max-pool 4 - ReLU), 128 ch k80/8 then
    256/256/512 ch k4 (x ``width``), average pool, dropout 0.6, dense. 993,860 trainable weights at
    6 leads, 24 classes and demographics. Features: the 4 block outputs.
    """

    def __init__(self, num_leads, num_classes, *, demographics=False, width=1.0, dropout=0.6, **kwargs):
        kwargs.setdefault("name", "cnn1d")
        super().__init__(num_leads, num_classes, demographics=demographics, width=width, **kwargs)
        self.dropout_rate = dropout
        specs = ((128, 80, 8), (256, 4, 1), (256, 4, 1), (512, 4, 1))
        self.convs = [
            keras.layers.Conv1D(scaled(f, width), k, strides=s, padding="same", use_bias=False) for f, k, s in specs
        ]
        self.norms = [keras.layers.BatchNormalization() for _ in specs]
        self.pools = [keras.layers.MaxPooling1D(4, padding="same") for _ in specs]
        self.dropout = keras.layers.Dropout(dropout)
        self.classifier = logits_layer(num_classes)

    def forward(self, inputs, training=None):
        signal, demo = self.split_inputs(inputs)
        x, features = signal, []
        for conv, norm, pool in zip(self.convs, self.norms, self.pools):
            x = keras.activations.relu(pool(norm(conv(x, training=training), training=training), training=training))
            features.append(x)
        return self.classifier(
            self.dropout(self.pooled_head_input(x, demo, training), training=training), training=training
        ), features

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout_rate}
