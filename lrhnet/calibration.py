"""Post-training int8 with clipped activation ranges, chosen on held-out windows.

The TFLite converter gives each activation the range it saw over all calibration windows (and
some ranges come out wider than any value the tensor took, apparently shared between ops). A few
unusual windows (a noisy record, a spike) then stretch a range and coarsen the steps every other
window is quantized with; more calibration windows can only widen the ranges further. Here each
tensor's range can instead cover the ``p``-th percentile of its per-window maxima (and the
``100 - p``-th of its minima). Among the converter's
own ranges and these clips, the model kept is the one whose int8 outputs agree best with the float
network on held-out windows (the smallest mean absolute difference of class probabilities), so the
choice never looks at the test split.

It uses the converter's calibrate-only mode and ``mlir_quantize``, as
``tf.lite.experimental.QuantizationDebugger`` does: private TFLite entry points, checked on TF 2.21.
"""

import numpy as np
import tensorflow as tf

from lrhnet.conversion import convert, int8_converter
from lrhnet.litert import TFLiteModel, probabilities

PERCENTILES = (100.0, 99.9, 99.0, 98.0, 97.0, 95.0)  # 100: every window's observed range, unshared


def calibrated_model(converter, representative):
    """Float flatbuffer bytes carrying each activation's min/max over ``representative``."""
    converter.representative_dataset = lambda: iter(representative)
    converter._experimental_calibrate_only = True
    return converter.convert()


def window_extremes(calibrated, representative):
    """``{tensor index: (minima (N,), maxima (N,))}`` per calibration window, for every tensor with a range."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tensorflow.lite.tools import flatbuffer_utils

    tensors = flatbuffer_utils.read_model_from_bytearray(calibrated).subgraphs[0].tensors
    ranged = [
        i
        for i, t in enumerate(tensors)
        if t.quantization is not None and t.quantization.min is not None and len(t.quantization.min)
    ]
    # without a delegate, so that every intermediate tensor is computed and kept
    interpreter = Interpreter(
        model_content=bytes(calibrated),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    inputs = sorted(interpreter.get_input_details(), key=lambda d: len(d["shape"]), reverse=True)
    minima, maxima = {i: [] for i in ranged}, {i: [] for i in ranged}
    for sample in representative:
        for detail, array in zip(inputs, sample):
            interpreter.set_tensor(detail["index"], np.asarray(array, np.float32))
        interpreter.invoke()
        for i in ranged:
            values = interpreter.get_tensor(i)
            minima[i].append(float(values.min()))
            maxima[i].append(float(values.max()))
    return {i: (np.array(minima[i]), np.array(maxima[i])) for i in ranged}


def quantized_with_clip(calibrated, extremes, percentile):
    """Int8 flatbuffer bytes (float input and output) with every range clipped at ``percentile``."""
    from tensorflow.lite.python import convert as lite_convert
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(calibrated)
    tensors = model.subgraphs[0].tensors
    for i, (minima, maxima) in extremes.items():
        tensors[i].quantization.min = [min(0.0, float(np.percentile(minima, 100 - percentile)))]
        tensors[i].quantization.max = [max(0.0, float(np.percentile(maxima, percentile)))]
    return lite_convert.mlir_quantize(
        bytes(flatbuffer_utils.convert_object_to_bytearray(model)),
        input_data_type=tf.float32,
        output_data_type=tf.float32,
    )


def representative_samples(batches):
    """Calibration inputs from ``(inputs, labels)`` batches (one view): a list of
    ``[signal (1, window, leads)[, demographics (1, 5)]]``, one per window."""
    samples = []
    for inputs, _ in batches:
        parts = inputs if isinstance(inputs, tuple) else (inputs,)
        samples += [[np.asarray(part[i : i + 1]) for part in parts] for i in range(len(parts[0]))]
    return samples


def stacked_inputs(batches):
    """The inputs of ``(inputs, labels)`` batches (one view) stacked: signal (N, window, leads), or
    ``(signal, demographics)``; what ``clipped_int8`` takes as ``held_out``."""
    parts = [inputs if isinstance(inputs, tuple) else (inputs,) for inputs, _ in batches]
    stacked = tuple(np.concatenate([np.asarray(part[i]) for part in parts]) for i in range(len(parts[0])))
    return stacked if len(stacked) > 1 else stacked[0]


def clipped_int8(network, window, representative, held_out, multilabel, percentiles=PERCENTILES):
    """The int8 model of ``network`` that agrees best with it on ``held_out``.

    Candidates: the converter's own min/max ranges, and every tensor's range clipped at each of
    ``percentiles`` of its per-window extremes.

    Args:
        representative: calibration inputs, a list of ``[signal (1, window, leads)[, demographics (1, 5)]]``.
        held_out: windows the candidate is chosen on, signal (N, window, leads) or
            ``(signal, demographics)``, from other records than the test split (the validation split).
    Returns:
        ``(flatbuffer bytes, {"ranges": "min/max" or "clipped at <p>", "held_out_mad": {candidate: mean |dp|}})``.
    """
    candidates = {"min/max": convert(network, window, "int8", representative)}
    calibrated = calibrated_model(int8_converter(network, window), representative)
    extremes = window_extremes(calibrated, representative)
    for percentile in percentiles:
        candidates[f"clipped at {percentile:g}"] = quantized_with_clip(calibrated, extremes, percentile)
    arrays = tuple(held_out) if isinstance(held_out, (tuple, list)) else (held_out,)
    expected = probabilities(network(held_out, training=False), multilabel)
    mad = {
        name: float(np.abs(probabilities(TFLiteModel(content)(*arrays), multilabel) - expected).mean())
        for name, content in candidates.items()
    }
    chosen = min(mad, key=mad.get)
    return candidates[chosen], {"ranges": chosen, "held_out_mad": mad}
