"""Read WFDB headers and signals ourselves, so that headers ``wfdb.rdheader`` rejects still load.

The challenge copies of 2020 carry record lines such as ``E00009.mat 12 500 5000 05-May-2020 14:50:55``
(a file name as record name and a date in a format WFDB does not define). We parse the fields we
need (signal count, rate, length, per-signal file, format, gain, baseline, units, name) and read
format-16 data from ``.dat`` and MATLAB v4 ``.mat`` files (variable ``val``) directly; other
formats go through ``wfdb.rdrecord``.

Invalid samples: WFDB stores a sample that was not recorded as the most negative value of its
format (``INVALID_SAMPLE``; -32768 in format 16). They are read, like NaN and infinite values in
MATLAB files, as NaN, and one rule applies (``repair_gaps``): a run of invalid samples in a lead of
at most ``MAX_GAP_SECONDS`` is filled by linear interpolation between its neighbours; a longer run
refuses the record with ``NonFiniteSignal``. No invalid sample ever reaches a network.
"""

import dataclasses
import os
import re

import numpy as np
import scipy.io

from data_utils.errors import (
    HeaderError,
    MissingSignalFile,
    NonFiniteSignal,
    SignalCountMismatch,
    TruncatedSignal,
)

_DEFAULT_GAIN = 200.0  # WFDB: a gain of 0 (or none) means 200 ADC units per physical unit.
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "v": 1e3, "nv": 1e-6}
# The digital value of an invalid sample in each WFDB signal format (WFDB signal(5) manual page).
INVALID_SAMPLE = {
    8: None,
    16: -(2**15),
    61: -(2**15),
    80: -(2**7),
    160: -(2**15),
    212: -(2**11),
    310: -(2**9),
    311: -(2**9),
    24: -(2**23),
    32: -(2**31),
    508: -(2**7),
    516: -(2**15),
    524: -(2**23),
}  # 5xx: FLAC-compressed 8, 16 and 24 bits
MAX_GAP_SECONDS = 0.05  # shorter than a QRS complex; a longer run of invalid samples refuses the record
_FORMAT = re.compile(r"^(?P<fmt>\d+)(x\d+)?(:\d+)?(\+(?P<offset>\d+))?$")
_GAIN = re.compile(r"^(?P<gain>[-+0-9.eE]+)(\((?P<baseline>-?\d+)\))?(/(?P<units>\S+))?$")


@dataclasses.dataclass
class SignalSpec:
    """One signal line of a header."""

    file_name: str
    fmt: int
    byte_offset: int
    gain: float
    baseline: int
    units: str
    description: str


@dataclasses.dataclass
class Header:
    """The parts of a WFDB header we use. ``comments`` are the ``#`` lines without the ``#``."""

    path: str
    record_name: str
    fs: float
    n_samples: int
    signals: list
    comments: list

    @property
    def record_id(self):
        return os.path.splitext(os.path.basename(self.path))[0]

    def comment_fields(self):
        """``{"age": "53", "sex": "Male", "dx": "164867002,427084000", ...}`` from ``# Key: value`` lines."""
        fields = {}
        for line in self.comments:
            key, sep, value = line.partition(":")
            if sep:
                fields.setdefault(key.strip().strip("<>").lower(), value.strip())
        return fields


def parse_header(path):
    """Parse a ``.hea`` file.

    Raises:
        HeaderError: the file is missing or its record or signal lines are malformed.
    """
    record = os.path.splitext(os.path.basename(path))[0]
    try:
        with open(path, encoding="latin-1") as handle:
            lines = [line.strip() for line in handle]
    except OSError as error:
        raise HeaderError(record, f"cannot read header: {error.strerror}") from None
    comments = [line[1:].strip() for line in lines if line.startswith("#")]
    body = [line for line in lines if line and not line.startswith("#")]
    if not body:
        raise HeaderError(record, "header has no record line")
    fields = body[0].split()
    try:
        n_signals = int(fields[1])
        fs = float(fields[2].split("/")[0]) if len(fields) > 2 else 250.0
        n_samples = int(fields[3]) if len(fields) > 3 else 0
    except (IndexError, ValueError):
        raise HeaderError(record, f"malformed record line {body[0]!r}") from None
    if n_signals < 1 or n_samples < 0 or not (np.isfinite(fs) and fs > 0):
        raise HeaderError(
            record, f"record line {body[0]!r} declares {n_signals} signals, {n_samples} samples at {fs:g} Hz"
        )
    if len(body) - 1 < n_signals:
        raise HeaderError(record, f"header declares {n_signals} signals but has {len(body) - 1} signal lines")
    signals = [_parse_signal_line(record, line) for line in body[1 : 1 + n_signals]]
    return Header(path, fields[0], fs, n_samples, signals, comments)


def _parse_signal_line(record, line):
    fields = line.split()
    if len(fields) < 2:
        raise HeaderError(record, f"malformed signal line {line!r}")
    fmt = _FORMAT.match(fields[1])
    gain = _GAIN.match(fields[2]) if len(fields) > 2 else None
    if fmt is None or (len(fields) > 2 and gain is None):
        raise HeaderError(record, f"malformed signal line {line!r}")
    try:
        adc_zero = int(fields[4]) if len(fields) > 4 else 0
        gain_value = float(gain.group("gain")) if gain else 0.0
    except ValueError:
        raise HeaderError(record, f"malformed signal line {line!r}") from None
    if not np.isfinite(gain_value):
        raise HeaderError(record, f"signal line {line!r} has gain {gain_value}")
    baseline = gain.group("baseline") if gain else None
    units = (gain.group("units") if gain else None) or "mV"
    return SignalSpec(
        file_name=fields[0],
        fmt=int(fmt.group("fmt")),
        byte_offset=int(fmt.group("offset") or 0),
        gain=gain_value if gain_value != 0 else _DEFAULT_GAIN,
        baseline=int(baseline) if baseline is not None else adc_zero,
        units=units,
        description=" ".join(fields[8:]) if len(fields) > 8 else "",
    )


def read_signal(header):
    """Read the signal a header describes, in millivolts, with short gaps of invalid samples repaired.

    Returns:
        float32 array (n_samples, n_signals), columns in header order, every value finite.
    Raises:
        MissingSignalFile, TruncatedSignal, SignalCountMismatch, NonFiniteSignal (a run of invalid
        samples longer than ``MAX_GAP_SECONDS``).
    """
    record = header.record_id
    files = {spec.file_name for spec in header.signals}
    if len(files) != 1:
        raise SignalCountMismatch(record, f"signals spread over several files {sorted(files)}; not supported")
    data_path = os.path.join(os.path.dirname(header.path), header.signals[0].file_name)
    if not os.path.exists(data_path):
        raise MissingSignalFile(record, f"signal file {os.path.basename(data_path)} not found")
    if data_path.endswith(".mat"):
        digital = _read_mat(record, data_path, header)
    elif header.signals[0].fmt == 16:
        digital = _read_format16(record, data_path, header)
    else:
        digital = _read_with_wfdb(record, header)
    invalid = np.array(
        [np.nan if INVALID_SAMPLE.get(spec.fmt) is None else INVALID_SAMPLE[spec.fmt] for spec in header.signals]
    )
    digital = np.where(np.isfinite(digital) & (digital != invalid), digital, np.nan)
    gains = np.array([spec.gain for spec in header.signals])
    baselines = np.array([spec.baseline for spec in header.signals])
    scale = np.array([_unit_scale(record, spec.units) for spec in header.signals])
    signal = ((digital - baselines) / gains * scale).astype(np.float32)
    return repair_gaps(signal, header.fs, record, [spec.description for spec in header.signals])


def repair_gaps(signal, fs, record="<signal>", names=None):
    """Fill runs of NaN or infinite values of at most ``MAX_GAP_SECONDS`` in each column of (T, L) by linear
    interpolation (a run at an end takes the nearest valid value).

    Returns:
        the signal, float32 (T, L), every value finite (the input itself when nothing is missing).
    Raises:
        NonFiniteSignal: a column holds a longer run, or no valid sample at all.
    """
    missing = ~np.isfinite(signal)
    if not missing.any():
        return signal
    longest = int(MAX_GAP_SECONDS * fs)
    signal = signal.copy()
    for column in np.flatnonzero(missing.any(axis=0)):
        gap = missing[:, column]
        name = names[column] if names and names[column] else f"signal {column + 1}"
        run = _longest_run(gap)
        if gap.all():
            raise NonFiniteSignal(record, f"lead {name}: every sample is invalid")
        if run > longest:
            raise NonFiniteSignal(
                record,
                f"lead {name}: {run} invalid samples in a row ({run / fs:.3g} s); gaps up to {MAX_GAP_SECONDS:g} "
                "s are repaired, longer ones refuse the record",
            )
        valid = np.flatnonzero(~gap)
        signal[gap, column] = np.interp(np.flatnonzero(gap), valid, signal[valid, column])
    return signal


def _longest_run(mask):
    """Length of the longest run of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if len(starts) else 0


def _unit_scale(record, units):
    scale = _UNIT_TO_MV.get(units.lower())
    if scale is None:
        raise HeaderError(record, f"unsupported signal units {units!r}")
    return scale


def _read_mat(record, path, header):
    try:
        values = scipy.io.loadmat(path)["val"]
    except KeyError:
        raise SignalCountMismatch(record, f"{os.path.basename(path)} has no variable 'val'") from None
    except Exception as error:  # scipy raises several types on a cut-off file
        raise TruncatedSignal(
            record, f"cannot read {os.path.basename(path)} ({error}); the file may be truncated"
        ) from None
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n_signals = len(header.signals)
    if values.shape[0] != n_signals:
        raise SignalCountMismatch(record, f"header declares {n_signals} signals but the .mat holds {values.shape[0]}")
    if header.n_samples and values.shape[1] != header.n_samples:
        if values.shape[1] < header.n_samples:
            raise TruncatedSignal(
                record, f"header declares {header.n_samples} samples but the .mat holds {values.shape[1]}"
            )
        raise SignalCountMismatch(
            record, f"header declares {header.n_samples} samples but the .mat holds {values.shape[1]}"
        )
    return values.T


def _read_format16(record, path, header):
    n_signals = len(header.signals)
    offset = header.signals[0].byte_offset
    if (os.path.getsize(path) - offset) % 2:
        raise SignalCountMismatch(
            record,
            f"{os.path.basename(path)} holds an odd number of bytes after its {offset}-byte offset; format 16 "
            "stores 2 per sample",
        )
    n_values = (os.path.getsize(path) - offset) // 2
    expected = header.n_samples * n_signals
    if header.n_samples and n_values < expected:
        raise TruncatedSignal(
            record,
            f"{os.path.basename(path)} holds {n_values} values, header declares {expected} ({n_signals} signals x "
            f"{header.n_samples} samples)",
        )
    if header.n_samples and n_values > expected:
        raise SignalCountMismatch(
            record,
            f"{os.path.basename(path)} holds {n_values} values, header declares {expected} ({n_signals} signals x "
            f"{header.n_samples} samples)",
        )
    if n_values % n_signals:
        raise SignalCountMismatch(record, f"{n_values} values do not divide into {n_signals} signals")
    values = np.fromfile(path, dtype="<i2", offset=offset, count=n_values)
    return values.reshape(-1, n_signals).astype(np.float64)


def _read_with_wfdb(record, header):
    import wfdb

    base = os.path.splitext(header.path)[0]
    try:
        return wfdb.rdrecord(base, physical=False).d_signal.astype(np.float64)
    except Exception as error:  # wfdb raises many types for damaged files
        raise TruncatedSignal(record, f"wfdb could not read format {header.signals[0].fmt} data: {error}") from None
