"""Published folders: installing an exported network (its int8 file and float ``.keras``, each with a
sidecar), and the helpers of the benchmarks that measure published files."""

import glob
import hashlib
import json
import os
import shutil

from benchmarks.provenance import REPOSITORY
from data_utils.files import atomic_write, is_inside


def model_files(folder):
    """The ``.tflite`` and ``.keras`` files of ``folder`` that have a sidecar, sorted."""
    return sorted(
        path
        for pattern in ("*.tflite", "*.keras")
        for path in glob.glob(os.path.join(folder, pattern))
        if os.path.exists(path + ".json")
    )


def fingerprint(path):
    """SHA-256 of a model file followed by its sidecar (which holds its decision rule), as hex."""
    digest = hashlib.sha256()
    for part in (path, path + ".json"):
        with open(part, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def shown(path):
    """``path`` relative to the repository, as committed results name it."""
    return os.path.relpath(os.path.abspath(path), REPOSITORY)


def check_out(out, benchmark, data=None, quick=False):
    """What is wrong with a benchmark's ``--out`` (None when nothing is): it must be a ``.json`` file in
    an existing folder outside ``data``; an existing file is replaced only when ``benchmark`` wrote it,
    and a full run's results never by a ``quick`` one."""
    if not out.endswith(".json"):
        return "--out must name a .json file"
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        return f"--out {out}: its folder does not exist"
    if data is not None and is_inside(os.path.abspath(out), os.path.abspath(data)):
        return f"--out {out} lies inside the data folder {data}; the data folder is never written"
    if os.path.exists(out):
        try:
            with open(out) as handle:
                earlier = json.load(handle)
            written_here = earlier.get("benchmark") == benchmark
        except (OSError, ValueError, AttributeError):
            written_here = False
        if not written_here:
            return f"--out {out} exists and is not a results file of this benchmark; it is left as it is"
        if quick and not earlier.get("quick"):
            return f"--out {out} holds a full run's results; a --quick run writes elsewhere"
    return None


def install(tflite, keras, folder, tflite_name, keras_name, keras_thresholds):
    """Copy ``tflite`` (with its sidecar and the ``labels.txt`` beside it) and ``keras`` into ``folder``.

    The ``.keras`` gets a sidecar of its own: the int8 file's, with ``keras_thresholds`` (tuned on
    validation for the float network) and without the int8 calibration.
    Returns:
        the int8 file's sidecar.
    """
    os.makedirs(folder, exist_ok=True)
    for source, name in ((tflite, tflite_name), (tflite + ".json", tflite_name + ".json")):
        shutil.copyfile(source, os.path.join(folder, name))
    shutil.copyfile(os.path.join(os.path.dirname(tflite), "labels.txt"), os.path.join(folder, "labels.txt"))
    shutil.copyfile(keras, os.path.join(folder, keras_name))
    with open(tflite + ".json") as handle:
        sidecar = json.load(handle)
    keras_sidecar = {key: value for key, value in sidecar.items() if key != "int8_calibration"}
    keras_sidecar.update(kind="keras float32", thresholds=keras_thresholds)
    atomic_write(os.path.join(folder, keras_name + ".json"), json.dumps(keras_sidecar, indent=1))
    return sidecar
