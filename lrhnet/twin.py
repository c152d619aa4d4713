"""Functional Conv2D twins of the students (LRH-Net, LiteHeart), for TFMOT quantization-aware training.

TFMOT's QAT takes only Functional/Sequential models and has no Conv1D support. A twin computes
the same function with each 1-D convolution as a ``Conv2D`` with a (1, k) kernel on (B, 1, T, C)
inputs (TFLite lowers Conv1D to CONV_2D anyway) and carries the trained weights over. TFMOT
quantizes BatchNormalization only right after a convolution; LRH-Net normalises after ReLU, so each
BN becomes what it computes at inference, a per-channel affine map, as a 1x1 ``DepthwiseConv2D``.
``GraphNetwork`` lets a (quantized) twin be fine-tuned through a ``Distiller`` with logit terms.
"""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from lrhnet.layers import LRHBlock
from lrhnet.networks import ECGNetwork


def conv2d_twin(conv, name, activation=None):
    """A Conv2D with a (1, k) kernel for the Conv1D ``conv``; ``copy_weights`` fills it.

    ``activation`` replaces the Conv1D's own (folding a following ReLU into the convolution keeps
    TFMOT's pruning-preserving scheme on it; a separate ReLU layer makes TFMOT fuse the pair with a
    config that does not preserve zeros).
    """
    return keras.layers.Conv2D(
        conv.filters,
        (1, conv.kernel_size[0]),
        strides=(1, conv.strides[0]),
        padding=conv.padding,
        use_bias=conv.use_bias,
        activation=activation or conv.activation,
        name=name,
    )


def copy_weights(source, target):
    """Copy a built layer's weights into ``target``, adding the (1, ...) axis Conv2D kernels need."""
    values = source.get_weights()
    shapes = [w.shape for w in target.weights]
    target.set_weights([value.reshape(shape) for value, shape in zip(values, shapes)])


def affine_twin(batch_norm, name):
    """A 1x1 DepthwiseConv2D computing ``batch_norm`` at inference; ``copy_affine`` sets its weights."""
    return keras.layers.DepthwiseConv2D(1, use_bias=True, name=name)


def copy_affine(batch_norm, target):
    """Fold a BN's statistics into scale and shift: gamma (x - mean) / sqrt(var + eps) + beta."""
    scale = batch_norm.gamma.numpy() / np.sqrt(batch_norm.moving_variance.numpy() + batch_norm.epsilon)
    shift = batch_norm.beta.numpy() - batch_norm.moving_mean.numpy() * scale
    target.set_weights([scale.reshape(1, 1, -1, 1), shift])


def _se_twin(se, x, prefix):
    squeeze = keras.layers.GlobalAveragePooling2D(name=f"{prefix}_se_pool")(x)
    squeeze = keras.layers.Dense(se.squeeze.units, use_bias=False, activation="relu", name=f"{prefix}_se_squeeze")(
        squeeze
    )
    squeeze = keras.layers.Dense(se.excite.units, use_bias=False, activation="sigmoid", name=f"{prefix}_se_excite")(
        squeeze
    )
    scale = keras.layers.Reshape((1, 1, se.channels), name=f"{prefix}_se_reshape")(squeeze)
    return keras.layers.Multiply(name=f"{prefix}_se_scale")([x, scale]), [
        (se.squeeze, f"{prefix}_se_squeeze"),
        (se.excite, f"{prefix}_se_excite"),
    ]


def _lrh_block_twin(block, x, prefix):
    pairs = []
    conv1 = conv2d_twin(block.conv1, f"{prefix}_conv1", activation="relu")
    y = affine_twin(block.bn1, f"{prefix}_bn1")(conv1(x))
    conv2 = conv2d_twin(block.conv2, f"{prefix}_conv2")
    y, se_pairs = _se_twin(block.se, conv2(y), prefix)
    pairs += [(block.conv1, conv1.name), (block.bn1, f"{prefix}_bn1"), (block.conv2, conv2.name), *se_pairs]
    skip = x
    if block.skip_conv is not None:
        skip_conv = conv2d_twin(block.skip_conv, f"{prefix}_skip")
        skip = skip_conv(x)
        pairs.append((block.skip_conv, skip_conv.name))
    y = keras.layers.ReLU(name=f"{prefix}_relu2")(keras.layers.Add(name=f"{prefix}_add")([y, skip]))
    y = affine_twin(block.bn2, f"{prefix}_bn2")(y)
    pairs.append((block.bn2, f"{prefix}_bn2"))
    return y, pairs


def copy_folded(conv, batch_norm, target):
    """Fold a BN that follows ``conv`` into its kernel and bias: scale * (conv(x) - mean) + beta."""
    kernel, bias = conv.get_weights() if conv.use_bias else (conv.get_weights()[0], 0.0)
    scale = batch_norm.gamma.numpy() / np.sqrt(batch_norm.moving_variance.numpy() + batch_norm.epsilon)
    shift = batch_norm.beta.numpy() + (bias - batch_norm.moving_mean.numpy()) * scale
    target.set_weights([(kernel * scale).reshape(target.kernel.shape), shift])


def student_twin(network, window):
    """Functional twin of a built student for (B, 1, window, leads) [+ (B, 5)] inputs -> logits.

    Students: ``LRHNet`` (stem conv + ReLU) and the LiteHeart student (strided stem conv, BN, ReLU;
    the BN is folded into the stem's kernel). Raises ``TypeError`` for other networks.
    """
    folded_stem = isinstance(getattr(network, "stem_bn", None), keras.layers.BatchNormalization)
    blocks = getattr(network, "blocks", None)
    if (
        not isinstance(getattr(network, "stem", None), keras.layers.Conv1D)
        or not blocks
        or not all(isinstance(block, LRHBlock) for block in blocks)
    ):
        raise TypeError(f"no Conv2D twin for {type(network).__name__}; twins exist for LRHNet and LiteHeartStudent")
    signal = keras.Input((1, window, network.num_leads), name="signal")
    inputs = [signal]
    stem = conv2d_twin(network.stem, "stem", activation="relu" if folded_stem else None)
    x, pairs = stem(signal), [] if folded_stem else [(network.stem, "stem")]
    for index, block in enumerate(network.blocks):
        x, block_pairs = _lrh_block_twin(block, x, f"block{index}")
        pairs += block_pairs
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if network.demographics:
        demo = keras.Input((5,), name="demographics")
        inputs.append(demo)
        x = keras.layers.Concatenate(name="head_concat")(
            [x, keras.layers.Dense(10, activation="relu", name="demographics_dense")(demo)]
        )
        pairs.append((network.demographic_dense, "demographics_dense"))
    x = keras.layers.Dense(network.hidden.units, activation="relu", name="hidden")(x)
    logits = keras.layers.Dense(network.num_classes, name="classifier")(x)
    twin = keras.Model(inputs, logits, name=f"{network.name}_twin")
    for source, target in pairs + [(network.hidden, "hidden"), (network.classifier, "classifier")]:
        (copy_affine if isinstance(source, keras.layers.BatchNormalization) else copy_weights)(
            source, twin.get_layer(target)
        )
    if folded_stem:
        copy_folded(network.stem, network.stem_bn, twin.get_layer("stem"))
    return twin


class GraphNetwork(ECGNetwork):
    """A functional twin (quantized or not) behind the ``ECGNetwork`` interface: takes (B, window, C)
    signals like the original, returns logits and no stage features (logit terms only)."""

    def __init__(self, graph, num_leads, num_classes, demographics=False, **kwargs):
        super().__init__(num_leads, num_classes, demographics=demographics, **kwargs)
        self.graph = graph
        self.window = int(graph.inputs[0].shape[2])

    def forward(self, inputs, training=None):
        signal, demo = self.split_inputs(inputs)
        graph_inputs = [tf.expand_dims(signal, 1)] + ([demo] if demo is not None else [])
        return self.graph(graph_inputs if len(graph_inputs) > 1 else graph_inputs[0], training=training), []


def quantize_twin(twin, preserve_sparsity=False):
    """Quantization-aware copy of a twin (TFMOT default 8-bit scheme; fake-quant weights and activations).

    ``Multiply`` (the SE scaling), which TFMOT does not register, gets its output quantized.
    With ``preserve_sparsity`` the pruning-preserving scheme keeps zeroed weights at zero.
    """
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_configs as configs,
    )

    quantization = tfmot.quantization.keras

    def annotate(layer):
        clone = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, keras.layers.Multiply):
            return quantization.quantize_annotate_layer(
                clone, quantize_config=configs.Default8BitOutputQuantizeConfig()
            )
        return quantization.quantize_annotate_layer(clone)

    annotated = keras.models.clone_model(twin, clone_function=annotate)
    annotated.set_weights(twin.get_weights())
    scheme = (
        tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        if preserve_sparsity
        else quantization.experimental.default_n_bit.DefaultNBitQuantizeScheme(num_bits_weight=8, num_bits_activation=8)
    )
    with quantization.quantize_scope({"Default8BitOutputQuantizeConfig": configs.Default8BitOutputQuantizeConfig}):
        return quantization.quantize_apply(annotated, scheme)
