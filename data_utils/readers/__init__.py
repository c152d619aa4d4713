"""One entry point for every supported format: ``open_dataset`` for folders, ``read_record`` for files."""

import csv
import os

from data_utils.errors import NO_LABELS, DatasetFormatError, NoLabels, UnlabeledFolder
from data_utils.readers import challenge, cinc2017, ludb, ptbxl, unlabeled
from data_utils.readers.base import ECGDataset, RecordRef, Skip, checked_header, read_ref
from data_utils.readers.challenge import find_headers

FORMATS = ("ptbxl", "challenge", "cinc2017", "ludb")
SYNTHETIC = "synthetic"
UNLABELED = "unlabeled"  # headers without a label source: predict and inspect only


def detect_format(root):
    """Name the format of a folder.

    Raises:
        UnlabeledFolder: WFDB headers but no label source (read it with ``format="unlabeled"``).
        DatasetFormatError: the folder does not exist or holds no ECG in a supported format.
    """
    if not os.path.isdir(root):
        raise DatasetFormatError(f"{root}: not a folder")
    try:
        names = set(os.listdir(root))
    except OSError as error:
        raise DatasetFormatError(f"{root}: cannot list the folder ({error.strerror})") from None
    if "ptbxl_database.csv" in names:
        return "ptbxl"
    if "ludb.csv" in names:
        return "ludb"
    if "REFERENCE.csv" in names and any(name.endswith(".hea") for name in names):
        return "cinc2017"
    headers = find_headers(root)
    if not headers:
        raise DatasetFormatError(f"{root}: no ECG found (no .hea headers, ptbxl_database.csv or ludb.csv)")
    if any(has_dx_codes(path) for path in headers[:20]):
        return "challenge"
    raise UnlabeledFolder(
        f"{root}: {len(headers)} WFDB headers and no '#Dx' codes, REFERENCE.csv, ludb.csv or ptbxl_database.csv: "
        f"{NO_LABELS}"
    )


def has_dx_codes(header_path):
    """True when the header has a ``#Dx:`` line with at least one code; False also when it cannot be read."""
    try:
        with open(header_path, encoding="latin-1") as handle:
            lines = [line.lstrip("#").strip() for line in handle if line.startswith("#")]
    except OSError:
        return False
    return any(
        key.strip().lower() == "dx" and value.strip() for key, _, value in (line.partition(":") for line in lines)
    )


def split_format(path):
    """``"ludb:/data/ludb"`` -> ``("ludb", "/data/ludb")``, ``"synthetic:500"`` -> ``("synthetic", "500")``,
    ``"synthetic"`` -> ``("synthetic", "")``; a plain path -> ``(None, path)``."""
    prefix, sep, rest = str(path).partition(":")
    if prefix == SYNTHETIC:
        return SYNTHETIC, rest
    return (prefix, rest) if sep and prefix in FORMATS else (None, str(path))


def open_dataset(path, format=None, progress=None, **options):
    """Index a dataset folder.

    Args:
        path: the folder, or ``"FORMAT:PATH"``, or ``"synthetic[:SPEC]"`` for generated records
            (see ``data_utils.synthetic.open_synthetic``; no folder involved).
        format: one of ``FORMATS``, or ``"unlabeled"`` (every header, no labels); detected when None.
        options: passed to the reader, e.g. ``vocabulary="scored2020"`` (challenge),
            ``label_set="rhythm", fs=500`` (PTB-XL), ``min_seconds=10`` (all but synthetic),
            ``classes=(...)``, ``frequencies={...}`` (synthetic).
    Returns:
        ``ECGDataset``; records that could not be indexed are in ``dataset.skipped`` with reasons.
        Signals are read lazily; call ``dataset.validate()`` to read each once.
    """
    prefix, path = split_format(path)
    if (format or prefix) == SYNTHETIC:
        from data_utils.synthetic import open_synthetic

        return open_synthetic(path, **options)
    format = format or prefix or detect_format(path)
    readers = {
        "ptbxl": ptbxl.read_ptbxl,
        "challenge": challenge.read_challenge,
        "cinc2017": cinc2017.read_cinc2017,
        "ludb": ludb.read_ludb,
        UNLABELED: unlabeled.read_unlabeled,
    }
    if format not in readers:
        raise DatasetFormatError(f"unknown format {format!r}; supported: {', '.join(FORMATS)}")
    if not os.path.isdir(path):
        raise DatasetFormatError(f"{path}: not a folder")
    try:
        return readers[format](path, progress=progress, **options)
    except (
        KeyError,
        OSError,
        csv.Error,
        UnicodeDecodeError,
    ) as error:  # a dataset table missing, without an expected column, or not text
        raise DatasetFormatError(
            f"{path}: the {format} tables cannot be read ({type(error).__name__}: {error})"
        ) from None


def read_record(path, require_labels=False, min_seconds=None):
    """Read one WFDB record (``.hea`` path, or the path without extension) of any supported format.

    Labels come from ``#Dx`` (challenge), a ``REFERENCE.csv`` beside it (CinC 2017) or ``ludb.csv``
    one folder up (LUDB); the signal is in mV with leads in standard order.

    Raises:
        RecordError subclasses naming the record and the problem; ``NoLabels`` only when
        ``require_labels`` is set and no label source names the record.
    """
    header_path = path if path.endswith(".hea") else os.path.splitext(path)[0] + ".hea"
    folder = os.path.dirname(os.path.abspath(header_path))
    header = checked_header(header_path, min_seconds, cinc2017.LEAD_ALIASES)
    labels = tuple(challenge.dx_codes(header))
    fields = header.comment_fields()
    age, sex = challenge.parse_age(fields.get("age")), challenge.parse_sex(fields.get("sex"))
    if not labels:
        labels = tuple(label for label in [cinc2017.read_reference(folder).get(header.record_id)] if label)
    if not labels and os.path.exists(os.path.join(folder, "..", "ludb.csv")):
        row = ludb.read_ludb_table(os.path.join(folder, "..")).get(header.record_id)
        if row:
            labels, age, sex = row
    if require_labels and not labels:
        raise NoLabels(header.record_id, "no labels: no '#Dx' line, REFERENCE.csv entry or ludb.csv row")
    return read_ref(RecordRef(header.record_id, header, labels, age, sex, aliases=cinc2017.LEAD_ALIASES))


__all__ = [
    "SYNTHETIC",
    "UNLABELED",
    "ECGDataset",
    "FORMATS",
    "RecordRef",
    "Skip",
    "detect_format",
    "open_dataset",
    "read_record",
    "split_format",
]
