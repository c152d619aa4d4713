"""Synthetic 12-lead ECG from a moving cardiac dipole, with lead-specific conditions.

Each beat is a sum of Gaussian waves (P, septal Q, R, S, T and, per condition, extra ones) of the
heart's electrical dipole in Frank coordinates (X to the patient's left, Y downwards, Z to the
back), in mV. The dipole is projected to I, II and V1-V6 with the Dower matrix (Dower et al., Clin.
Cardiol. 3:87, 1980) and the other limb leads follow from Einthoven's and Goldberger's relations.
A condition changes the dipole where the heart changes: an inferior infarction turns the initial
QRS forces away from the inferior wall, so Q waves show in II, III and aVF and hardly in I; a right
bundle branch block adds slow terminal forces to the right and front (an R' in V1). That is what
makes a lead-I model blind to some conditions that a 12-lead model sees.

Rhythm: beats are placed on an RR series with respiratory and slow heart-rate variability (sinus)
or an irregular series (atrial fibrillation); premature ventricular beats replace a sinus beat
early and leave a compensatory pause. On top: baseline wander, muscle noise, powerline
interference (when the rate can carry it), and per-person and per-electrode amplitude variation.

``generate`` makes arrays in bulk; ``SyntheticDataset`` (``open_dataset("synthetic:N")``) serves the
same records lazily through the ``ECGDataset`` interface, and ``write_wfdb`` writes them as a
challenge-format folder (``#Dx`` holds the class names) for ``inspect`` and ``predict``.
"""

import dataclasses
import os

import numpy as np

from data_utils.leads import STANDARD_LEADS
from data_utils.readers.base import ECGDataset, RecordRef
from data_utils.record import ECGRecord
from data_utils.wfdb_io import Header, SignalSpec

GENERATOR_VERSION = 1  # raise it whenever a change makes the same spec generate other records (caches key on it)
RHYTHMS = ("NSR", "STach", "SB", "AF")
CONDITIONS = ("NSR", "STach", "SB", "AF", "IAVB", "RBBB", "LBBB", "LVH", "IMI", "AMI", "LAD", "PVC")
DESCRIPTIONS = {
    "NSR": "sinus rhythm, 60-100 bpm",
    "STach": "sinus tachycardia, 100-150 bpm",
    "SB": "sinus bradycardia, 40-60 bpm",
    "AF": "atrial fibrillation: irregular RR, no P wave, 4-9 Hz fibrillatory waves",
    "IAVB": "first-degree AV block: PR 220-340 ms",
    "RBBB": "right bundle branch block: QRS >= 120 ms, late rightward-anterior R' (rSR' in V1)",
    "LBBB": "left bundle branch block: QRS >= 120 ms, no septal q, broad leftward-posterior R, discordant T",
    "LVH": "left ventricular hypertrophy: QRS voltage x1.8-2.5, sometimes lateral strain T",
    "IMI": "inferior infarction: Q waves and inverted T in II, III, aVF",
    "AMI": "anterior infarction: QS waves and inverted T in V1-V4",
    "LAD": "left axis deviation: frontal QRS axis -40 to -75 degrees (others 10 to 75)",
    "PVC": "premature ventricular beats: early, wide, no P, compensatory pause",
}
DEFAULT_FREQUENCIES = {
    "STach": 0.15,
    "SB": 0.15,
    "AF": 0.15,
    "IAVB": 0.12,
    "RBBB": 0.12,
    "LBBB": 0.1,
    "LVH": 0.12,
    "IMI": 0.12,
    "AMI": 0.12,
    "LAD": 0.12,
    "PVC": 0.12,
}

# Dower matrix: rows V1..V6, I, II; columns X, Y, Z.
DOWER = np.array(
    [
        [-0.515, 0.157, -0.917],
        [0.044, 0.164, -1.387],
        [0.882, 0.098, -1.277],
        [1.213, 0.127, -0.601],
        [1.125, 0.127, -0.086],
        [0.831, 0.076, 0.230],
        [0.632, -0.235, 0.059],
        [0.235, 1.066, -0.132],
    ]
)


def lead_matrix():
    """(3, 12): dipole (X, Y, Z) to the 12 leads in ``STANDARD_LEADS`` order."""
    v, lead_i, lead_ii = DOWER[:6], DOWER[6], DOWER[7]
    limb = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    return np.vstack(limb + list(v)).T.astype(np.float32)


LEAD_MATRIX = lead_matrix()
TEMPLATE_SPAN = (-0.45, 0.8)  # seconds around the R peak covered by one beat
MIN_RR = 0.28  # seconds; RR intervals are clipped to [MIN_RR, 2.2]
R_VECTOR = np.array([1.0, 0.7, 0.4])  # the normal main QRS force: left, down, back
CANONICAL_AXIS = np.degrees(np.arctan2(R_VECTOR[1], R_VECTOR[0]))  # its frontal angle


@dataclasses.dataclass
class Waves:
    """Gaussian dipole waves of one beat type for n records: centres and widths (n, W) in seconds
    relative to the R peak, amplitude vectors (n, W, 3) in mV."""

    centre: np.ndarray
    width: np.ndarray
    vector: np.ndarray

    @classmethod
    def empty(cls, n):
        return cls(np.zeros((n, 0)), np.ones((n, 0)), np.zeros((n, 0, 3)))

    def add(self, centre, width, vector):
        """Append one wave: centre and width (n,) or scalars, vector (n, 3) or (3,)."""
        n = len(self.centre)
        self.centre = np.concatenate([self.centre, np.broadcast_to(centre, (n,))[:, None]], 1)
        self.width = np.concatenate([self.width, np.broadcast_to(width, (n,))[:, None]], 1)
        self.vector = np.concatenate([self.vector, np.broadcast_to(vector, (n, 3))[:, None]], 1)
        return self.vector.shape[1] - 1

    def template(self, fs):
        """The beat sampled over ``TEMPLATE_SPAN``: (n, L, 3)."""
        t = np.arange(int(round(TEMPLATE_SPAN[0] * fs)), int(round(TEMPLATE_SPAN[1] * fs))) / fs
        shape = np.exp(
            -0.5 * np.square((t[None, None, :] - self.centre[..., None]) / self.width[..., None])
        )  # (n, W, L)
        return np.einsum("nwl,nwx->nlx", shape, self.vector).astype(np.float32)


def rotation_frontal(angle_degrees):
    """(n, 3, 3) rotations in the frontal (X-Y) plane, towards +Y (downwards) for positive angles."""
    a = np.radians(angle_degrees)
    c, s, zero, one = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2)


def small_rotations(rng, n, degrees=10.0):
    """(n, 3, 3) random tilts about the X and Y axes (the heart's position varies between people)."""
    ax, ay = np.radians(rng.uniform(-degrees, degrees, (2, n)))
    zero, one = np.zeros(n), np.ones(n)
    rx = np.stack(
        [
            np.stack([one, zero, zero], -1),
            np.stack([zero, np.cos(ax), -np.sin(ax)], -1),
            np.stack([zero, np.sin(ax), np.cos(ax)], -1),
        ],
        -2,
    )
    ry = np.stack(
        [
            np.stack([np.cos(ay), zero, np.sin(ay)], -1),
            np.stack([zero, one, zero], -1),
            np.stack([-np.sin(ay), zero, np.cos(ay)], -1),
        ],
        -2,
    )
    return rx @ ry


def sinus_beat(rng, has, rr):
    """Dipole waves of the conducted beat for n records. ``has[name]`` is a (n,) bool per condition."""
    n = len(rr)
    waves = Waves.empty(n)
    size = rng.uniform(0.75, 1.3, n)[:, None]
    qrs = []
    pr = np.where(has["IAVB"], rng.uniform(0.22, 0.34, n), rng.uniform(0.12, 0.19, n))
    p_width = rng.uniform(0.018, 0.024, n)
    p_amplitude = np.where(has["AF"], 0.0, 1.0)[:, None]
    waves.add(-0.04 - pr + 2 * p_width, p_width, p_amplitude * size * [0.08, 0.12, -0.03])
    normal_conduction = ~has[
        "LBBB"
    ]  # under LBBB: no septal q; the R and S slots become two broad lobes (a wide, notched R)
    qrs.append(waves.add(-0.025, 0.008, normal_conduction[:, None] * size * [-0.10, 0.02, -0.12]))
    voltage = np.where(has["LVH"], rng.uniform(1.8, 2.5, n), 1.0)[:, None]
    r_vector = size * voltage * (R_VECTOR + np.where(has["LVH"], 1.0, 0.0)[:, None] * [0.0, 0.0, 0.3])
    lbbb_lobe = size * [0.8, 0.15, 0.7]
    qrs.append(
        waves.add(
            np.where(has["LBBB"], -0.01, 0.0),
            np.where(has["LBBB"], 0.018, 0.010),
            np.where(normal_conduction[:, None], r_vector, 1.5 * lbbb_lobe),
        )
    )
    qrs.append(
        waves.add(
            np.where(has["LBBB"], 0.04, 0.025),
            np.where(has["LBBB"], 0.018, 0.010),
            np.where(normal_conduction[:, None], size * [-0.25, -0.05, 0.25], 1.2 * lbbb_lobe),
        )
    )
    qrs.append(waves.add(0.065, 0.018, has["RBBB"][:, None] * size * [-0.35, 0.0, -0.55]))
    axis = np.where(has["LAD"], rng.uniform(-75, -40, n), rng.uniform(10, 75, n))
    rotation = rotation_frontal(axis - CANONICAL_AXIS)
    waves.vector[:, qrs] = np.einsum("nij,nwj->nwi", rotation, waves.vector[:, qrs])
    waves.add(-0.022, 0.014, has["IMI"][:, None] * size * [0.0, -0.45, 0.0])
    waves.add(-0.02, 0.014, has["AMI"][:, None] * size * [0.0, 0.0, 0.55])
    qt = rng.uniform(0.38, 0.44, n) * np.sqrt(rr)  # Bazett
    t_vector = size * [0.25, 0.15, -0.07] + has["RBBB"][:, None] * [0.0, 0.0, 0.1]
    t_vector = np.where(has["LBBB"][:, None], size * [-0.2, -0.03, 0.25], t_vector)
    strain = has["LVH"] & (rng.random(n) < 0.5)
    t_vector = (
        t_vector
        + strain[:, None] * [-0.35, 0.0, 0.1]
        + has["IMI"][:, None] * [0.0, -0.3, 0.0]
        + has["AMI"][:, None] * [0.0, 0.0, 0.35]
    )
    waves.add(qt - 0.12, rng.uniform(0.04, 0.05, n), t_vector)
    return waves


def ventricular_beat(rng, n):
    """Dipole waves of a premature ventricular beat: a broad QRS in a random direction, discordant T."""
    direction = rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    waves = Waves.empty(n)
    waves.add(0.0, rng.uniform(0.03, 0.038, n), direction * rng.uniform(1.2, 1.8, (n, 1)))
    waves.add(0.3, 0.06, -0.35 * direction)
    return waves


def beat_times(rng, rhythm_rate, is_af, n_beats):
    """R-peak times (n, B) in seconds: sinus with respiratory and slow variability, or AF."""
    n = len(rhythm_rate)
    mean_rr = 60.0 / rhythm_rate
    k = np.arange(n_beats)[None, :]
    respiration = rng.uniform(0.01, 0.05, (n, 1)) * np.sin(
        2 * np.pi * rng.uniform(0.2, 0.35, (n, 1)) * k * mean_rr[:, None] + rng.uniform(0, 2 * np.pi, (n, 1))
    )
    slow = np.cumsum(rng.normal(0, 0.01, (n, n_beats)), 1)
    sinus = mean_rr[:, None] * (1 + respiration + slow - slow.mean(1, keepdims=True))
    af = mean_rr[:, None] * rng.gamma(12.0, 1 / 12.0, (n, n_beats))  # coefficient of variation about 0.29
    rr = np.clip(np.where(is_af[:, None], af, sinus), MIN_RR, 2.2)
    return rng.uniform(0, 1, (n, 1)) * rr[:, :1] + np.cumsum(rr, 1) - rr[:, :1], mean_rr


def fibrillatory_waves(rng, is_af, t):
    """Atrial fibrillatory activity as a dipole (n, T, 3): a few drifting 4-9 Hz components."""
    n = len(is_af)
    out = np.zeros((n, len(t), 3), np.float32)
    rows = np.flatnonzero(is_af)
    if rows.size:
        frequency = rng.uniform(4, 9, (rows.size, 3, 1))
        drift = rng.uniform(-0.3, 0.3, (rows.size, 3, 1)) * np.sin(2 * np.pi * 0.2 * t[None, None, :])
        phase = rng.uniform(0, 2 * np.pi, (rows.size, 3, 1))
        components = np.sin(2 * np.pi * frequency * t[None, None, :] + phase + drift)  # (m, 3, T)
        direction = np.array([0.5, 0.5, -1.0]) + rng.normal(0, 0.2, (rows.size, 3, 3))
        amplitude = rng.uniform(0.02, 0.06, (rows.size, 1, 1))
        out[rows] = amplitude * np.einsum("mct,mcx->mtx", components, direction) / 3
    return out


def sinusoid(amplitude, frequency, phase, t):
    """amplitude * sin(2 pi frequency t + phase) for (n, 1, 1) frequencies and (n, 1, C) phases and
    amplitudes, from one sine and cosine per record: (n, T, C) float32."""
    angle = (2 * np.pi * frequency * t[None, :, None]).astype(np.float32)
    return np.sin(angle) * (amplitude * np.cos(phase)).astype(np.float32) + np.cos(angle) * (
        amplitude * np.sin(phase)
    ).astype(np.float32)


def noise(rng, n, t, fs):
    """Baseline wander, muscle noise and (when ``fs`` can carry it) powerline hum: (n, T, 12)."""
    n_leads = len(STANDARD_LEADS)
    out = rng.standard_normal((n, len(t), n_leads), dtype=np.float32) * rng.uniform(0.005, 0.03, (n, 1, 1)).astype(
        np.float32
    )
    for _ in range(2):
        out += sinusoid(
            rng.uniform(0.0, 0.15, (n, 1, n_leads)),
            rng.uniform(0.05, 0.5, (n, 1, 1)),
            rng.uniform(0, 2 * np.pi, (n, 1, n_leads)),
            t,
        )
    if fs > 2.5 * 60:
        out += sinusoid(
            rng.uniform(0, 0.02, (n, 1, n_leads)),
            rng.choice([50.0, 60.0], (n, 1, 1)),
            rng.uniform(0, 2 * np.pi, (n, 1, 1)) + np.zeros((1, 1, n_leads)),
            t,
        )
    return out


def place_beats(template, positions, weights, length):
    """Add ``template`` (n, L, C) at each beat's sample position, scaled by its weight: (n, length, C).

    positions: (n, B) sample index of each beat's first template sample; weights: (n, B), 0 for
    beats that are not there.
    """
    n, span = template.shape[:2]
    padded = np.zeros((n, length + 2 * span, template.shape[2]), np.float32)
    for b in range(positions.shape[1]):
        rows = np.flatnonzero(weights[:, b])
        if rows.size:
            index = np.clip(positions[rows, b, None], -span, length) + span + np.arange(span)[None, :]
            padded[rows[:, None], index] += template[rows] * weights[rows, b, None, None]
    return padded[:, span : span + length]


def premature_beats(rng, has_pvc, times, seconds):
    """(n, B) bool: the beats replaced by premature ventricular ones (at least one per PVC record)."""
    n, n_beats = times.shape
    candidates = (times > 0.5) & (times < seconds - 0.8) & (np.arange(n_beats) >= 1)
    ventricular = has_pvc[:, None] & candidates & (rng.random((n, n_beats)) < rng.uniform(0.1, 0.3, (n, 1)))
    forced = np.argmax(candidates * rng.random((n, n_beats)), 1)
    ventricular[np.arange(n), forced] |= has_pvc & candidates.any(1)
    ventricular[:, 1:] &= ~ventricular[:, :-1].copy()  # isolated beats: a PVC right after another is dropped
    return ventricular


def synthesize(has, fs, seconds, rng, noisy=True):
    """12-lead signals (n, T, 12) in mV for conditions ``has`` ({name: (n,) bool}); ``noisy=False``
    leaves out baseline wander, muscle noise and hum (the heart's signal alone)."""
    n = len(has["NSR"])
    length = int(round(seconds * fs))
    t = np.arange(length) / fs
    rate = np.select(
        [has["STach"], has["SB"], has["AF"]],
        [rng.uniform(100, 150, n), rng.uniform(40, 60, n), rng.uniform(60, 150, n)],
        rng.uniform(60, 100, n),
    )
    times, mean_rr = beat_times(rng, rate, has["AF"], int(np.ceil(seconds / MIN_RR)) + 2)
    ventricular = premature_beats(rng, has["PVC"], times, seconds)
    coupling = rng.uniform(0.55, 0.7, (n, 1))
    previous = np.concatenate([times[:, :1] - mean_rr[:, None], times[:, :-1]], 1)
    times = np.where(
        ventricular, previous + coupling * (times - previous), times
    )  # the sinus beat it replaces is blocked: a compensatory pause

    personal = small_rotations(rng, n) * rng.uniform(0.8, 1.2, (n, 1, 1))
    electrode = rng.uniform(0.9, 1.1, (n, 1, len(STANDARD_LEADS))).astype(np.float32)
    positions = np.round(times * fs).astype(int) + int(round(TEMPLATE_SPAN[0] * fs))
    span = int(round((TEMPLATE_SPAN[1] - TEMPLATE_SPAN[0]) * fs))
    beat_size = rng.uniform(0.95, 1.05, times.shape).astype(np.float32) * ((positions > -span) & (positions < length))
    signal = fibrillatory_waves(rng, has["AF"], t) @ LEAD_MATRIX
    for waves, is_type in ((sinus_beat(rng, has, mean_rr), ~ventricular), (ventricular_beat(rng, n), ventricular)):
        waves.vector = np.einsum("nij,nwj->nwi", personal, waves.vector)
        signal += place_beats(waves.template(fs) @ LEAD_MATRIX, positions, beat_size * is_type, length)
    signal *= electrode
    return signal + noise(rng, n, t, fs) if noisy else signal


def draw_conditions(rng, n, classes=CONDITIONS, frequencies=None):
    """Sample conditions for n records: ``{name: (n,) bool}`` over every name in ``CONDITIONS``.

    One rhythm per record: each rhythm class in ``classes`` other than NSR with its frequency, NSR
    with the rest. Other conditions are independent draws, then made physiologically consistent:
    no PR interval (so no first-degree block) in AF, one bundle branch block at most, and no LVH
    label under LBBB (LBBB hides its voltage criteria). Conditions outside ``classes`` never occur.
    """
    frequencies = checked_frequencies(classes, frequencies)
    rhythm_names = [name for name in RHYTHMS[1:] if name in classes]
    rhythm_p = [frequencies[name] for name in rhythm_names]
    rhythm = rng.choice(len(rhythm_names) + 1, n, p=[1 - sum(rhythm_p), *rhythm_p])
    has = {name: np.zeros(n, bool) for name in CONDITIONS}
    has["NSR"] = rhythm == 0
    for index, name in enumerate(rhythm_names, 1):
        has[name] = rhythm == index
    for name in CONDITIONS:
        if name not in RHYTHMS and name in classes:
            has[name] = rng.random(n) < frequencies[name]
    has["IAVB"] &= ~has["AF"]
    both = has["RBBB"] & has["LBBB"]
    keep_right = rng.random(n) < 0.5
    has["RBBB"] &= ~both | keep_right
    has["LBBB"] &= ~both | ~keep_right
    has["LVH"] &= ~has["LBBB"]
    return has


def checked_frequencies(classes, frequencies):
    """Frequencies for ``classes``: ``DEFAULT_FREQUENCIES`` updated with ``frequencies``; raises
    ``ValueError`` for unknown classes, values outside [0, 1] or rhythm frequencies above 1 in sum."""
    unknown = (set(classes) | set(frequencies or {})) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown synthetic classes {sorted(unknown)}; choose from {', '.join(CONDITIONS)}")
    if "NSR" in (frequencies or {}):
        raise ValueError("NSR's frequency is what the other rhythms leave; set STach, SB and AF instead")
    merged = {**DEFAULT_FREQUENCIES, **(frequencies or {})}
    if any(not 0 <= value <= 1 for value in merged.values()):
        raise ValueError(f"frequencies must be in [0, 1]: {merged}")
    if sum(merged[name] for name in RHYTHMS[1:] if name in classes) > 1:
        raise ValueError("the frequencies of STach, SB and AF add up to more than 1")
    return merged


def check_sampling(fs, seconds):
    if not fs >= 50:
        raise ValueError(f"synthetic ECG needs fs >= 50 Hz to draw a QRS complex (got {fs})")
    if not seconds >= 3:
        raise ValueError(f"synthetic records must last at least 3 s (got {seconds})")


def generate(n, *, fs=100, seconds=10.0, classes=CONDITIONS, frequencies=None, seed=0, noisy=True):
    """``n`` labelled 12-lead records as arrays.

    Args:
        fs: sampling rate in Hz (at least 50); seconds: duration (at least 3).
        classes: the conditions that may occur and the label columns, in this order.
        frequencies: ``{class: probability}`` overriding ``DEFAULT_FREQUENCIES``.
        noisy: False leaves the noise out.
    Returns:
        ``(signals (n, T, 12) float32 mV, labels (n, K) float32)``, leads in ``STANDARD_LEADS`` order.
    """
    source = SyntheticSource(
        n, fs=fs, seconds=seconds, classes=classes, frequencies=frequencies, seed=seed, noisy=noisy
    )
    signals = np.concatenate([source.chunk_signals(c) for c in range(source.n_chunks)])
    labels = np.stack([source.conditions[name] for name in source.classes], 1).astype(np.float32)
    return signals, labels


class SyntheticSource:
    """The generator behind a synthetic dataset: conditions and demographics drawn up front, signals
    made in chunks of ``chunk`` records when first read (the last chunk is kept), so a record's
    signal depends only on the seed and its chunk. ``conditions`` holds every condition
    ({name: (n,) bool}), also those outside ``classes``.
    """

    def __init__(self, n, *, fs=100, seconds=10.0, classes=CONDITIONS, frequencies=None, seed=0, noisy=True, chunk=512):
        check_sampling(fs, seconds)
        self.n, self.fs, self.seconds, self.seed, self.noisy, self.chunk = (
            int(n),
            float(fs),
            float(seconds),
            seed,
            noisy,
            chunk,
        )
        self.classes, self.frequencies = tuple(classes), dict(frequencies or {})
        rng = np.random.default_rng([seed, 0])
        self.conditions = draw_conditions(rng, self.n, self.classes, frequencies)
        self.ages = np.round(rng.uniform(18, 90, self.n))
        self.sexes = rng.choice(["F", "M"], self.n)
        self._cached = (None, None)

    @property
    def n_chunks(self):
        return -(-self.n // self.chunk)

    def chunk_signals(self, c):
        """Signals (m, T, 12) of chunk ``c`` (records ``c * chunk`` onwards)."""
        if self._cached[0] != c:
            rows = slice(c * self.chunk, (c + 1) * self.chunk)
            has = {name: values[rows] for name, values in self.conditions.items()}
            self._cached = (
                c,
                synthesize(has, self.fs, self.seconds, np.random.default_rng([self.seed, 1, c]), self.noisy),
            )
        return self._cached[1]

    def read_ref(self, ref):
        """The ``ECGRecord`` of ``ref`` (made by ``dataset``)."""
        row = int(ref.record_id[1:])
        signal = self.chunk_signals(row // self.chunk)[row % self.chunk]
        return ECGRecord(
            ref.record_id,
            signal.copy(),
            self.fs,
            tuple(STANDARD_LEADS),
            ref.labels,
            ref.age,
            ref.sex,
            path=ref.header.path,
        )

    def dataset(self):
        """An ``ECGDataset`` (format ``"synthetic"``) whose records this source makes."""
        n_samples = int(round(self.seconds * self.fs))
        refs = []
        for i in range(self.n):
            record_id = f"S{i:06d}"
            labels = tuple(name for name in self.classes if self.conditions[name][i])
            refs.append(
                RecordRef(
                    record_id,
                    synthetic_header(record_id, self.fs, n_samples),
                    labels,
                    float(self.ages[i]),
                    str(self.sexes[i]),
                )
            )
        frequencies = ",".join(f"{name}={value:g}" for name, value in sorted(self.frequencies.items()))
        root = (
            f"synthetic:n={self.n},fs={self.fs:g},seconds={self.seconds:g},seed={self.seed},noisy={self.noisy},"
            f"classes={'+'.join(self.classes)},frequencies={frequencies}"
        )
        return ECGDataset("synthetic", root, refs, self.classes, reader=self.read_ref)


def synthetic_header(record_id, fs, n_samples):
    specs = [SignalSpec(f"{record_id}.dat", 16, 0, 1000.0, 0, "mV", lead) for lead in STANDARD_LEADS]
    return Header(f"synthetic/{record_id}.hea", record_id, float(fs), int(n_samples), specs, [])


def open_synthetic(spec="", **options):
    """``open_synthetic("2000")`` or ``open_synthetic("n=2000,fs=500,seconds=10,seed=1")`` -> ``ECGDataset``.

    Keyword ``options`` (``classes``, ``frequencies`` and the spec's keys) override the spec; the
    default is 1,000 ten-second records at 100 Hz with every condition, seed 0.
    """
    settings = {"n": 1000}
    for item in filter(None, str(spec).split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            key, value = "n", key
        if key not in ("n", "fs", "seconds", "seed"):
            raise ValueError(f"synthetic spec {spec!r}: unknown key {key!r}; use n, fs, seconds, seed")
        try:
            settings[key] = float(value) if key in ("fs", "seconds") else int(value)
        except ValueError:
            raise ValueError(f"synthetic spec {spec!r}: {key} must be a number, got {value!r}") from None
    settings.update(options)
    n = settings.pop("n")
    if n < 1:
        raise ValueError(f"synthetic spec {spec!r}: n must be at least 1")
    return SyntheticSource(n, **settings).dataset()


def write_wfdb(dataset, folder, progress=None):
    """Write every record of ``dataset`` as WFDB (``.hea`` + format-16 ``.dat``, 1 uV per unit) into
    ``folder``, with ``# Age``, ``# Sex`` and ``# Dx`` (the class names) lines: a challenge-format
    folder that ``open_dataset``, ``inspect`` and ``predict`` read back."""
    import wfdb

    os.makedirs(folder, exist_ok=True)
    for _, record in dataset.iter_records(progress=progress, desc="writing"):
        digital = np.clip(np.round(record.signal * 1000), -32767, 32767).astype(np.int16)
        comments = [
            f"Age: {record.age:g}",
            f"Sex: {'Female' if record.sex == 'F' else 'Male'}",
            f"Dx: {','.join(record.labels)}",
        ]
        wfdb.wrsamp(
            record.record_id,
            fs=record.fs,
            units=["mV"] * len(record.leads),
            sig_name=list(record.leads),
            d_signal=digital,
            fmt=["16"] * len(record.leads),
            adc_gain=[1000.0] * len(record.leads),
            baseline=[0] * len(record.leads),
            comments=comments,
            write_dir=folder,
        )
