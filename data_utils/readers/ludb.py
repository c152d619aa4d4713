"""Lobachevsky University ECG Database (LUDB): 12-lead, 500 Hz, diagnoses and P/QRS/T delineation."""

import csv
import os

import numpy as np

from data_utils.errors import NoLabels, RecordError
from data_utils.leads import STANDARD_LEADS
from data_utils.readers.base import ECGDataset, RecordRef, checked_header, collect_refs
from data_utils.record import plausible_age

# Columns of ludb.csv that hold diagnoses; each line of a cell is one label.
DIAGNOSIS_COLUMNS = (
    "Rhythms",
    "Electric axis of the heart",
    "Conduction abnormalities",
    "Extrasystolies",
    "Hypertrophies",
    "Cardiac pacing",
    "Ischemia",
    "Non-specific repolarization abnormalities",
    "Other states",
)
WAVES = ("P", "QRS", "T")
_WAVE_OF_SYMBOL = {"p": 0, "N": 1, "t": 2}


def read_ludb_table(root):
    """``{record_id: (labels, age, sex)}`` from ``ludb.csv``; labels in column order."""
    table = {}
    with open(os.path.join(root, "ludb.csv"), newline="", encoding="utf-8", errors="replace") as handle:
        for row in csv.DictReader(handle):
            labels = [
                line.strip()
                for column in DIAGNOSIS_COLUMNS
                for line in (row.get(column) or "").splitlines()
                if line.strip()
            ]
            age = plausible_age((row.get("Age") or "").strip().lstrip(">"))
            sex = (row.get("Sex") or "").strip()[:1].upper() or None
            if (row.get("ID") or "").strip():
                table[row["ID"].strip()] = (tuple(labels), age, sex if sex in ("F", "M") else None)
    return table


def ludb_ref(path, table, min_seconds=None):
    """Index one LUDB record; raises ``NoLabels`` when ``ludb.csv`` has no diagnosis for it."""
    header = checked_header(path, min_seconds)
    labels, age, sex = table.get(header.record_id, ((), None, None))
    if not labels:
        raise NoLabels(header.record_id, "no diagnosis in ludb.csv")
    return RecordRef(header.record_id, header, labels, age, sex)


def read_ludb(root, min_seconds=None, progress=None):
    """Index LUDB (``ludb.csv`` and ``data/N.hea``). Classes: every diagnosis line seen, sorted."""
    table = read_ludb_table(root)
    data = os.path.join(root, "data") if os.path.isdir(os.path.join(root, "data")) else root
    names = sorted((name for name in os.listdir(data) if name.endswith(".hea")), key=lambda n: (len(n), n))
    refs, skipped = collect_refs(
        [os.path.join(data, n) for n in names], lambda p: ludb_ref(p, table, min_seconds), progress
    )
    classes = tuple(sorted({label for ref in refs for label in ref.labels}))
    return ECGDataset("ludb", root, refs, classes, skipped)


def ludb_delineation(header_path, n_samples, leads=STANDARD_LEADS):
    """P/QRS/T masks from LUDB's per-lead annotation files (``N.i``, ``N.ii``, ... ``N.v6``).

    Args:
        header_path: the record's ``.hea`` file; annotation files sit beside it.
        n_samples: length T of the mask (the record's sample count).
        leads: which leads to read, standard names.
    Returns:
        bool array (T, len(leads), 3); the last axis is ``WAVES`` = P, QRS, T.
    Raises:
        RecordError: an annotation file is missing or unreadable.
    """
    import wfdb

    base = os.path.splitext(header_path)[0]
    masks = np.zeros((n_samples, len(leads), len(WAVES)), dtype=bool)
    for column, lead in enumerate(leads):
        try:
            annotation = wfdb.rdann(base, lead.lower())
        except Exception as error:  # wfdb raises several types for a missing or damaged file
            raise RecordError(os.path.basename(base), f"no delineation for lead {lead}: {error}") from None
        samples, symbols = annotation.sample, annotation.symbol
        for i, symbol in enumerate(symbols):
            wave = _WAVE_OF_SYMBOL.get(symbol)
            if wave is None:
                continue
            onset = samples[i - 1] if i > 0 and symbols[i - 1] == "(" else samples[i]
            offset = samples[i + 1] if i + 1 < len(symbols) and symbols[i + 1] == ")" else samples[i]
            masks[onset : offset + 1, column, wave] = True
    return masks
