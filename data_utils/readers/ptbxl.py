"""PTB-XL in its native layout: ``ptbxl_database.csv``, ``scp_statements.csv``, ``records100|500/``.

Label sets follow the PTB-XL benchmark (Strodthoff et al. 2021): every SCP statement of a record
counts, whatever its likelihood; ``diagnostic``/``form``/``rhythm`` keep the statements flagged so in
``scp_statements.csv``; ``subdiagnostic`` and ``superdiagnostic`` map diagnostic statements to their
``diagnostic_subclass`` and ``diagnostic_class``. Folds 1-8 train, 9 validate, 10 test.
"""

import ast
import csv
import logging
import os

from data_utils.errors import MetadataError, MissingSignalFile, NoLabels
from data_utils.readers.base import ECGDataset, RecordRef, checked_header, collect_refs
from data_utils.record import plausible_age

log = logging.getLogger(__name__)

LABEL_SETS = ("all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm")
RATES = {100: "filename_lr", 500: "filename_hr"}
RECOMMENDED_FOLDS = {"train": tuple(range(1, 9)), "validation": (9,), "test": (10,)}
_OLDEST_AGE = 90.0  # PTB-XL writes 300 for ages above 89


def scp_label_map(root, label_set):
    """``(classes, {scp_code: class})`` of a label set, from ``scp_statements.csv``."""
    if label_set not in LABEL_SETS:
        raise ValueError(f"unknown PTB-XL label set {label_set!r}; choose from {LABEL_SETS}")
    mapping = {}
    with open(os.path.join(root, "scp_statements.csv"), newline="") as handle:
        for row in csv.DictReader(handle):
            code = row[""].strip()
            flagged = {name: row[name].strip() in ("1", "1.0") for name in ("diagnostic", "form", "rhythm")}
            if label_set == "all":
                mapping[code] = code
            elif label_set in flagged and flagged[label_set]:
                mapping[code] = code
            elif label_set == "subdiagnostic" and flagged["diagnostic"] and row["diagnostic_subclass"].strip():
                mapping[code] = row["diagnostic_subclass"].strip()
            elif label_set == "superdiagnostic" and flagged["diagnostic"] and row["diagnostic_class"].strip():
                mapping[code] = row["diagnostic_class"].strip()
    return tuple(sorted(set(mapping.values()))), mapping


def _age(text):
    """PTB-XL's age cell in years (300, its mark for ages above 89, becomes 90); None when not plausible."""
    try:
        if float(text) == 300:
            return _OLDEST_AGE
    except ValueError:
        return None
    return plausible_age(text)


def ptbxl_ref(row, root, fs, mapping, classes, min_seconds=None):
    """Index one row of ``ptbxl_database.csv`` at ``fs`` Hz (the other rate's file when this one is absent)."""
    record = row["ecg_id"].strip()
    wanted, other = RATES[fs], RATES[500 if fs == 100 else 100]
    path = os.path.join(root, row[wanted].strip() + ".hea")
    if not os.path.exists(path):
        path = os.path.join(root, row[other].strip() + ".hea")
        if not os.path.exists(path):
            raise MissingSignalFile(record, f"neither {row[wanted]}.hea nor {row[other]}.hea exists")
    header = checked_header(path, min_seconds)
    codes, fold = _scp_codes(record, row["scp_codes"]), _fold(record, row["strat_fold"])
    labels = tuple(sorted({mapping[code] for code in codes if code in mapping}, key=classes.index))
    if not labels:
        raise NoLabels(record, f"no statement of this label set among {sorted(codes) or 'none'}")
    sex = {"0": "M", "1": "F"}.get(row["sex"].strip().split(".")[0])
    return RecordRef(record, header, labels, _age(row["age"]), sex, fold=fold, fs_out=float(fs))


def _scp_codes(record, text):
    """The ``scp_codes`` cell (a Python dict literal such as ``{'NORM': 100.0}``) as a dict."""
    try:
        codes = ast.literal_eval(text) if text.strip() else {}
    except (ValueError, SyntaxError):
        raise MetadataError(record, f"scp_codes {text[:60]!r} is not a dictionary of statements") from None
    if not isinstance(codes, dict):
        raise MetadataError(record, f"scp_codes {text[:60]!r} is not a dictionary of statements")
    return codes


def _fold(record, text):
    """The ``strat_fold`` cell as an int from 1 to 10."""
    try:
        fold = int(float(text))
    except ValueError:
        raise MetadataError(record, f"strat_fold {text!r} is not a number") from None
    if not 1 <= fold <= 10:
        raise MetadataError(record, f"strat_fold {fold} is not one of PTB-XL's folds 1-10")
    return fold


def read_ptbxl(root, label_set="superdiagnostic", fs=100, min_seconds=None, progress=None):
    """Index PTB-XL.

    Args:
        label_set: one of ``LABEL_SETS``.
        fs: 100 or 500; records whose file at that rate is absent are read at the other rate and
            resampled on reading (a note on the dataset and a log warning say so).
    Returns:
        ``ECGDataset`` with ``format="ptbxl"`` and ``RecordRef.fold`` = ``strat_fold``.
    """
    if fs not in RATES:
        raise ValueError(f"PTB-XL comes at 100 or 500 Hz, not {fs}")
    classes, mapping = scp_label_map(root, label_set)
    with open(os.path.join(root, "ptbxl_database.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    refs, skipped = collect_refs(
        rows,
        lambda row: ptbxl_ref(row, root, fs, mapping, classes, min_seconds),
        progress,
        name=lambda row: row.get("ecg_id") or "?",
    )
    dataset = ECGDataset("ptbxl", root, refs, classes, skipped)
    resampled = [ref for ref in refs if ref.header.fs != fs]
    if resampled:
        note = (
            f"{len(resampled)} of {len(refs)} records have no {fs} Hz file; their {resampled[0].header.fs:g} Hz files "
            f"are resampled to {fs} Hz"
        )
        dataset.notes.append(note)
        log.warning("PTB-XL: %s", note)
    return dataset
