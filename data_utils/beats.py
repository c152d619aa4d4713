"""Simple beat measurements, applied the same way to real and synthetic records.

``multilead_r_peaks`` finds beats on the spatial velocity of all leads (robust to a lead where the
QRS is small or broad); the median beat around them gives the wave measures. These are
screening-grade estimates for comparing datasets, not a delineator.
"""

import numpy as np
import scipy.signal

BEFORE, AFTER = 0.45, 0.6  # seconds of the median beat before and after the R peak
BEAT_BEFORE, BEAT_AFTER, QRS_SIGMA, BEAT_FLOOR = 0.25, 0.45, 0.04, 0.1  # beat_profile's window and shape


def detect_r_peaks(signal, fs):
    """R-peak sample indices of a 1-D signal (mV) with ``wfdb.processing.xqrs_detect``."""
    import wfdb.processing

    return wfdb.processing.xqrs_detect(np.asarray(signal, dtype=np.float64), fs=fs, verbose=False)


def strongest_lead(signal):
    """Column of ``signal`` (T, L) with the largest 99th-percentile deflection from its median."""
    return int(np.argmax(np.percentile(np.abs(signal - np.median(signal, axis=0)), 99, axis=0)))


def multilead_r_peaks(signal, fs):
    """R-peak sample indices of a (T, L) record.

    Beats are peaks (at least 250 ms apart, above 30 % of the 97th percentile) of the 50 ms moving
    average of the spatial velocity (norm over leads of the derivative); each is then placed on
    the largest deflection of the strongest lead within 60 ms.
    """
    velocity = np.linalg.norm(np.gradient(signal, axis=0), axis=1)
    width = max(1, int(round(0.05 * fs)))
    envelope = np.convolve(velocity, np.ones(width) / width, mode="same")
    candidates, _ = scipy.signal.find_peaks(
        envelope, distance=int(round(0.25 * fs)), height=0.3 * np.percentile(envelope, 97)
    )
    lead = signal[:, strongest_lead(signal)]
    deflection = np.abs(lead - np.median(lead))
    reach = int(round(0.06 * fs))
    return np.array(
        [max(0, c - reach) + int(np.argmax(deflection[max(0, c - reach) : c + reach + 1])) for c in candidates],
        dtype=int,
    )


def beat_profile(r_peaks, length, fs):
    """(length,) weights over one record from its R-peak sample indices: around each peak a profile
    peaking on the QRS (Gaussian, sigma 40 ms) over a floor of 0.1 across the P-QRS-T window (250 ms
    before to 450 ms after the peak); 0 outside beats."""
    t = np.arange(length) / fs
    profile = np.zeros(length, dtype=np.float32)
    for peak in np.asarray(r_peaks) / fs:
        inside = (t >= peak - BEAT_BEFORE) & (t <= peak + BEAT_AFTER)
        bump = np.maximum(np.exp(-0.5 * ((t - peak) / QRS_SIGMA) ** 2), BEAT_FLOOR)
        profile = np.maximum(profile, np.where(inside, bump, 0.0))
    return profile


def beat_profiles(signals, fs):
    """(B, W, L) windows -> (B, W) float32 ``beat_profile`` of each, its beats found by ``multilead_r_peaks``.

    A window where no beat is found (a flat line) gets an all-zero profile.
    """
    profiles = np.zeros(signals.shape[:2], dtype=np.float32)
    for row, window in enumerate(signals):
        if np.ptp(window) > 0:
            profiles[row] = beat_profile(multilead_r_peaks(window, fs), len(window), fs)
    return profiles


def rr_variability(rr):
    """``{"rr_cv": std/mean, "rmssd_ms": root mean square of successive differences}`` of RR intervals (s)."""
    rr = np.asarray(rr, dtype=float)
    return {"rr_cv": float(rr.std() / rr.mean()), "rmssd_ms": float(1000 * np.sqrt(np.mean(np.square(np.diff(rr)))))}


def median_beat(signal, fs, peaks):
    """Median over beats of ``signal`` (T, L) around ``peaks``: (W, L), R peak at sample ``round(BEFORE * fs)``.

    Beats too close to either end are left out; raises ``ValueError`` when none is left.
    """
    before, after = int(round(BEFORE * fs)), int(round(AFTER * fs))
    kept = [p for p in peaks if p - before >= 0 and p + after <= len(signal)]
    if not kept:
        raise ValueError("no complete beat to average")
    return np.median(np.stack([signal[p - before : p + after] for p in kept]), axis=0)


def qrs_bounds(beat, fs, threshold=0.1, gap=0.03):
    """QRS onset and offset (sample indices in ``beat``, (W, L) or (W,)).

    The spatial velocity (norm over leads of the derivative, averaged over 16 ms) is compared with
    ``threshold`` x its maximum within 200 ms of the R peak; the QRS grows outwards from the R peak
    over samples above it, bridging pauses of up to ``gap`` seconds (a notch).
    """
    beat = beat.reshape(len(beat), -1)
    r = int(round(BEFORE * fs))
    velocity = np.linalg.norm(np.gradient(beat, axis=0), axis=1)
    width = max(1, int(round(0.016 * fs)))
    velocity = np.convolve(velocity, np.ones(width) / width, mode="same")
    window = int(round(0.2 * fs))
    above = (
        np.flatnonzero(velocity[r - window : r + window + 1] > threshold * velocity[r - window : r + window + 1].max())
        + r
        - window
    )
    bridge = max(1, int(round(gap * fs)))
    onset = offset = r
    for i in above[above < r][::-1]:
        if onset - i > bridge:
            break
        onset = i
    for i in above[above > r]:
        if i - offset > bridge:
            break
        offset = i
    return onset, offset


def qrs_width(beat, fs):
    """QRS duration in seconds of a median beat (W, L) or (W,)."""
    onset, offset = qrs_bounds(beat, fs)
    return (offset - onset + 1) / fs


def p_wave(lead_beat, fs):
    """The P wave of one lead's median beat: ``(amplitude mV, onset sample)``.

    The largest deflection 100-400 ms before the R peak, measured from the level just before the
    window; the onset is where it last rose through 20 % of that amplitude before its peak.
    """
    r = int(round(BEFORE * fs))
    start, stop = r - int(round(0.4 * fs)), r - int(round(0.08 * fs))
    baseline = np.median(lead_beat[max(0, start - int(round(0.04 * fs))) : start + 1])
    segment = lead_beat[start:stop] - baseline
    peak = int(np.argmax(np.abs(segment)))
    amplitude = float(segment[peak])
    below = np.flatnonzero(np.abs(segment[: peak + 1]) < 0.2 * abs(amplitude))
    onset = start + (int(below[-1]) + 1 if below.size else 0)
    return amplitude, onset


def pr_interval(beat, fs, lead):
    """PR interval in seconds: P onset on column ``lead`` to QRS onset (spatial), of a median beat."""
    _, p_onset = p_wave(beat[:, lead], fs)
    onset, _ = qrs_bounds(beat, fs)
    return (onset - p_onset) / fs


def qrs_net_amplitude(beat, fs):
    """Net QRS deflection per lead (sum over the QRS, in mV x samples / samples): (L,) or scalar."""
    onset, offset = qrs_bounds(beat, fs)
    baseline = beat[max(0, onset - int(round(0.03 * fs))) : onset + 1].mean(axis=0)
    return (beat[onset : offset + 1] - baseline).mean(axis=0)


def qrs_amplitudes(beat, fs):
    """Peak-to-peak QRS amplitude (mV) of each lead of a median beat (W, L): (L,)."""
    onset, offset = qrs_bounds(beat, fs)
    return np.ptp(beat[onset : offset + 1], axis=0)


def q_wave_depth(beat, fs, lead):
    """Depth (mV, positive) of the initial negative deflection of column ``lead`` in the first 40 ms
    of the (spatial) QRS of a median beat (W, L)."""
    onset, _ = qrs_bounds(beat, fs)
    baseline = beat[max(0, onset - int(round(0.03 * fs))) : onset + 1, lead].mean()
    return float(max(0.0, baseline - beat[onset : onset + int(round(0.04 * fs)), lead].min()))


def r_wave_height(beat, fs, lead):
    """Height (mV) of the largest positive deflection of column ``lead`` within the QRS of a median beat (W, L)."""
    onset, offset = qrs_bounds(beat, fs)
    baseline = beat[max(0, onset - int(round(0.03 * fs))) : onset + 1, lead].mean()
    return float(max(0.0, beat[onset : offset + 1, lead].max() - baseline))


def qrs_polarity(beat, fs):
    """(R - S) / (R + S) per lead of a median beat (W, L): +1 all upright, -1 all negative. (L,).

    R and S are the largest deflections above and below the level just before the QRS; the ratio
    does not depend on the lead's gain.
    """
    onset, offset = qrs_bounds(beat, fs)
    baseline = beat[max(0, onset - int(round(0.03 * fs))) : onset + 1].mean(axis=0)
    qrs = beat[onset : offset + 1] - baseline
    r, s = np.maximum(qrs.max(axis=0), 0), np.maximum(-qrs.min(axis=0), 0)
    return (r - s) / np.maximum(r + s, 1e-9)


def t_wave_ratio(beat, fs):
    """T-wave amplitude over QRS peak-to-peak amplitude per lead of a median beat (W, L): (L,).

    The T wave is the largest deflection from the pre-QRS level 60-400 ms after the QRS offset.
    """
    onset, offset = qrs_bounds(beat, fs)
    baseline = beat[max(0, onset - int(round(0.03 * fs))) : onset + 1].mean(axis=0)
    window = beat[offset + int(round(0.06 * fs)) : offset + int(round(0.4 * fs))] - baseline
    return np.abs(window).max(axis=0) / np.maximum(qrs_amplitudes(beat, fs), 1e-9)
