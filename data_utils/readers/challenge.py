"""PhysioNet/CinC Challenge 2020/2021 format: ``.hea`` + ``.mat`` with ``#Dx``, ``#Age``, ``#Sex``."""

import os

from data_utils import snomed
from data_utils.errors import NoLabels
from data_utils.readers.base import ECGDataset, RecordRef, checked_header, collect_refs
from data_utils.record import plausible_age

VOCABULARIES = ("scored2021", "scored2020", "all")


def find_headers(root):
    """All ``.hea`` files under ``root`` (recursively), sorted."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        found.extend(os.path.join(folder, name) for name in sorted(files) if name.endswith(".hea"))
    return found


def challenge_classes(vocabulary):
    """Class tuple of a scored vocabulary; None for ``"all"`` (every code found becomes a class)."""
    if vocabulary == "scored2021":
        return snomed.scored_classes(2021)
    if vocabulary == "scored2020":
        return snomed.scored_classes(2020)
    if vocabulary == "all":
        return None
    raise ValueError(f"unknown challenge vocabulary {vocabulary!r}; choose from {VOCABULARIES}")


def dx_codes(header):
    """SNOMED codes of a header's ``Dx`` field, as strings."""
    field = header.comment_fields().get("dx", "")
    return [code.strip() for code in field.split(",") if code.strip()]


def parse_age(text):
    """``"53"`` -> 53.0; ``"NaN"``, ``"Unknown"``, ``""``, ``"999"`` -> None; ``">89"`` -> 89.0."""
    return plausible_age((text or "").strip().lstrip(">"))


def parse_sex(text):
    """``"Male"``/``"M"`` -> ``"M"``, ``"Female"``/``"F"`` -> ``"F"``, anything else -> None."""
    first = (text or "").strip()[:1].upper()
    return first if first in ("M", "F") else None


def challenge_ref(path, classes, min_seconds=None):
    """Index one challenge record.

    Args:
        path: the ``.hea`` file.
        classes: the class tuple; ``Dx`` codes map to it through the ``|`` equivalences.
            None keeps every code as its own label.
    Raises:
        RecordError subclasses, ``NoLabels`` when no ``Dx`` code is in ``classes``.
    """
    header = checked_header(path, min_seconds)
    codes = dx_codes(header)
    if classes is None:
        labels = tuple(sorted(set(codes)))
    else:
        to_class = snomed.class_of_code(classes)
        labels = tuple(sorted({to_class[code] for code in codes if code in to_class}, key=classes.index))
    if not labels:
        scope = "in the header" if classes is None else f"among the {len(classes)} classes"
        raise NoLabels(header.record_id, f"no Dx code {scope} (Dx: {','.join(codes) or 'none'})")
    fields = header.comment_fields()
    return RecordRef(header.record_id, header, labels, parse_age(fields.get("age")), parse_sex(fields.get("sex")))


def read_challenge(root, vocabulary="all", min_seconds=None, progress=None):
    """Index a challenge-format tree.

    Args:
        vocabulary: ``"all"`` (every Dx code, the default), ``"scored2021"`` (26 classes) or
            ``"scored2020"`` (LRH-Net's 24; records without a scored code are skipped).
        min_seconds: records shorter than this are skipped.
    Returns:
        ``ECGDataset`` with ``format="challenge"``.
    """
    classes = challenge_classes(vocabulary)
    refs, skipped = collect_refs(find_headers(root), lambda path: challenge_ref(path, classes, min_seconds), progress)
    if classes is None:
        classes = tuple(sorted({label for ref in refs for label in ref.labels}))
    return ECGDataset("challenge", root, refs, classes, skipped)
