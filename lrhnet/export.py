"""TFLite export of a trained network with its sidecar, and the file's accuracy beside the network's.

``export_tflite`` converts (``lrhnet.conversion``; post-training int8 with held-out windows takes
the clipped ranges of ``lrhnet.calibration``), writes the file and its sidecar
(``lrhnet.sidecar``); ``parity_report`` scores the file (run by ``lrhnet.litert``) and the network
on the same splits.
"""

import numpy as np

from data_utils.files import atomic_write
from lrhnet.calibration import clipped_int8
from lrhnet.conversion import KINDS, check_representative, convert
from lrhnet.litert import TFLiteModel
from lrhnet.sidecar import write_sidecar
from lrhnet.twin import GraphNetwork

__all__ = ["KINDS", "Int8AccuracyError", "TFLiteNetwork", "export_tflite", "parity_report"]


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
        check_representative(representative)
        content, sidecar["int8_calibration"] = clipped_int8(
            network, window, list(representative), held_out, sidecar.get("multilabel", True)
        )
    else:
        content = convert(network, window, kind, representative)
    atomic_write(path, content)
    write_sidecar(path, window=window, demographics=network.demographics, kind=kind, **sidecar)
    return len(content)


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


def parity_report(
    network, tflite_path, validation, test, classes, multilabel=True, view="student", metric=None, int8_tolerance=None
):
    """Score the Keras network and its exported file on the same validation and test batches.

    Thresholds are tuned on ``validation`` for each model separately. With ``int8_tolerance``,
    raises ``Int8AccuracyError`` when the file scores more than the tolerance below the Keras
    network on the validation ``metric`` (a key of ``lrhnet.training.score``; default the
    selection metric of the task).

    Returns:
        ``{"keras": test metrics, "tflite": test metrics, "keras_validation": ..., "tflite_validation": ...,
        "thresholds": the file's thresholds (``training.tune_decision_rule``), "keras_thresholds": the Keras
        network's, "metric": metric}``.
    Raises:
        ValueError: ``metric`` is not a metric of this task.
    """
    from lrhnet.training import evaluate_on_splits, selection_metric

    metric = metric or selection_metric(classes, multilabel)
    keras_scores = evaluate_on_splits(network, validation, test, classes, multilabel, view)
    file_scores = evaluate_on_splits(TFLiteNetwork(tflite_path), validation, test, classes, multilabel, view)
    if metric not in keras_scores["validation"]:
        raise ValueError(f"metric {metric!r} is not one of {sorted(keras_scores['validation'])}")
    report = {
        "keras": keras_scores["test"],
        "tflite": file_scores["test"],
        "keras_validation": keras_scores["validation"],
        "tflite_validation": file_scores["validation"],
        "thresholds": file_scores["thresholds"],
        "keras_thresholds": keras_scores["thresholds"],
        "metric": metric,
    }
    if int8_tolerance is not None:
        float_value, file_value = keras_scores["validation"][metric], file_scores["validation"][metric]
        if not (np.isfinite(float_value) and np.isfinite(file_value)):
            raise Int8AccuracyError(
                f"{tflite_path}: validation {metric} is {file_value} for the file and {float_value} for the Keras "
                "model; they cannot be compared"
            )
        if float_value - file_value > int8_tolerance:
            raise Int8AccuracyError(
                f"{tflite_path}: validation {metric} {file_value:.4f} is {float_value - file_value:.4f} below the "
                "Keras model's "
                f"{float_value:.4f} (tolerance {int8_tolerance})"
            )
    return report
