"""The output folder of a run: ownership, a lock, atomic writes, stage records, and saved networks.

A run folder is marked by ``state.json``, written as soon as the folder is taken. A folder that
holds anything else and no ``state.json`` is not a run folder: it is refused and left untouched.
In a run folder only the run's own entries (``RUN_ENTRIES``) are ever removed, so files a user
put beside them survive a fresh run. While a run writes, it holds an exclusive lock on
``train.lock``; a second run into the same folder is refused.

Everything is written to a temporary name and renamed into place, so a run killed at any moment
leaves either the old file or the new one, never a truncated file that a resumed run would read
as good. ``state.json`` lists the completed stages with what each produced, the run's configuration
(``config``), the seconds its calls took, and the SHA-256 of the ``--teacher-from`` files its teacher
was copied from (``teacher_from_sha256``).
"""

import fcntl
import json
import os
import shutil

from data_utils.files import atomic_write, temporary_of

STATE = "state.json"
LOCK = "train.lock"
TOOL = "ecg-kd train.py"  # written into state.json: the mark of a run folder
RUN_ENTRIES = (STATE, "report.json", "report.md", "split.json", "models", "exports", "plots", "backup", LOCK)


class RunFolderError(ValueError):
    """A folder that cannot take a run: a file, somebody else's folder, or a folder another run holds."""


def model_path(root, name):
    """Where the run folder ``root`` keeps the network ``name``: ``<root>/models/<name>.keras``."""
    return os.path.join(root, "models", f"{name}.keras")


def partial_path(path):
    """The name a network file is written under before it is renamed to ``path``: ``models/x.partial.keras``."""
    stem, extension = os.path.splitext(path)
    return stem + ".partial" + extension


def read_state(root):
    """The ``state.json`` of a run folder: a dict with a ``stages`` dict (and, since this version, ``tool``).

    Raises:
        RunFolderError: the file cannot be read or is not a run's state.
    """
    try:
        with open(os.path.join(root, STATE)) as handle:
            state = json.load(handle)
    except (OSError, ValueError) as error:
        raise RunFolderError(
            f"{root}: {STATE} cannot be read ({error}); it is not a train.py run folder, so nothing in it is touched"
        ) from None
    if not (
        isinstance(state, dict)
        and isinstance(state.get("stages"), dict)
        and (state.get("tool") == TOOL or older_run(state))
    ):
        raise RunFolderError(
            f"{root}: its {STATE} is not the state of a train.py run, so nothing in it is touched; choose a new "
            "or empty folder"
        )
    return state


def older_run(state):
    """True for the state of a run made before runs wrote ``tool``: its ``config`` holds train.py's flags."""
    return "tool" not in state and {"method", "teacher_leads", "student_leads", "epochs"} <= set(
        state.get("config") or {}
    )


def check_run_folder(root):
    """Raise ``RunFolderError`` unless ``root`` is absent (with a writable folder above it), empty,
    or a run folder (holds a run's ``state.json``)."""
    if os.path.lexists(root) and not os.path.exists(root):
        raise RunFolderError(f"{root} is a link to nothing")
    if os.path.exists(root) and not os.path.isdir(root):
        raise RunFolderError(f"{root} is a file, not a folder")
    if not os.path.isdir(root):
        parent = os.path.dirname(os.path.abspath(root))
        while not os.path.lexists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise RunFolderError(f"{root}: {parent} is a file, so the folder cannot be made")
        if not os.access(parent, os.W_OK):
            raise RunFolderError(f"{root}: {parent} is not writable")
        return
    foreign = sorted(set(os.listdir(root)) - {LOCK})
    if foreign and STATE not in foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise RunFolderError(
            f"{root} holds {len(foreign)} entries ({shown}) and no {STATE}: it is not a train.py run folder, "
            "so nothing in it is touched; choose a new or empty folder"
        )
    if foreign:
        read_state(root)


def own_entries(root):
    """The entries of ``root`` that a run wrote: ``RUN_ENTRIES`` and what ``atomic_write`` left of them."""
    return [name for name in sorted(os.listdir(root)) if name in RUN_ENTRIES or temporary_of(name) in RUN_ENTRIES]


class RunDir:
    """The folder ``root`` of one run, taken and locked on construction (parents created).

    ``done(stage)`` / ``output(stage)`` read the stage records of earlier (possibly killed) runs;
    ``complete(stage, output)`` adds one. Networks are saved as ``models/<name>.keras``.
    Use it as a context manager, or call ``release()``, to give the lock back.

    Raises:
        RunFolderError: ``root`` is not absent, empty or a run folder, or another run holds it.
    """

    def __init__(self, root):
        self.root = os.path.abspath(root)
        check_run_folder(self.root)
        try:
            os.makedirs(self.root, exist_ok=True)
            self._lock = open(self.path(LOCK), "a")
        except OSError as error:
            raise RunFolderError(f"{root}: cannot be made or written ({error.strerror})") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RunFolderError(
                f"{root}: another train.py run is writing to this folder; wait for it or choose another --out"
            ) from None
        try:
            self.state = read_state(self.root) if os.path.exists(self.path(STATE)) else {"stages": {}}
        except RunFolderError:
            self.release()
            raise
        self.state["tool"] = TOOL
        self.write(STATE, self.state)  # marks the folder as a run folder from the first write on

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def release(self):
        """Give the lock back (the lock file stays; it is the run's own)."""
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

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
        return model_path(self.root, name)

    def save_model(self, network, name):
        """Save ``network`` as ``models/<name>.keras`` atomically; returns the path."""
        path = self.model_path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = partial_path(path)
        network.save(temporary)
        os.replace(temporary, path)
        return path

    def load_model(self, name):
        """The network saved as ``models/<name>.keras``."""
        from lrhnet.saving import load_network

        return load_network(self.model_path(name))

    def clear(self):
        """Start afresh (a new run in this folder without ``--resume``): remove the run's own
        entries (``RUN_ENTRIES``), never anything else, and write an empty ``state.json``."""
        for name in own_entries(self.root):
            if name == LOCK:
                continue
            target = self.path(name)
            shutil.rmtree(target) if os.path.isdir(target) and not os.path.islink(target) else os.remove(target)
        self.state = {"tool": TOOL, "stages": {}}
        self.write(STATE, self.state)
