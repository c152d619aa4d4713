"""A quiet start for the command-line entry points.

TensorFlow's native libraries print start-up lines (oneDNN, CUDA, CPU features) to the process's
standard error before Python can filter them. ``import_tensorflow`` imports TensorFlow and
``tf_keras`` and lets TensorFlow look for devices while file descriptor 2 points at a temporary
file; afterwards it writes back every captured line that is not start-up noise (``NOISE``), so a
real error still reaches the user. ``TF_CPP_MIN_LOG_LEVEL=2`` then keeps later native INFO and
WARNING lines quiet and lets errors through. Commands call it first, unless asked for
``--verbose``.
"""

import contextlib
import os
import re
import sys
import tempfile

NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} \S+ .*"  # absl INFO and WARNING lines: I0000 00:00:... port.cc:153] oneDNN custom operations ...
    r"|E\d{4} \S+ +\d+ cuda_.*"  # no GPU on this machine: failed call to cuInit
    r"|To enable the following instructions: .*"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)$"
)


@contextlib.contextmanager
def native_stderr_filtered():
    """Send file descriptor 2 to a temporary file for the duration, then write back its lines
    except start-up noise (``NOISE``); restores the descriptor even on error."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines() if not NOISE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def import_tensorflow(verbose=False):
    """Import TensorFlow and ``tf_keras``: without the start-up lines, or with all of them when ``verbose``."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    if verbose:
        import tensorflow  # noqa: F401
        import tf_keras  # noqa: F401

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_filtered():
        import tensorflow as tf
        import tf_keras  # noqa: F401

        tf.config.list_physical_devices()  # device discovery prints its own lines: let it happen here
    tf.get_logger().setLevel("WARNING")  # TensorFlow's Python INFO lines ("Assets written to ...") too
