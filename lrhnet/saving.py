"""``load_network``: the one loader of the networks this project saves as ``.keras``.

A ``.keras`` file's ``config.json`` names the module that defines the saved network
(``"module": "liteheart.student"``). That module is imported first, so that its classes are
registered with Keras before loading, and a caller never imports an extension just for its
side effect. Only modules of ``NETWORK_PACKAGES`` are imported this way.
"""

import importlib
import json
import zipfile

import tf_keras as keras

NETWORK_PACKAGES = ("lrhnet", "liteheart")  # packages whose saved networks load_network may import


def saved_module(path):
    """The module a ``.keras`` file says defines its network, or None.

    Raises:
        ValueError: ``path`` is not a ``.keras`` archive.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ValueError(f"{path}: not a saved Keras network (.keras): {error}") from None
    module = config.get("module") if isinstance(config, dict) else None
    return module if isinstance(module, str) else None


def load_network(path, compile=False):
    """Load a network saved by ``network.save(path)``.

    Args:
        path: a ``.keras`` file.
        compile: restore the training configuration too (default: no; our networks are trained
            through a ``Distiller``, which compiles itself).
    Returns:
        the network (an ``lrhnet.networks`` or ``liteheart`` network, or any Keras model).
    Raises:
        ValueError: not a ``.keras`` archive.
    """
    module = saved_module(path)
    if module and module.split(".")[0] in NETWORK_PACKAGES:
        importlib.import_module(module)
    importlib.import_module("lrhnet.layers")  # the building blocks every network of ours uses
    return keras.models.load_model(path, compile=compile)
