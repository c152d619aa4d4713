"""Building blocks of the LRH-Net networks: squeeze-excitation, the two residual blocks and the classifier.

The blocks take and return (B, T, C) feature maps.
"""

import tf_keras as keras

serializable = keras.saving.register_keras_serializable(package="lrhnet")


def logits_layer(num_classes):
    """The classifier: a dense layer that computes its (B, K) logits in float32 even under a
    ``mixed_bfloat16`` policy, so losses, probabilities and their ranks keep float32 precision."""
    return keras.layers.Dense(num_classes, dtype="float32")


@serializable
class SqueezeExcite1D(keras.layers.Layer):
    """Channel attention (Hu et al. 2018): x * sigmoid(W2 relu(W1 mean_t(x))); dense layers without bias."""

    def __init__(self, channels, reduction, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.reduction = channels, reduction
        self.squeeze = keras.layers.Dense(max(channels // reduction, 1), use_bias=False, activation="relu")
        self.excite = keras.layers.Dense(channels, use_bias=False, activation="sigmoid")

    def call(self, inputs, training=None):
        scale = self.excite(self.squeeze(keras.backend.mean(inputs, axis=1), training=training), training=training)
        return inputs * scale[:, None, :]

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "reduction": self.reduction}


@serializable
class SEBasicBlock(keras.layers.Layer):
    """Teacher block: conv k7 - BN - ReLU - dropout - conv k7 - BN - SE(16) + skip - ReLU (no conv bias).

    The skip is a strided 1x1 conv + BN when the stride or width changes. (B, T, Cin) -> (B, T/stride, Cout).
    """

    def __init__(self, filters, stride=1, kernel_size=7, dropout=0.2, reduction=16, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride, self.kernel_size, self.dropout_rate, self.reduction = (
            filters,
            stride,
            kernel_size,
            dropout,
            reduction,
        )
        conv = dict(padding="same", use_bias=False)
        self.conv1 = keras.layers.Conv1D(filters, kernel_size, strides=stride, **conv)
        self.bn1 = keras.layers.BatchNormalization()
        self.dropout = keras.layers.Dropout(dropout)
        self.conv2 = keras.layers.Conv1D(filters, kernel_size, **conv)
        self.bn2 = keras.layers.BatchNormalization()
        self.se = SqueezeExcite1D(filters, reduction)
        self.skip_conv = self.skip_bn = None

    def build(self, input_shape):
        if self.stride != 1 or input_shape[-1] != self.filters:
            self.skip_conv = keras.layers.Conv1D(self.filters, 1, strides=self.stride, use_bias=False)
            self.skip_bn = keras.layers.BatchNormalization()
        super().build(input_shape)

    def call(self, inputs, training=None):
        x = keras.activations.relu(self.bn1(self.conv1(inputs, training=training), training=training))
        x = self.se(
            self.bn2(self.conv2(self.dropout(x, training=training), training=training), training=training),
            training=training,
        )
        skip = (
            self.skip_bn(self.skip_conv(inputs, training=training), training=training)
            if self.skip_conv is not None
            else inputs
        )
        return keras.activations.relu(x + skip)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "stride": self.stride,
            "kernel_size": self.kernel_size,
            "dropout": self.dropout_rate,
            "reduction": self.reduction,
        }


@serializable
class LRHBlock(keras.layers.Layer):
    """Student block: conv k8 - ReLU - BN - conv k8 - SE(8) + skip - ReLU - BN (convs with bias).

    Stride 2 and a 1x1 skip conv when the width changes. (B, T, Cin) -> (B, T/stride, Cout).
    """

    def __init__(self, filters, kernel_size=8, reduction=8, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.reduction = filters, kernel_size, reduction
        self.conv1 = self.skip_conv = None
        self.bn1 = keras.layers.BatchNormalization()
        self.conv2 = keras.layers.Conv1D(filters, kernel_size, padding="same")
        self.se = SqueezeExcite1D(filters, reduction)
        self.bn2 = keras.layers.BatchNormalization()

    def build(self, input_shape):
        stride = 1 if input_shape[-1] == self.filters else 2
        self.conv1 = keras.layers.Conv1D(self.filters, self.kernel_size, strides=stride, padding="same")
        if stride != 1:
            self.skip_conv = keras.layers.Conv1D(self.filters, 1, strides=stride)
        super().build(input_shape)

    def call(self, inputs, training=None):
        x = self.bn1(keras.activations.relu(self.conv1(inputs, training=training)), training=training)
        x = self.se(self.conv2(x, training=training), training=training)
        skip = self.skip_conv(inputs, training=training) if self.skip_conv is not None else inputs
        return self.bn2(keras.activations.relu(x + skip), training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "reduction": self.reduction,
        }
