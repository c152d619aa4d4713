"""TFLite export of a trained network, its sidecar, and a LiteRT runner.

Every exported ``model.tflite`` (or saved ``model.keras``) gets ``model.tflite.json`` (or
``model.keras.json``) beside it, so that two formats of one model never share a sidecar. It holds
what ``predict`` needs to prepare a record exactly as training did: classes, leads, sampling rate,
window, preprocessing, thresholds, task type; and a ``labels.txt`` with one class per line.
Kinds: ``float32``, ``float16`` (float16 weights), ``dynamic`` (int8 weights, float activations)
and ``int8`` (int8 weights and activations, calibrated on a representative dataset with the
converter's min/max ranges or, given held-out windows, clipped ranges (``lrhnet.calibration``);
float input and output).
"""

import json
import logging
import os

import numpy as np
import scipy.special
import tensorflow as tf

from data_utils.files import atomic_write
from lrhnet.twin import GraphNetwork

KINDS = ("float32", "float16", "dynamic", "int8")
log = logging.getLogger(__name__)


class MissingSidecar(FileNotFoundError):
    """A model file without the ``.json`` sidecar that says how to feed it."""


def sidecar_path(model_path):
    """``student.tflite`` -> ``student.tflite.json``."""
    return model_path + ".json"


def write_sidecar(model_path, *, classes, leads, fs, window, preprocessing, thresholds=None, multilabel=True, demographics=False, **extra):
    """Write ``<model file>.json`` and ``labels.txt`` beside ``model_path``; returns the sidecar dict.

    Args:
        classes: class names (the model's output order); leads: input lead names in order;
        fs: sampling rate in Hz; window: samples per window; preprocessing: ``Preprocessing.as_dict()``;
        thresholds: per-class decision thresholds (multi-label), or None (single-label: arg-max).
    """
    sidecar = {
        "classes": list(classes),
        "leads": list(leads),
        "fs": float(fs),
        "window": int(window),
        "preprocessing": preprocessing,
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
        "multilabel": bool(multilabel),
        "demographics": bool(demographics),
        **extra,
    }
    if sidecar["thresholds"] is not None and len(sidecar["thresholds"]) != len(sidecar["classes"]):
        raise ValueError(f"{len(sidecar['thresholds'])} thresholds for {len(sidecar['classes'])} classes")
    folder = os.path.dirname(os.path.abspath(model_path))
    atomic_write(sidecar_path(model_path), json.dumps(sidecar, indent=1))
    atomic_write(os.path.join(folder, "labels.txt"), "\n".join(sidecar["classes"]) + "\n")
    return sidecar


class SidecarError(ValueError):
    """A sidecar that cannot be read, lacks a field, or does not describe its model."""


def read_sidecar(model_path):
    """The sidecar dict of a model file, checked field by field.

    Raises:
        MissingSidecar: no sidecar beside the file; SidecarError: unreadable JSON or a bad field.
    """
    path = sidecar_path(model_path)
    if not os.path.exists(path):
        raise MissingSidecar(f"{model_path}: no sidecar {os.path.basename(path)} beside it; export the model with lrhnet.export, which writes one")
    try:
        with open(path, encoding="utf-8") as handle:
            sidecar = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SidecarError(f"{path}: not a readable JSON sidecar ({error})") from None
    check_sidecar(sidecar, path)
    return sidecar


def check_sidecar(sidecar, path="sidecar"):
    """Raise ``SidecarError`` naming ``path`` unless ``sidecar`` has every field ``predict`` needs, well typed."""
    from data_utils.leads import STANDARD_LEADS
    from data_utils.preprocess import Preprocessing

    def fail(field, what):
        raise SidecarError(f"{path}: field {field!r} {what}")

    if not isinstance(sidecar, dict):
        raise SidecarError(f"{path}: a sidecar is a JSON object, not {type(sidecar).__name__}")
    for field in ("classes", "leads", "fs", "window", "preprocessing", "multilabel"):
        if field not in sidecar:
            fail(field, "is missing")
    if not (isinstance(sidecar["classes"], list) and sidecar["classes"] and all(isinstance(name, str) for name in sidecar["classes"])):
        fail("classes", "must be a non-empty list of class names")
    if not (isinstance(sidecar["leads"], list) and sidecar["leads"] and all(lead in STANDARD_LEADS for lead in sidecar["leads"])):
        fail("leads", f"must list standard lead names ({', '.join(STANDARD_LEADS)}), not {sidecar['leads']!r}")
    if not (isinstance(sidecar["window"], int) and sidecar["window"] > 0):
        fail("window", f"must be a positive number of samples, not {sidecar['window']!r}")
    thresholds = sidecar.get("thresholds")
    if thresholds is not None and not (isinstance(thresholds, list) and len(thresholds) == len(sidecar["classes"])
                                       and all(isinstance(t, (int, float)) and not isinstance(t, bool) and np.isfinite(t) for t in thresholds)):
        fail("thresholds", f"must be null or one finite number per class ({len(sidecar['classes'])})")
    for field in ("multilabel", "demographics"):
        if not isinstance(sidecar.get(field, False), bool):
            fail(field, f"must be true or false, not {sidecar[field]!r}")
    try:
        preprocessing = Preprocessing.from_dict(sidecar["preprocessing"])
    except (KeyError, TypeError, ValueError) as error:
        fail("preprocessing", f"cannot be read ({error})")
    if sidecar["fs"] != preprocessing.fs:
        fail("fs", f"is {sidecar['fs']!r} but the preprocessing resamples to {preprocessing.fs:g} Hz")


def concrete_function(network, window):
    """The network's inference function for a batch of 1: (1, window, leads) [+ (1, 5)] -> logits (1, K)."""
    signature = [tf.TensorSpec((1, window, network.num_leads), tf.float32, name="signal")]
    if network.demographics:
        signature.append(tf.TensorSpec((1, 5), tf.float32, name="demographics"))
        function = tf.function(lambda signal, demographics: network((signal, demographics), training=False), input_signature=signature)
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


def export_tflite(network, path, kind, *, window, representative=None, held_out=None, **sidecar):
    """Convert ``network``, write ``path`` and its sidecar (see ``write_sidecar`` for the fields).

    Args:
        held_out: post-training int8 only: windows from outside the training and test splits
            (signal (N, window, leads), or ``(signal, demographics)``) on which the activation clip
            is chosen (``lrhnet.calibration``); the sidecar's ``int8_calibration`` records it.
            Without it the converter's min/max ranges are kept.
    Returns:
        the number of bytes written.
    """
    if kind == "int8" and held_out is not None and not isinstance(network, GraphNetwork):
        from lrhnet.calibration import clipped_int8

        check_representative(representative)
        content, sidecar["int8_calibration"] = clipped_int8(network, window, list(representative), held_out, sidecar.get("multilabel", True))
    else:
        content = convert(network, window, kind, representative)
    atomic_write(path, content)
    write_sidecar(path, window=window, demographics=network.demographics, kind=kind, **sidecar)
    return len(content)


def check_representative(representative):
    if representative is None:
        raise ValueError("int8 export needs a representative dataset from the training split")


def probabilities(logits, multilabel):
    """Class probabilities (N, K) of logits (N, K): sigmoid (multi-label) or softmax, without overflow."""
    logits = np.asarray(logits, np.float64)
    return scipy.special.expit(logits) if multilabel else scipy.special.softmax(logits, axis=1)


class TFLiteModel:
    """Run a ``.tflite`` model with ``ai_edge_litert`` on one thread, one window at a time.

    Call it on signals (N, window, leads) [and demographics (N, 5)]; returns float32 logits (N, K).
    ``path`` is a file, or the flatbuffer's bytes. LiteRT's default XNNPACK delegate refuses some
    of our int8 graphs while preparing them (a known class of XNNPACK bugs); the builtin kernels
    are then used and ``delegate`` says so.
    """

    def __init__(self, path, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        source = {"model_content": bytes(path)} if isinstance(path, (bytes, bytearray)) else {"model_path": path}
        self.path, self.delegate = source.get("model_path", "<flatbuffer>"), "xnnpack"
        try:
            self.interpreter = Interpreter(**source, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except RuntimeError as error:
            log.warning("%s: XNNPACK could not prepare the graph (%s); using the builtin kernels", self.path, str(error).splitlines()[0])
            self.delegate = "builtin"
            self.interpreter = Interpreter(**source, num_threads=num_threads, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self.interpreter.allocate_tensors()
        details = sorted(self.interpreter.get_input_details(), key=lambda d: len(d["shape"]), reverse=True)
        self.inputs, self.output = details, self.interpreter.get_output_details()[0]

    def __call__(self, signal, demographics=None):
        arrays = [np.asarray(signal, np.float32)] + ([np.asarray(demographics, np.float32)] if demographics is not None else [])
        if len(arrays) != len(self.inputs):
            raise ValueError(f"{self.path} takes {len(self.inputs)} input(s), got {len(arrays)}")
        outputs = []
        for row in range(len(arrays[0])):
            for detail, array in zip(self.inputs, arrays):
                self.interpreter.set_tensor(detail["index"], quantize(array[row : row + 1].reshape(detail["shape"]), detail))
            self.interpreter.invoke()
            outputs.append(dequantize(self.interpreter.get_tensor(self.output["index"]), self.output))
        return np.concatenate(outputs).astype(np.float32)


def quantize(array, detail):
    """Float array -> the tensor's dtype, through its scale and zero point when it is integer."""
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero = detail["quantization"]
        info = np.iinfo(detail["dtype"])
        return np.clip(np.round(array / scale + zero), info.min, info.max).astype(detail["dtype"])
    return array.astype(detail["dtype"])


def dequantize(array, detail):
    """The tensor's values as float32."""
    if np.issubdtype(detail["dtype"], np.integer):
        scale, zero = detail["quantization"]
        return (array.astype(np.float32) - zero) * scale
    return array.astype(np.float32)


class Int8AccuracyError(ValueError):
    """An int8 model loses more of the metric than the tolerance allows."""


class TFLiteNetwork:
    """A ``TFLiteModel`` behind the calling convention of our networks, so that
    ``lrhnet.training.predict_probabilities`` and ``evaluate_on_test`` can score it."""

    def __init__(self, path):
        self.model = TFLiteModel(path)
        self.demographics = len(self.model.inputs) > 1

    def __call__(self, inputs, training=None):
        signal, demo = inputs if self.demographics else (inputs, None)
        return self.model(np.asarray(signal), None if demo is None else np.asarray(demo))


def parity_report(network, tflite_path, validation, test, classes, multilabel=True, view="student", metric=None, int8_tolerance=None):
    """Score the Keras network and its exported file on the same validation and test batches.

    Thresholds are tuned on ``validation`` for each model separately. With ``int8_tolerance``,
    raises ``Int8AccuracyError`` when the file scores more than the tolerance below the Keras
    network on the validation ``metric`` (a key of ``lrhnet.training.score``; default the
    selection metric of the task).

    Returns:
        ``{"keras": test metrics, "tflite": test metrics, "keras_validation": ..., "tflite_validation": ...,
        "thresholds": the file's thresholds (None for single-label), "metric": metric}``.
    Raises:
        ValueError: ``metric`` is not a metric of this task.
    """
    from lrhnet.training import evaluate_on_splits, selection_metric

    metric = metric or selection_metric(classes, multilabel)
    keras_scores = evaluate_on_splits(network, validation, test, classes, multilabel, view)
    file_scores = evaluate_on_splits(TFLiteNetwork(tflite_path), validation, test, classes, multilabel, view)
    if metric not in keras_scores["validation"]:
        raise ValueError(f"metric {metric!r} is not one of {sorted(keras_scores['validation'])}")
    report = {"keras": keras_scores["test"], "tflite": file_scores["test"], "keras_validation": keras_scores["validation"],
              "tflite_validation": file_scores["validation"], "thresholds": file_scores["thresholds"], "metric": metric}
    if int8_tolerance is not None:
        float_value, file_value = keras_scores["validation"][metric], file_scores["validation"][metric]
        if not (np.isfinite(float_value) and np.isfinite(file_value)):
            raise Int8AccuracyError(f"{tflite_path}: validation {metric} is {file_value} for the file and {float_value} for the Keras model; they cannot be compared")
        if float_value - file_value > int8_tolerance:
            raise Int8AccuracyError(f"{tflite_path}: validation {metric} {file_value:.4f} is {float_value - file_value:.4f} below the Keras model's "
                                    f"{float_value:.4f} (tolerance {int8_tolerance})")
    return report


def set_sidecar_thresholds(model_path, thresholds):
    """Rewrite the ``thresholds`` of a model file's sidecar (one per class, or None)."""
    sidecar = read_sidecar(model_path)
    sidecar["thresholds"] = None if thresholds is None else [float(t) for t in thresholds]
    check_sidecar(sidecar, sidecar_path(model_path))
    atomic_write(sidecar_path(model_path), json.dumps(sidecar, indent=1))
