"""``python -m lrhnet.predict --model FILE --input PATH --out preds.csv``: classify ECG records.

FILE is a ``.tflite`` or ``.keras`` model with its sidecar ``FILE.json``. PATH is one record (its
``.hea``, or the path without extension) or a folder searched recursively, in any supported
format and at any sampling rate. Each record is prepared exactly as in training (the sidecar's
leads, rate, filter and normalisation), cut into sliding windows whose outputs are averaged, and
written as one CSV row: ``record``, ``p_<class>`` per class, and ``labels`` (classes at or above
their thresholds joined by ``;``, or the arg-max class for single-label models). Records that
cannot be used are listed on stderr with their reason; the others still get predictions.
"""

import argparse
import csv
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from data_utils.errors import RecordError  # noqa: E402
from data_utils.preprocess import Preprocessing, sliding_windows  # noqa: E402
from data_utils.readers import read_record  # noqa: E402
from data_utils.readers.challenge import find_headers  # noqa: E402
from data_utils.record import encode_demographics  # noqa: E402
from lrhnet.export import MissingSidecar, TFLiteModel, probabilities, read_sidecar  # noqa: E402


class Predictor:
    """A model with its sidecar: ``predict(record) -> probabilities (K,)``.

    Raises ``MissingSidecar`` when the sidecar is absent, ``ValueError`` for an unknown file type.
    """

    def __init__(self, model_path, stride_seconds=None):
        self.sidecar = read_sidecar(model_path)
        if model_path.endswith(".tflite"):
            runner = TFLiteModel(model_path)
            self.run = lambda signal, demo: runner(signal, demo)
        elif model_path.endswith(".keras"):
            import tf_keras as keras

            import liteheart  # noqa: F401  (importing registers the network classes for loading)
            import lrhnet  # noqa: F401

            network = keras.models.load_model(model_path, compile=False)
            self.run = lambda signal, demo: network((signal, demo) if demo is not None else signal, training=False).numpy()
        else:
            raise ValueError(f"{model_path}: expected a .tflite or .keras model")
        self.preprocessing = Preprocessing.from_dict(self.sidecar["preprocessing"])
        self.window = int(self.sidecar["window"])
        self.stride = int(round((stride_seconds or self.window / self.preprocessing.fs / 2) * self.preprocessing.fs))

    @property
    def classes(self):
        return self.sidecar["classes"]

    def predict(self, record):
        """Mean class probabilities (K,) over the record's sliding windows."""
        signal = self.preprocessing.apply(record.select_leads(self.sidecar["leads"]), record.fs, record.record_id)
        windows = sliding_windows(signal, self.window, self.stride)
        demo = np.repeat(encode_demographics(record.age, record.sex)[None], len(windows), axis=0) if self.sidecar["demographics"] else None
        return probabilities(self.run(windows.astype(np.float32), demo), self.sidecar["multilabel"]).mean(axis=0)

    def decide(self, probabilities):
        """Predicted class names: above thresholds (multi-label) or the arg-max (single-label)."""
        thresholds = self.sidecar.get("thresholds")
        if not self.sidecar["multilabel"] or thresholds is None:
            return [self.classes[int(np.argmax(probabilities))]]
        return [name for name, p, t in zip(self.classes, probabilities, thresholds) if p >= t]


def record_paths(path):
    """Header paths of one record or of every record under a folder."""
    if os.path.isdir(path):
        return find_headers(path)
    base = os.path.splitext(path)[0]
    return [base + ".hea"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lrhnet.predict", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=".tflite or .keras model with its .json sidecar")
    parser.add_argument("--input", required=True, help="a record or a folder of records")
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--stride-seconds", type=float, default=None, help="sliding-window stride (default: half a window)")
    args = parser.parse_args(argv)
    try:
        predictor = Predictor(args.model, args.stride_seconds)
    except (MissingSidecar, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paths = record_paths(args.input)
    if not paths or not os.path.exists(paths[0]):
        print(f"error: {args.input}: no ECG record found", file=sys.stderr)
        return 2
    rows, failures = [], 0
    for path in paths:
        try:
            record = read_record(path)
            probabilities = predictor.predict(record)
        except RecordError as error:
            failures += 1
            print(f"{error.record}: {error.reason}", file=sys.stderr)
            continue
        rows.append([record.record_id, *(f"{p:.6f}" for p in probabilities), ";".join(predictor.decide(probabilities))])
    with open(args.out + ".tmp", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record", *(f"p_{name}" for name in predictor.classes), "labels"])
        writer.writerows(rows)
    os.replace(args.out + ".tmp", args.out)
    print(f"{len(rows)} records predicted, {failures} skipped; wrote {args.out}", file=sys.stderr)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
