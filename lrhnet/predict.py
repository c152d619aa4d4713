"""``python -m lrhnet.predict --model FILE --input PATH --out preds.csv``: classify ECG records.

FILE is a ``.tflite`` or ``.keras`` model with its sidecar ``FILE.json``. PATH is one record (its
``.hea``, or the path without extension) or a folder searched recursively, in any supported
format and at any sampling rate. Each record is prepared exactly as in training (the sidecar's
leads, rate, filter and normalisation), cut into sliding windows whose outputs are averaged, and
written as one CSV row: ``record``, ``p_<class>`` per class, ``labels`` (classes at or above their
thresholds joined by ``;``; for single-label models the class with the largest probability divided
by its threshold, the arg-max when the sidecar has none) and, when the sidecar holds a one-class
screen, ``screen_<class>`` (1 or 0). Records that
cannot be used are listed on stderr with their reason; the others still get predictions.
"""

import argparse
import contextlib
import csv
import io
import math
import os
import re
import sys

import numpy as np

from data_utils.errors import as_record_error
from data_utils.files import atomic_write, is_inside
from data_utils.preprocess import Preprocessing, sliding_windows, stride_samples
from data_utils.quiet import import_tensorflow, native_stderr_filtered
from data_utils.readers import read_record
from data_utils.readers.challenge import find_headers
from data_utils.record import encode_demographics
from data_utils.scoring import weighted_argmax
from lrhnet.litert import TFLiteModel, probabilities
from lrhnet.sidecar import MissingSidecar, check_sidecar, read_sidecar


class ModelFileError(ValueError):
    """A model file that cannot be loaded, or whose inputs and outputs disagree with its sidecar."""


class Predictor:
    """A model with its sidecar: ``predict(record) -> probabilities (K,)``.

    ``sidecar`` (a dict, checked as a file's would be) stands in for the file beside the model.
    ``cache_rounding`` rounds each prepared record to float16 before windows are cut, as
    ``train.py``'s signal cache stores it, so that outputs are those ``train.py`` scored and tuned
    the decision rule on (an int8 file can tell the two inputs apart; ``predict`` itself does not round).
    Raises ``MissingSidecar`` when the sidecar is absent, ``SidecarError`` when it is unreadable or
    incomplete, ``ModelFileError`` when the model cannot be loaded or does not match its sidecar,
    and ``ValueError`` for an unknown file type.
    """

    def __init__(self, model_path, stride_seconds=None, sidecar=None, cache_rounding=False):
        if not model_path.endswith((".tflite", ".keras")):
            raise ValueError(f"{model_path}: expected a .tflite or .keras model")
        if not os.path.isfile(model_path):
            raise ModelFileError(f"{model_path}: no such file")
        if sidecar is not None:
            check_sidecar(sidecar, f"the sidecar given for {model_path}")
        self.sidecar = read_sidecar(model_path) if sidecar is None else sidecar
        try:
            self.run, shape = load_runner(model_path)
        except Exception as error:  # LiteRT and Keras raise many types for a file that is not a model
            raise ModelFileError(
                f"{model_path}: cannot be loaded as a model ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''})"
            ) from None
        check_model_matches_sidecar(model_path, shape, self.sidecar)
        self.preprocessing = Preprocessing.from_dict(self.sidecar["preprocessing"])
        self.window = int(self.sidecar["window"])
        self.stride = stride_samples(self.window, self.preprocessing.fs, stride_seconds)
        self.cache_rounding = cache_rounding

    @property
    def classes(self):
        return self.sidecar["classes"]

    def window_probabilities(self, record):
        """Class probabilities (W, K) of the record's W sliding windows."""
        signal = self.preprocessing.apply(record.select_leads(self.sidecar["leads"]), record.fs, record.record_id)
        if self.cache_rounding:
            signal = signal.astype(np.float16).astype(np.float32)
        windows = sliding_windows(signal, self.window, self.stride)
        demo = (
            np.repeat(encode_demographics(record.age, record.sex)[None], len(windows), axis=0)
            if self.sidecar.get("demographics")
            else None
        )
        return probabilities(self.run(windows.astype(np.float32), demo), self.sidecar["multilabel"])

    def predict(self, record):
        """Mean class probabilities (K,) over the record's sliding windows."""
        return self.window_probabilities(record).mean(axis=0)

    def decide(self, probabilities):
        """Predicted class names: those at or above their thresholds (multi-label), or the one class
        with the largest probability divided by its threshold (single-label; the arg-max without thresholds)."""
        thresholds = self.sidecar.get("thresholds")
        if not self.sidecar["multilabel"]:
            return [self.classes[int(weighted_argmax(np.asarray(probabilities)[None], thresholds)[0])]]
        if thresholds is None:
            return [self.classes[int(np.argmax(probabilities))]]
        return [name for name, p, t in zip(self.classes, probabilities, thresholds) if p >= t]

    def screened(self, probabilities):
        """True when the sidecar's one-class screen calls its class (its probability at or above the
        screen's threshold), False when not, None when the sidecar has no screen."""
        screen = self.sidecar.get("screen")
        if screen is None:
            return None
        return bool(probabilities[self.classes.index(screen["class"])] >= screen["threshold"])


def load_runner(model_path):
    """``(run(signal, demographics) -> logits, shape)`` of a model file; ``shape`` holds what it
    takes and gives: ``window`` (None when any length goes), ``leads``, ``demographics``, ``classes``."""
    if model_path.endswith(".tflite"):
        runner = TFLiteModel(model_path)
        window, leads = (
            int(size) for size in runner.inputs[0]["shape"][-2:]
        )  # (1, window, leads), or (1, 1, window, leads) for 2-D twins
        shape = {
            "window": window,
            "leads": leads,
            "demographics": len(runner.inputs) > 1,
            "classes": int(runner.output["shape"][-1]),
        }
        return runner, shape
    from lrhnet.saving import load_network

    network = load_network(model_path)
    shape = {
        "window": None,
        "leads": network.num_leads,
        "demographics": network.demographics,
        "classes": network.num_classes,
    }
    return (lambda signal, demo: network((signal, demo) if demo is not None else signal, training=False).numpy()), shape


def check_model_matches_sidecar(model_path, shape, sidecar):
    """Raise ``ModelFileError`` when the model's inputs or outputs disagree with its sidecar."""
    expected = {
        "leads": len(sidecar["leads"]),
        "classes": len(sidecar["classes"]),
        "demographics": bool(sidecar.get("demographics")),
        "window": sidecar["window"],
    }
    for field, value in expected.items():
        if shape[field] is not None and shape[field] != value:
            raise ModelFileError(
                f"{model_path}: the model takes or gives {field} = {shape[field]}, its sidecar says {value}; the "
                "sidecar belongs to another model"
            )


def record_paths(path):
    """Header paths of one record or of every record under a folder."""
    if os.path.isdir(path):
        return find_headers(path)
    base = os.path.splitext(path)[0]
    return [base + ".hea"]


def check_output(out, source):
    """What is wrong with ``--out`` (None when nothing is): a folder, inside the data folder (the
    input folder, or the folder of a single input record), or a file this command did not write."""
    out = os.path.abspath(out)
    data_folder = source if os.path.isdir(source) else os.path.dirname(os.path.abspath(source))
    if os.path.isdir(out):
        return f"--out {out} is a folder; name a CSV file"
    if is_inside(out, data_folder):
        return f"--out {out} lies inside the data folder {data_folder}; the data folder is never written"
    if os.path.exists(out):
        try:
            with open(out, encoding="utf-8") as handle:
                first = handle.readline().strip()
        except (OSError, UnicodeDecodeError):
            first = ""
        if not (first.startswith("record,p_") and re.search(r",labels(,screen_[^,]+)?$", first)):
            return (
                f"--out {out} exists and is not a predictions file of this command; it is left as it is: choose "
                "another name"
            )
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lrhnet.predict", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=".tflite or .keras model with its .json sidecar")
    parser.add_argument("--input", required=True, help="a record or a folder of records")
    parser.add_argument(
        "--out",
        required=True,
        help="CSV file to write (an existing file is replaced only when it is an earlier predictions file)",
    )
    parser.add_argument(
        "--stride-seconds", type=float, default=None, help="sliding-window stride (default: half a window)"
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's and LiteRT's own log lines")
    args = parser.parse_args(argv)
    if args.stride_seconds is not None and not (math.isfinite(args.stride_seconds) and args.stride_seconds > 0):
        parser.error(f"--stride-seconds must be a positive number, not {args.stride_seconds}")
    paths = record_paths(args.input)
    if not paths or not os.path.exists(paths[0]):
        print(f"error: {args.input}: no ECG record found", file=sys.stderr)
        return 2
    problem = check_output(args.out, args.input)
    if problem:
        parser.error(problem)
    if args.model.endswith(".keras"):  # a .tflite file needs LiteRT only
        import_tensorflow(args.verbose)
    try:
        with contextlib.nullcontext() if args.verbose else native_stderr_filtered():
            predictor = Predictor(args.model, args.stride_seconds)
    except (MissingSidecar, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows, failures = [], 0
    for path in paths:
        record_id = os.path.splitext(os.path.basename(path))[0]
        try:
            record = read_record(path)
            probabilities = predictor.predict(record)
            screened = predictor.screened(probabilities)
            rows.append(
                [
                    record.record_id,
                    *(f"{p:.6f}" for p in probabilities),
                    ";".join(predictor.decide(probabilities)),
                    *([] if screened is None else [int(screened)]),
                ]
            )
        except Exception as error:  # one bad record never stops the others
            error = as_record_error(record_id, error)
            failures += 1
            print(f"{error.record}: {error.reason}", file=sys.stderr)
    if not rows:
        print(f"error: none of the {failures} records could be predicted; {args.out} is not written", file=sys.stderr)
        return 1
    lines = io.StringIO()
    writer = csv.writer(lines)
    screen = predictor.sidecar.get("screen")
    screen_column = [] if screen is None else [f"screen_{screen['class']}"]
    writer.writerow(["record", *(f"p_{name}" for name in predictor.classes), "labels", *screen_column])
    writer.writerows(rows)
    atomic_write(args.out, lines.getvalue())
    print(f"{len(rows)} records predicted, {failures} skipped; wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
