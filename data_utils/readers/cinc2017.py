"""PhysioNet/CinC Challenge 2017: single-lead AliveCor records, ``REFERENCE.csv`` = ``record,label``."""

import csv
import os

from data_utils.errors import NoLabels
from data_utils.readers.base import ECGDataset, RecordRef, Skip, checked_header, collect_refs

CLASSES = ("N", "A", "O", "~")  # normal, atrial fibrillation, other rhythm, too noisy
# The AliveCor device records a lead-I-like signal between the two hands; its header calls it "ECG".
LEAD_ALIASES = {"ecg": "I"}


def read_reference(root):
    """``{record: label}`` from ``REFERENCE.csv`` (no header row); empty when the file is absent."""
    path = os.path.join(root, "REFERENCE.csv")
    if not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return {row[0].strip(): row[1].strip() for row in csv.reader(handle) if len(row) >= 2}


def cinc2017_ref(path, reference, min_seconds=None):
    """Index one record; raises ``NoLabels`` when it has no known label in ``REFERENCE.csv``."""
    header = checked_header(path, min_seconds, LEAD_ALIASES)
    label = reference.get(header.record_id)
    if label not in CLASSES:
        raise NoLabels(
            header.record_id, "not in REFERENCE.csv" if label is None else f"unknown label {label!r} in REFERENCE.csv"
        )
    return RecordRef(header.record_id, header, (label,), aliases=LEAD_ALIASES)


def read_cinc2017(root, min_seconds=None, progress=None):
    """Index a CinC 2017 folder (``REFERENCE.csv`` and ``A*.hea``/``A*.mat``) as a single-label dataset."""
    reference = read_reference(root)
    paths = sorted(os.path.join(root, name) for name in os.listdir(root) if name.endswith(".hea"))
    refs, skipped = collect_refs(paths, lambda path: cinc2017_ref(path, reference, min_seconds), progress)
    present = {os.path.splitext(os.path.basename(path))[0] for path in paths}
    skipped += [
        Skip(record, "listed in REFERENCE.csv but has no header file", "MissingSignalFile")
        for record in sorted(set(reference) - present)
    ]
    return ECGDataset("cinc2017", root, refs, CLASSES, skipped, multilabel=False)
