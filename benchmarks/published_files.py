"""Installing an exported network into a published folder: its int8 file and float ``.keras``, each with a sidecar."""

import json
import os
import shutil

from data_utils.files import atomic_write


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
