"""Preprocessed signals on disk, memory-mapped, so that epochs never re-read WFDB files.

A cache holds every usable record of a dataset after ``Preprocessing`` (resampled, filtered,
normalised), at full length, as float16 in one flat file ``signals.f16`` of shape (sum T_i, L),
with per-record offsets. Challenge-2021-size data (88 k records x 10 s x 12 leads at 100 Hz) takes
about 2 GB there and none of it in RAM until a batch reads its rows.

The folder is ``<cache_dir>/<key>``: the key hashes the dataset's records and labels, the size and
modification time of every source file (or the synthetic generator's version), the leads and the
preprocessing, so a changed choice or a changed file builds a new cache. It is written to a temporary folder and
renamed into place, so a killed build never leaves a cache that looks complete.
"""

import hashlib
import json
import os
import shutil
import tempfile

import numpy as np

from data_utils.errors import RecordError
from data_utils.files import is_inside
from data_utils.readers.base import Skip, skip_for
from data_utils.record import encode_demographics

FORMAT_VERSION = 1


def default_cache_dir():
    """``$ECG_KD_CACHE``, else ``~/.cache/ecg-kd``."""
    return os.environ.get("ECG_KD_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ecg-kd")


def source_stamp(ref):
    """``[[size, mtime_ns], ...]`` of a record's header and signal files (missing files: ``None``)."""
    folder = os.path.dirname(ref.header.path)
    paths = [ref.header.path] + sorted({os.path.join(folder, spec.file_name) for spec in ref.header.signals})
    stamps = []
    for path in paths:
        try:
            status = os.stat(path)
            stamps.append([status.st_size, status.st_mtime_ns])
        except OSError:
            stamps.append(None)
    return stamps


def cache_key(dataset, preprocessing, leads, min_seconds):
    """Hex digest naming the cache of these records (and their files' sizes and times), labels, leads and
    preprocessing."""
    if dataset.reader is None:
        sources = [source_stamp(ref) for ref in dataset.refs]
    else:
        from data_utils.synthetic import GENERATOR_VERSION

        sources = GENERATOR_VERSION
    content = {
        "version": FORMAT_VERSION,
        "format": dataset.format,
        "root": dataset.location,
        "sources": sources,
        "records": [[ref.record_id, list(ref.labels), ref.fs, ref.age, ref.sex] for ref in dataset.refs],
        "classes": list(dataset.classes),
        "leads": list(leads),
        "preprocessing": preprocessing.as_dict(),
        "min_seconds": min_seconds,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:20]


class SignalCache:
    """A built cache, opened read-only.

    Attributes:
        record_ids: list of N record ids, in the order of the dataset's ``refs`` after building.
        leads: tuple of L lead names (the columns of every signal).
        fs: sampling rate of the cached signals.
        labels: float32 (N, K) label matrix; ``classes`` names its columns.
        demographics: float32 (N, 5) as ``encode_demographics``.
        lengths: int array (N,) of samples per record.
    """

    def __init__(self, directory):
        with open(os.path.join(directory, "meta.json")) as handle:
            meta = json.load(handle)
        self.directory = directory
        self.meta = meta
        self.record_ids = meta["record_ids"]
        self.leads = tuple(meta["leads"])
        self.classes = tuple(meta["classes"])
        self.fs = meta["preprocessing"]["fs"]
        self.skipped = [Skip(**skip) for skip in meta["skipped"]]
        self.offsets = np.asarray(meta["offsets"], dtype=np.int64)
        self.lengths = np.diff(self.offsets)
        self.labels = np.load(os.path.join(directory, "labels.npy"))
        self.demographics = np.load(os.path.join(directory, "demographics.npy"))
        shape = (int(self.offsets[-1]), len(self.leads))
        path = os.path.join(directory, "signals.f16")
        self._signals = (
            np.memmap(path, dtype=np.float16, mode="r", shape=shape) if shape[0] else np.zeros(shape, np.float16)
        )

    def __len__(self):
        return len(self.record_ids)

    def signal(self, index):
        """float16 view (T_i, L) of record ``index``, backed by the file."""
        return self._signals[self.offsets[index] : self.offsets[index + 1]]


def build_cache(dataset, preprocessing, leads, cache_dir=None, min_seconds=None, progress=None):
    """Preprocess every record of ``dataset`` once and return the ``SignalCache``; reuse it if built.

    Records that fail to read or preprocess, for whatever reason (and, with ``min_seconds``, records
    shorter than that after preprocessing), become skips. On return, ``dataset.refs`` holds exactly the cached records,
    in cache order, and ``dataset.skipped`` lists the others, so split indices line up with the cache.

    Args:
        dataset: ``ECGDataset``.
        preprocessing: ``Preprocessing``.
        leads: lead names to keep (the union of every model's leads), standard order.
        cache_dir: parent folder; default ``default_cache_dir()``. Must not lie inside the data folder.
    """
    cache_dir = os.path.abspath(cache_dir or default_cache_dir())
    root = dataset.location
    if dataset.reader is None and is_inside(cache_dir, root):
        raise ValueError(
            f"cache folder {cache_dir} lies inside the data folder {root}; the data folder is never written"
        )
    directory = os.path.join(cache_dir, cache_key(dataset, preprocessing, leads, min_seconds))
    if not os.path.exists(os.path.join(directory, "meta.json")):
        _write_cache(dataset, preprocessing, tuple(leads), directory, min_seconds, progress)
    cache = SignalCache(directory)
    kept = set(cache.record_ids)
    by_id = {ref.record_id: ref for ref in dataset.refs}
    dataset.refs = [by_id[record_id] for record_id in cache.record_ids]
    known = {skip.record for skip in dataset.skipped}
    dataset.skipped.extend(skip for skip in cache.skipped if skip.record not in known and skip.record not in kept)
    return cache


def _write_cache(dataset, preprocessing, leads, directory, min_seconds, progress):
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".building-", dir=os.path.dirname(directory))
    try:
        record_ids, offsets, skipped, demographics, rows = [], [0], [], [], []
        labels = dataset.label_matrix()
        with open(os.path.join(staging, "signals.f16"), "wb") as out:
            for index, record in dataset.iter_records(progress=progress, desc=f"caching {dataset.format}"):
                try:
                    signal = preprocessing.apply(record.select_leads(leads), record.fs, record.record_id)
                    if min_seconds and signal.shape[0] < min_seconds * preprocessing.fs:
                        raise RecordError(
                            record.record_id,
                            f"{signal.shape[0] / preprocessing.fs:.2f} s is shorter than one window "
                            f"({min_seconds:g} s)",
                        )
                except Exception as error:  # one bad record never stops the build
                    skipped.append(skip_for(record.record_id, error).as_dict())
                    continue
                out.write(signal.astype(np.float16).tobytes())
                record_ids.append(record.record_id)
                offsets.append(offsets[-1] + signal.shape[0])
                demographics.append(encode_demographics(record.age, record.sex))
                rows.append(index)
        skipped = [skip.as_dict() for skip in dataset.skipped] + skipped
        np.save(
            os.path.join(staging, "labels.npy"),
            labels[rows] if rows else np.zeros((0, len(dataset.classes)), np.float32),
        )
        np.save(os.path.join(staging, "demographics.npy"), np.asarray(demographics, np.float32).reshape(-1, 5))
        meta = {
            "version": FORMAT_VERSION,
            "format": dataset.format,
            "root": dataset.location,
            "record_ids": record_ids,
            "offsets": offsets,
            "leads": list(leads),
            "classes": list(dataset.classes),
            "preprocessing": preprocessing.as_dict(),
            "skipped": skipped,
        }
        with open(os.path.join(staging, "meta.json"), "w") as handle:
            json.dump(meta, handle)
        try:
            os.replace(staging, directory)
        except OSError:  # another process finished the same cache first: keep theirs
            if not os.path.exists(os.path.join(directory, "meta.json")):
                raise
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
