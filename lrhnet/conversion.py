"""Converting a network to a TFLite flatbuffer: float32, float16, dynamic-range or int8.

Kinds: ``float32``, ``float16`` (float16 weights), ``dynamic`` (int8 weights, float activations)
and ``int8`` (int8 weights and activations, calibrated on a representative dataset; float input
and output). A subclassed network converts through its concrete function; a quantization-aware
``GraphNetwork`` through its functional graph.
"""

import warnings

import tensorflow as tf

from lrhnet.twin import GraphNetwork

KINDS = ("float32", "float16", "dynamic", "int8")


def concrete_function(network, window):
    """The network's inference function for a batch of 1: (1, window, leads) [+ (1, 5)] -> logits (1, K)."""
    signature = [tf.TensorSpec((1, window, network.num_leads), tf.float32, name="signal")]
    if network.demographics:
        signature.append(tf.TensorSpec((1, 5), tf.float32, name="demographics"))
        function = tf.function(
            lambda signal, demographics: network((signal, demographics), training=False), input_signature=signature
        )
    else:
        function = tf.function(lambda signal: network(signal, training=False), input_signature=signature)
    return function.get_concrete_function()


def convert(network, window, kind="float32", representative=None):
    """TFLite flatbuffer bytes of ``network`` for ``window``-sample inputs.

    Args:
        kind: one of ``KINDS``.
        representative: for ``int8``, an iterable of input lists (as ``concrete_function`` takes,
            e.g. ``[signal (1, window, leads)]``) drawn from the training split. A quantization-aware
            ``GraphNetwork`` needs none: its fake-quantization nodes carry the ranges.
    """
    if kind not in KINDS:
        raise ValueError(f"TFLite kind {kind!r} is not one of {KINDS}")
    if isinstance(network, GraphNetwork):
        if kind != "int8":
            raise ValueError("a quantization-aware network exports as int8 only")
        converter = tf.lite.TFLiteConverter.from_keras_model(network.graph)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        with warnings.catch_warnings():  # expected: the QAT graph takes float input and quantizes it itself
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
            return converter.convert()
    if kind == "int8":
        check_representative(representative)
        converter = int8_converter(network, window)
        samples = list(representative)
        converter.representative_dataset = lambda: iter(samples)
        return converter.convert()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete_function(network, window)], network)
    if kind != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if kind == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def int8_converter(network, window):
    """A converter of ``network`` to int8 weights and activations (float input and output)."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete_function(network, window)], network)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter


def check_representative(representative):
    if representative is None:
        raise ValueError("int8 export needs a representative dataset from the training split")
