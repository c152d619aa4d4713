"""A quiet start for the command-line entry points.

TensorFlow's native libraries print start-up lines (oneDNN, CUDA, CPU features) to the process's
standard error before Python can filter them. ``import_tensorflow`` imports TensorFlow and
``tf_keras`` with that file descriptor pointed at ``/dev/null``, and sets ``TF_CPP_MIN_LOG_LEVEL``
so that later native messages stay quiet too; Python exceptions are unaffected. Commands call it
first, unless the user asked for ``--verbose``.
"""

import contextlib
import os


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at ``/dev/null`` for the duration; restores it even on error."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def import_tensorflow(verbose=False):
    """Import TensorFlow and ``tf_keras``: silently, or with every native log line when ``verbose``."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    if verbose:
        import tensorflow  # noqa: F401
        import tf_keras  # noqa: F401

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        import tensorflow  # noqa: F401
        import tf_keras  # noqa: F401
