"""The dataset index shared by all readers: cheap metadata up front, signals on demand."""

import collections
import dataclasses
import logging
import os

import numpy as np

from data_utils.errors import MissingSignalFile, RecordError, RecordTooShort, UnexpectedRecordError, as_record_error
from data_utils.leads import STANDARD_LEADS, canonical_lead
from data_utils.preprocess import resample
from data_utils.progress import progress_bar
from data_utils.record import ECGRecord
from data_utils.wfdb_io import parse_header, read_signal

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RecordRef:
    """Metadata of one record, enough to read it later.

    ``header`` is the parsed WFDB header; ``fold`` is the dataset-defined fold or None;
    ``aliases`` maps non-standard signal descriptions to leads (``{"ecg": "I"}``);
    ``fs_out`` is the rate the record is delivered at when it differs from its file's.
    """

    record_id: str
    header: object
    labels: tuple
    age: float = None
    sex: str = None
    fold: int = None
    aliases: dict = None
    fs_out: float = None

    @property
    def fs(self):
        return self.fs_out or self.header.fs

    @property
    def n_samples(self):
        return self.header.n_samples

    @property
    def leads(self):
        """Standard lead names of the record's signals, in file order."""
        return header_leads(self.header, self.aliases)


@dataclasses.dataclass
class Skip:
    """A record left out, with the reason and the kind of problem (the ``RecordError`` class name)."""

    record: str
    reason: str
    kind: str = ""

    def as_dict(self):
        return {"record": self.record, "reason": self.reason, "kind": self.kind}


def skip_for(record, error):
    """The ``Skip`` of ``record`` (the dataset's id for it) whose reading raised ``error``; an untyped error is also
    logged."""
    error = as_record_error(record, error)
    if isinstance(error, UnexpectedRecordError):
        log.warning("%s: skipped: %s", record, error.reason)
    return Skip(str(record), error.reason, type(error).__name__)


@dataclasses.dataclass
class ECGDataset:
    """A folder of ECG records in one format.

    Attributes:
        format: ``"ptbxl"``, ``"challenge"``, ``"cinc2017"`` or ``"ludb"``.
        root: the folder.
        refs: list of ``RecordRef`` of the usable records.
        classes: tuple of class names; label matrices use this column order.
        skipped: list of ``Skip``; every record left out is here with its reason.
        multilabel: False for single-label datasets (CinC 2017).
        notes: sentences a user should read (for example a resampled rate).
        target_fs: the rate the reader was asked for, when it asked for one.
        reader: ``reader(ref) -> ECGRecord`` for records that are not files (synthetic data);
            None reads the WFDB files the refs point to.
    """

    format: str
    root: str
    refs: list
    classes: tuple
    skipped: list = dataclasses.field(default_factory=list)
    multilabel: bool = True
    notes: list = dataclasses.field(default_factory=list)
    target_fs: float = None
    reader: object = None

    def __len__(self):
        return len(self.refs)

    @property
    def location(self):
        """Where the records come from: the folder's absolute path, or the spec of generated records."""
        return self.root if self.reader is not None else os.path.abspath(self.root)

    @property
    def only_unlabeled(self):
        """True when no record is usable and every record was left out for lack of a label."""
        return not self.refs and bool(self.skipped) and all(skip.kind == "NoLabels" for skip in self.skipped)

    @property
    def record_ids(self):
        return [ref.record_id for ref in self.refs]

    def read(self, index):
        """Read record ``index`` (position in ``refs``) as an ``ECGRecord``.

        Raises:
            RecordError subclasses for unreadable signals.
        """
        return (self.reader or read_ref)(self.refs[index])

    def iter_records(self, progress=None, desc="reading"):
        """Yield ``(index, ECGRecord)`` for readable records; others are appended to ``skipped``.

        Any exception while reading one record (typed or not) skips that record with its reason.
        The records that failed are removed from ``refs`` once the iteration completes.
        """
        failed = set()
        for index in progress_bar(range(len(self.refs)), progress, desc=desc):
            try:
                record = self.read(index)
            except Exception as error:  # one bad record never stops a folder scan
                failed.add(index)
                self.skipped.append(skip_for(self.refs[index].record_id, error))
                continue
            yield index, record
        if failed:
            self.refs = [ref for i, ref in enumerate(self.refs) if i not in failed]

    def validate(self, progress=None):
        """Read every signal once; records that fail move to ``skipped``. Returns self."""
        for _ in self.iter_records(progress=progress, desc=f"checking {self.format}"):
            pass
        return self

    def label_matrix(self, refs=None):
        """Binary float32 array (N, K) of the records' labels over ``classes``."""
        column = {name: k for k, name in enumerate(self.classes)}
        refs = self.refs if refs is None else refs
        matrix = np.zeros((len(refs), len(self.classes)), dtype=np.float32)
        for row, ref in enumerate(refs):
            for label in ref.labels:
                matrix[row, column[label]] = 1.0
        return matrix

    def class_counts(self):
        """``{class: number of records}`` in vocabulary order."""
        counts = collections.Counter(label for ref in self.refs for label in ref.labels)
        return {name: counts.get(name, 0) for name in self.classes}

    def subset(self, indices):
        """A new dataset over ``refs[i] for i in indices`` (skips are not carried over)."""
        return dataclasses.replace(self, refs=[self.refs[i] for i in indices], skipped=[])

    def with_classes(self, classes):
        """A new dataset whose labels keep only ``classes`` (records left without a label stay, all-negative)."""
        kept = tuple(classes)
        unknown = set(kept) - set(self.classes)
        if unknown:
            raise ValueError(f"classes {sorted(unknown)} are not in this dataset's vocabulary")
        refs = [
            dataclasses.replace(ref, labels=tuple(label for label in ref.labels if label in kept)) for ref in self.refs
        ]
        return dataclasses.replace(self, refs=refs, classes=kept, skipped=list(self.skipped))

    def summary(self):
        """A JSON-ready dict: format, records, skipped, fs, leads, classes."""
        fs = sorted({ref.fs for ref in self.refs})
        leads = sorted({lead for ref in self.refs for lead in ref.leads}, key=_lead_order)
        return {
            "format": self.format,
            "records": len(self.refs),
            "skipped": [skip.as_dict() for skip in self.skipped],
            "fs": fs,
            "leads": leads,
            "classes": self.class_counts(),
        }


def _lead_order(name):
    return STANDARD_LEADS.index(name)


def header_leads(header, aliases=None):
    """Standard lead names of a header's signals, in header order.

    ``aliases`` maps other descriptions (``{"ecg": "I"}``) to a lead. Raises ``UnknownLead``.
    """
    aliases = aliases or {}
    return [
        aliases.get(spec.description.lower()) or canonical_lead(spec.description, header.record_id)
        for spec in header.signals
    ]


def read_ref(ref):
    """Read the signal of a ``RecordRef`` into an ``ECGRecord`` with leads in standard order."""
    leads = ref.leads
    signal = read_signal(ref.header)
    if ref.fs != ref.header.fs:
        signal = resample(signal, ref.header.fs, ref.fs, ref.record_id)
    order = sorted(range(len(leads)), key=lambda i: STANDARD_LEADS.index(leads[i]))
    return ECGRecord(
        record_id=ref.record_id,
        signal=np.ascontiguousarray(signal[:, order]),
        fs=ref.fs,
        leads=tuple(leads[i] for i in order),
        labels=ref.labels,
        age=ref.age,
        sex=ref.sex,
        path=ref.header.path,
    )


def checked_header(path, min_seconds=None, aliases=None):
    """Parse a header and check its lead names, its signal file and its length.

    Returns:
        the ``Header``.
    Raises:
        HeaderError, UnknownLead, MissingSignalFile, RecordTooShort.
    """
    header = parse_header(path)
    leads = header_leads(header, aliases)
    if len(set(leads)) != len(leads):
        raise RecordError(header.record_id, "a lead appears twice in the header")
    for name in {spec.file_name for spec in header.signals}:
        if not os.path.exists(os.path.join(os.path.dirname(path), name)):
            raise MissingSignalFile(header.record_id, f"signal file {name} not found")
    if min_seconds and header.n_samples / header.fs < min_seconds:
        raise RecordTooShort(
            header.record_id, f"{header.n_samples / header.fs:.2f} s is shorter than one window ({min_seconds:g} s)"
        )
    return header


def collect_refs(items, make_ref, progress=None, desc="indexing", name=None):
    """Call ``make_ref(item)`` for each item; any exception becomes a ``Skip`` with its reason.

    Args:
        name: ``name(item)`` is the record named in the skip of an untyped error (default: the
            item's file name without extension).
    Returns:
        ``(refs, skipped)`` lists.
    """
    name = name or (lambda item: os.path.splitext(os.path.basename(str(item)))[0])
    refs, skipped = [], []
    for item in progress_bar(items, progress, desc=desc):
        try:
            refs.append(make_ref(item))
        except Exception as error:  # one bad record never stops indexing
            skipped.append(skip_for(name(item), error))
    return refs, skipped
