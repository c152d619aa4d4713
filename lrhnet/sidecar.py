"""The sidecar of a model file: what ``predict`` needs to feed it, checked field by field.

Every exported ``model.tflite`` (or saved ``model.keras``) gets ``model.tflite.json`` (or
``model.keras.json``) beside it, so that two formats of one model never share a sidecar. It holds
what ``predict`` needs to prepare a record exactly as training did: classes, leads, sampling rate,
window, preprocessing, thresholds, task type; and a ``labels.txt`` with one class per line. It may
also hold a ``screen``: ``{"class", "threshold", "rule"}``, a one-class alarm (the class is called at
or above the threshold on its probability) beside the decision rule.
No TensorFlow here: ``predict`` reads sidecars before it starts TensorFlow.
"""

import json
import logging
import os

import numpy as np

from data_utils.files import atomic_write

log = logging.getLogger(__name__)


class MissingSidecar(FileNotFoundError):
    """A model file without the ``.json`` sidecar that says how to feed it."""


def sidecar_path(model_path):
    """``student.tflite`` -> ``student.tflite.json``."""
    return model_path + ".json"


def write_sidecar(
    model_path,
    *,
    classes,
    leads,
    fs,
    window,
    preprocessing,
    thresholds=None,
    multilabel=True,
    demographics=False,
    **extra,
):
    """Write ``<model file>.json`` and ``labels.txt`` beside ``model_path``; returns the sidecar dict.

    Args:
        classes: class names (the model's output order); leads: input lead names in order;
        fs: sampling rate in Hz; window: samples per window; preprocessing: ``Preprocessing.as_dict()``;
        thresholds: per-class decision thresholds, or None. Multi-label: a class is predicted at or
            above its threshold (None: the arg-max alone). Single-label: the class with the largest
            probability divided by its threshold (None: the arg-max).
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
    if sidecar["thresholds"] is not None and not multilabel and min(sidecar["thresholds"]) <= 0:
        raise ValueError("the thresholds of a single-label model divide its probabilities: each must be above 0")
    atomic_write(sidecar_path(model_path), json.dumps(sidecar, indent=1))
    write_labels(os.path.join(os.path.dirname(os.path.abspath(model_path)), "labels.txt"), sidecar["classes"])
    return sidecar


def write_labels(path, classes):
    """Write ``labels.txt`` (one class per line) unless a different file is already there: then it is
    left as it is (it may be a user's, or another model's) and the sidecar alone names the classes."""
    content = "\n".join(classes) + "\n"
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as handle:
            if handle.read() != content:
                log.warning("%s exists with other content and is left as it is; the sidecar names the classes", path)
                return
    atomic_write(path, content)


class SidecarError(ValueError):
    """A sidecar that cannot be read, lacks a field, or does not describe its model."""


def read_sidecar(model_path):
    """The sidecar dict of a model file, checked field by field.

    Raises:
        MissingSidecar: no sidecar beside the file; SidecarError: unreadable JSON or a bad field.
    """
    path = sidecar_path(model_path)
    if not os.path.exists(path):
        raise MissingSidecar(
            f"{model_path}: no sidecar {os.path.basename(path)} beside it; lrhnet.export.export_tflite writes "
            "one for a .tflite file, lrhnet.sidecar.write_sidecar for a .keras file"
        )
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
    if not (
        isinstance(sidecar["classes"], list)
        and sidecar["classes"]
        and all(isinstance(name, str) for name in sidecar["classes"])
    ):
        fail("classes", "must be a non-empty list of class names")
    if not (
        isinstance(sidecar["leads"], list)
        and sidecar["leads"]
        and all(lead in STANDARD_LEADS for lead in sidecar["leads"])
    ):
        fail("leads", f"must list standard lead names ({', '.join(STANDARD_LEADS)}), not {sidecar['leads']!r}")
    if not (isinstance(sidecar["window"], int) and sidecar["window"] > 0):
        fail("window", f"must be a positive number of samples, not {sidecar['window']!r}")
    thresholds = sidecar.get("thresholds")
    if thresholds is not None and not (
        isinstance(thresholds, list)
        and len(thresholds) == len(sidecar["classes"])
        and all(isinstance(t, (int, float)) and not isinstance(t, bool) and np.isfinite(t) for t in thresholds)
    ):
        fail("thresholds", f"must be null or one finite number per class ({len(sidecar['classes'])})")
    if thresholds is not None and sidecar.get("multilabel") is False and min(thresholds) <= 0:
        fail("thresholds", "of a single-label model divide its probabilities: each must be above 0")
    screen = sidecar.get("screen")
    if screen is not None and not (
        isinstance(screen, dict)
        and screen.get("class") in sidecar["classes"]
        and isinstance(screen.get("threshold"), (int, float))
        and not isinstance(screen["threshold"], bool)
        and 0 < screen["threshold"] <= 1
        and isinstance(screen.get("rule", ""), str)
    ):
        fail(
            "screen",
            "must be null or name one of the classes, a threshold in (0, 1] on its probability and, optionally, its "
            f"rule in words, not {screen!r}",
        )
    for field in ("multilabel", "demographics"):
        if not isinstance(sidecar.get(field, False), bool):
            fail(field, f"must be true or false, not {sidecar[field]!r}")
    try:
        preprocessing = Preprocessing.from_dict(sidecar["preprocessing"])
    except (KeyError, TypeError, ValueError) as error:
        fail("preprocessing", f"cannot be read ({error})")
    if sidecar["fs"] != preprocessing.fs:
        fail("fs", f"is {sidecar['fs']!r} but the preprocessing resamples to {preprocessing.fs:g} Hz")


def set_sidecar_thresholds(model_path, thresholds):
    """Rewrite the ``thresholds`` of a model file's sidecar (one per class, or None)."""
    sidecar = read_sidecar(model_path)
    sidecar["thresholds"] = None if thresholds is None else [float(t) for t in thresholds]
    check_sidecar(sidecar, sidecar_path(model_path))
    atomic_write(sidecar_path(model_path), json.dumps(sidecar, indent=1))
