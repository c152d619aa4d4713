"""Safe file writes and path checks shared by every command.

``atomic_write``: a kill leaves the old file or the new one, never a truncated one, and the
temporary file is a new one made for the purpose (never a file or link that was already there).
``is_inside``: whether a path lies in a folder, symlinks resolved.
``sha256_of``: the SHA-256 of files' bytes, to tell whether a file is still the one a run used.
"""

import hashlib
import os
import tempfile

TEMPORARY_SUFFIX = ".tmp"


def atomic_write(path, data):
    """Write text or bytes to ``path`` through a new temporary file beside it, flushed to disk, then renamed.

    The temporary file is ``.<name>.<random>.tmp`` in the same folder, created exclusively; it is
    removed when the write fails.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=TEMPORARY_SUFFIX)
    try:
        os.chmod(temporary, 0o666 & ~current_umask())  # the permissions an ordinary new file gets, not mkstemp's 0600
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data if isinstance(data, bytes) else data.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def current_umask():
    """The process's file-creation mask."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_of(name):
    """The name ``atomic_write`` wrote ``name`` through, when ``name`` is such a temporary file; else None."""
    if not (name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)):
        return None
    stem = name[1 : -len(TEMPORARY_SUFFIX)]
    return stem.rsplit(".", 1)[0] if "." in stem else None


def is_inside(path, folder):
    """True when ``path`` is ``folder`` or lies under it, after resolving symlinks."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def sha256_of(*paths):
    """SHA-256 of the bytes of ``paths``, read one after the other, as hex."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
