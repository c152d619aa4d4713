"""Published folders: installing an exported network (its int8 file and float ``.keras``, each with a
sidecar), and the helpers of the benchmarks that measure published files."""

import glob
import json
import os
import shutil

from benchmarks.provenance import REPOSITORY
from data_utils.files import atomic_write, is_inside, sha256_of


class ExportFolder:
    """Where ``kdpipeline.compression.exported`` writes (``path(*parts)`` under ``root``): the part of a
    run folder it uses."""

    def __init__(self, root):
        self.root = root

    def path(self, *parts):
        return os.path.join(self.root, *parts)


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
    return sha256_of(path, path + ".json")


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


def keras_sidecar(sidecar, keras_thresholds):
    """The sidecar of an int8 file's float ``.keras`` twin: ``sidecar`` with ``keras_thresholds`` (tuned on
    validation for the float network), without the int8 calibration and without the int8 file's screen."""
    twin = {key: value for key, value in sidecar.items() if key not in ("int8_calibration", "screen")}
    twin.update(kind="keras float32", thresholds=keras_thresholds)
    return twin


def install(tflite, keras, folder, tflite_name, keras_name, keras_thresholds, screens=None):
    """Copy ``tflite`` and ``keras`` into ``folder`` as ``tflite_name`` and ``keras_name``, each followed by
    its sidecar, and the ``labels.txt`` beside ``tflite``.

    The int8 file keeps its sidecar, and the ``.keras`` gets ``keras_sidecar``, both without a screen
    unless ``screens`` (``{file name: sidecar screen entry}``, optional) gives one. Every source file
    is found and every sidecar checked before the first file is copied.
    Returns:
        the int8 file's sidecar.
    """
    from lrhnet.sidecar import check_sidecar

    labels = os.path.join(os.path.dirname(tflite), "labels.txt")
    missing = [path for path in (tflite, keras, labels) if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError(2, "nothing installed: no such file", missing[0])
    with open(tflite + ".json") as handle:
        sidecar = {key: value for key, value in json.load(handle).items() if key != "screen"}
    files = {
        tflite_name: (tflite, sidecar),
        keras_name: (keras, keras_sidecar(sidecar, keras_thresholds)),
    }
    unknown = sorted(set(screens or {}) - set(files))
    if unknown:
        raise ValueError(f"screens for {', '.join(unknown)}: only {tflite_name} and {keras_name} are installed")
    for name, screen in (screens or {}).items():
        source, content = files[name]
        files[name] = (source, {**content, "screen": screen})
    for name, (_, content) in files.items():
        check_sidecar(content, f"the sidecar of {name}")
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(labels, os.path.join(folder, "labels.txt"))
    for name, (source, content) in files.items():
        shutil.copyfile(source, os.path.join(folder, name))
        atomic_write(os.path.join(folder, name + ".json"), json.dumps(content, indent=1))
    return files[tflite_name][1]
