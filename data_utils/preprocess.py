"""Signal preprocessing: resampling, band-pass filtering, per-lead normalisation, windows.

Signals are float arrays shaped (T, L): time by leads.
"""

import dataclasses
import fractions
import math

import numpy as np
import scipy.signal

from data_utils.errors import RecordTooShort, UnsupportedSamplingRate

MAX_RATIO_TERM = 1000  # up/down factors of the polyphase resampler stay at or below this


def resample(signal, fs_in, fs_out, record="<signal>"):
    """Resample (T, L) from ``fs_in`` to ``fs_out`` Hz with a polyphase anti-aliasing filter.

    Returns:
        float32 array (ceil(T * fs_out / fs_in), L).
    Raises:
        UnsupportedSamplingRate: a rate that is not positive and finite, or a ratio that no
            fraction with terms up to ``MAX_RATIO_TERM`` matches within 0.1 %.
    """
    for name, rate in (("input", fs_in), ("target", fs_out)):
        if not (isinstance(rate, (int, float, np.number)) and math.isfinite(rate) and rate > 0):
            raise UnsupportedSamplingRate(record, f"{name} sampling rate {rate!r} Hz is not a positive number")
    if fs_in == fs_out:
        return np.asarray(signal, dtype=np.float32)
    ratio = fractions.Fraction(fs_out / fs_in).limit_denominator(MAX_RATIO_TERM)
    if ratio.numerator == 0 or ratio.numerator > MAX_RATIO_TERM or abs(float(ratio) * fs_in / fs_out - 1) > 1e-3:
        raise UnsupportedSamplingRate(
            record, f"cannot resample {fs_in:g} Hz to {fs_out:g} Hz with a rational ratio of terms <= {MAX_RATIO_TERM}"
        )
    out = scipy.signal.resample_poly(np.asarray(signal, dtype=np.float64), ratio.numerator, ratio.denominator, axis=0)
    return out.astype(np.float32)


def bandpass(signal, fs, low=0.5, high=40.0, order=3, record="<signal>"):
    """Zero-phase Butterworth filter of (T, L) sampled at ``fs`` Hz.

    ``low=None`` gives a low-pass at ``high``; ``high=None`` a high-pass at ``low``.
    Raises ``ValueError`` when a cut-off is not inside (0, fs/2), and ``RecordTooShort`` when the
    signal has no more samples than the forward-backward filter pads at each end.
    """
    nyquist = fs / 2.0
    for name, cut in (("low", low), ("high", high)):
        if cut is not None and not 0 < cut < nyquist:
            raise ValueError(f"{name} cut-off {cut} Hz must lie inside (0, {nyquist:g}) Hz for a {fs:g} Hz signal")
    if low is not None and high is not None and low >= high:
        raise ValueError(f"band ({low}, {high}) Hz is empty")
    if low is None and high is None:
        return np.asarray(signal, dtype=np.float32)
    band, kind = ([low, high], "bandpass") if low and high else ((low, "highpass") if low else (high, "lowpass"))
    sos = scipy.signal.butter(order, band, btype=kind, fs=fs, output="sos")
    padding = filter_padding(sos)
    if len(signal) <= padding:
        raise RecordTooShort(
            record, f"{len(signal)} samples at {fs:g} Hz; the band-pass filter needs more than {padding}"
        )
    return scipy.signal.sosfiltfilt(sos, np.asarray(signal, dtype=np.float64), axis=0).astype(np.float32)


def filter_padding(sos):
    """Samples ``scipy.signal.sosfiltfilt`` pads at each end (its default ``padlen``) for filter ``sos``."""
    trailing_zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * (2 * len(sos) + 1 - trailing_zeros)


def normalize(signal, eps=1e-6):
    """Per-lead z-score of (T, L): zero mean and unit standard deviation in each column."""
    signal = np.asarray(signal, dtype=np.float32)
    return (signal - signal.mean(axis=0)) / (signal.std(axis=0) + eps)


def fix_length(signal, length, mode="start", rng=None, pad=True, record="<signal>"):
    """Crop or zero-pad (T, L) to (length, L).

    Args:
        mode: ``"random"`` (crop offset drawn from ``rng``, for training), ``"start"`` or ``"center"``.
        pad: zero-pad a short signal at the end; when False a short signal raises ``RecordTooShort``.
    """
    signal = np.asarray(signal)
    extra = signal.shape[0] - length
    if extra < 0:
        if not pad:
            raise RecordTooShort(record, f"{signal.shape[0]} samples is shorter than one window ({length})")
        return np.pad(signal, ((0, -extra), (0, 0)))
    if mode == "random":
        start = int((rng or np.random.default_rng()).integers(0, extra + 1))
    elif mode == "center":
        start = extra // 2
    elif mode == "start":
        start = 0
    else:
        raise ValueError(f"crop mode {mode!r} is not one of 'random', 'start', 'center'")
    return signal[start : start + length]


def window_starts(n_samples, length, stride):
    """Start indices of sliding windows that cover all ``n_samples``; the last ends at the record's end."""
    if n_samples <= length:
        return [0]
    starts = list(range(0, n_samples - length + 1, stride))
    if starts[-1] + length < n_samples:
        starts.append(n_samples - length)
    return starts


def stride_samples(window, fs, stride_seconds=None):
    """The sliding-window stride in samples: ``stride_seconds``, by default half of a ``window``-sample
    window (what ``predict`` deploys and what training evaluates on, so reports match deployment).

    Raises:
        ValueError: ``stride_seconds`` given but not a finite positive number.
    """
    if stride_seconds is not None and not (np.isfinite(stride_seconds) and stride_seconds > 0):
        raise ValueError(f"the stride must be a positive number of seconds, not {stride_seconds}")
    return max(1, int(round((stride_seconds or window / fs / 2) * fs)))


def sliding_windows(signal, length, stride=None, pad=True, record="<signal>"):
    """Cut (T, L) into windows (N, length, L) with ``stride`` (default ``length``) covering the record."""
    if signal.shape[0] < length:
        signal = fix_length(signal, length, pad=pad, record=record)
    return np.stack([signal[s : s + length] for s in window_starts(signal.shape[0], length, stride or length)])


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """What is done to a whole record before windows are cut.

    Attributes:
        fs: target sampling rate in Hz.
        band: ``(low, high)`` Hz of the band-pass filter applied at ``fs``, or None for none.
        order: Butterworth order.
        normalize: per-lead z-score.
    """

    fs: float = 100.0
    band: tuple = (0.5, 40.0)
    order: int = 3
    normalize: bool = True

    def __post_init__(self):
        """Raise ``ValueError`` for a rate that is not a positive number, a band outside (0, fs/2), or an order outside
        1-10."""
        if not (isinstance(self.fs, (int, float)) and math.isfinite(self.fs) and self.fs > 0):
            raise ValueError(f"Preprocessing: `fs` must be a positive number of Hz. Received: fs={self.fs!r}")
        if self.band is not None:
            low, high = self.band
            if not (0 < low < high < self.fs / 2):
                raise ValueError(
                    f"Preprocessing: `band` must satisfy 0 < low < high < fs/2 = {self.fs / 2:g} Hz. Received: "
                    f"band={tuple(self.band)!r}"
                )
        if not (isinstance(self.order, int) and 1 <= self.order <= 10):
            raise ValueError(f"Preprocessing: `order` must be an integer from 1 to 10. Received: order={self.order!r}")

    def apply(self, signal, fs, record="<signal>"):
        """(T, L) at ``fs`` -> float32 (T', L) at ``self.fs``: resample, filter, normalise."""
        out = resample(signal, fs, self.fs, record)
        if self.band is not None:
            out = bandpass(out, self.fs, *self.band, order=self.order, record=record)
        return normalize(out) if self.normalize else out

    def as_dict(self):
        return {
            "fs": self.fs,
            "band": list(self.band) if self.band else None,
            "order": self.order,
            "normalize": self.normalize,
        }

    @classmethod
    def from_dict(cls, config):
        """The inverse of ``as_dict``."""
        band = config.get("band")
        return cls(
            fs=float(config["fs"]),
            band=tuple(band) if band else None,
            order=int(config.get("order", 3)),
            normalize=bool(config.get("normalize", True)),
        )
