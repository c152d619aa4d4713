"""Atomic file writes: a kill leaves the old file or the new one, never a truncated one."""

import os


def atomic_write(path, data):
    """Write text or bytes to ``path`` through a temporary file, flushed to disk, then renamed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "wb" if isinstance(data, bytes) else "w") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
