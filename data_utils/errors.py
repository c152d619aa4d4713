"""Typed errors for records that cannot be used.

Every error names the record and the problem, so that a folder scan can turn it into a skip
``{"record": ..., "reason": ...}`` and a single-record read can raise it unchanged.
"""


class RecordError(ValueError):
    """A record that cannot be used. ``record`` is its id or path, ``reason`` a short sentence."""

    def __init__(self, record, reason):
        self.record = str(record)
        self.reason = reason
        super().__init__(f"{self.record}: {reason}")


class HeaderError(RecordError):
    """The header cannot be parsed at all."""


class MissingSignalFile(RecordError):
    """The header names a signal file that does not exist."""


class TruncatedSignal(RecordError):
    """The signal file holds fewer samples than the header declares."""


class SignalCountMismatch(RecordError):
    """The header's signal count (or length) disagrees with the data in the signal file."""


class NonFiniteSignal(RecordError):
    """The signal holds NaN or infinite values."""


class UnknownLead(RecordError):
    """A lead name that is not one of the 12 standard leads (in any case)."""


class MissingLead(RecordError):
    """The record lacks a lead that was asked for."""


class RecordTooShort(RecordError):
    """The record is shorter than one analysis window."""


class NoLabels(RecordError):
    """The record has no label in the chosen vocabulary."""


class UnsupportedSamplingRate(RecordError):
    """A sampling rate the resampler cannot handle (not positive, not finite, or no usable ratio)."""


class MetadataError(RecordError):
    """The record's row in a dataset table (PTB-XL's database, for example) cannot be parsed."""


class UnexpectedRecordError(RecordError):
    """Reading or preparing the record failed in a way no check foresaw; the reason names the original error."""


def as_record_error(record, error):
    """``error`` when it is a ``RecordError``, else an ``UnexpectedRecordError`` naming ``record``
    and the original error's type and message (so a folder scan can skip the record and go on)."""
    if isinstance(error, RecordError):
        return error
    return UnexpectedRecordError(record, f"unexpected {type(error).__name__}: {error}")


NO_LABELS = "no labels: usable for predict, not for training"


class DatasetFormatError(ValueError):
    """A folder that holds no dataset in a supported format."""


class UnlabeledFolder(DatasetFormatError):
    """A folder of readable WFDB headers with no label source (no ``#Dx`` codes, ``REFERENCE.csv``,
    ``ludb.csv`` or ``ptbxl_database.csv``): its records can be predicted, not trained on."""
