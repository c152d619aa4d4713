"""The output folder of a run: atomic writes, stage records, and saved networks.

Everything is written to a temporary name and renamed into place, so a run killed at any moment
leaves either the old file or the new one, never a truncated file that a resumed run would read
as good. ``state.json`` lists the completed stages with what each produced.
"""

import json
import os
import shutil

from data_utils.files import atomic_write

STATE = "state.json"


class RunDir:
    """The folder ``root`` of one run.

    ``done(stage)`` / ``output(stage)`` read the stage records of earlier (possibly killed) runs;
    ``complete(stage, output)`` adds one. Networks are saved as ``models/<name>.keras``.
    """

    def __init__(self, root):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.state = self.read(STATE) or {"stages": {}}

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def read(self, name):
        """The JSON file ``name`` in the run folder, or None when it is absent."""
        path = self.path(name)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return json.load(handle)

    def write(self, name, content):
        atomic_write(self.path(name), json.dumps(content, indent=1, default=float) + "\n")

    def done(self, stage):
        return stage in self.state["stages"]

    def output(self, stage):
        return self.state["stages"][stage]

    def complete(self, stage, output):
        self.state["stages"][stage] = output
        self.write(STATE, self.state)

    def model_path(self, name):
        return self.path("models", f"{name}.keras")

    def save_model(self, network, name):
        """Save ``network`` as ``models/<name>.keras`` atomically; returns the path."""
        path = self.model_path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = path.replace(".keras", ".partial.keras")
        network.save(temporary)
        os.replace(temporary, path)
        return path

    def load_model(self, name):
        import tf_keras as keras

        import liteheart  # noqa: F401  (importing registers the network classes for loading)
        import lrhnet  # noqa: F401

        return keras.models.load_model(self.model_path(name))

    def clear(self):
        """Remove everything (a fresh run in an existing folder without ``--resume``)."""
        for name in os.listdir(self.root):
            target = self.path(name)
            shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
        self.state = {"stages": {}}
