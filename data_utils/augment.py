"""Random training augmentation of whole windows, all leads at once.

The pipeline augments a window before it splits it into the teacher's and the student's leads, so
both networks read the same augmented record (a consistent teacher, Beyer et al. 2022, "Knowledge
distillation: a good teacher is patient and consistent"). Signals are normalised per lead (unit
standard deviation), so amplitudes below are in standard deviations.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """Ranges of the random changes; each window draws its own values.

    Attributes:
        gain: a per-lead gain is drawn log-uniformly from ``(1 / gain, gain)``.
        wander_hz: range of the baseline wander's frequency (one sinusoid per window, Hz).
        wander: the wander's largest amplitude per lead.
        noise: the largest standard deviation of added Gaussian noise.
        shift_seconds: the window is rotated in time by up to this much either way.
        invert: the chance that a window's sign is flipped, every lead at once (a handheld
            recorder held the other way round); 0, the default, draws nothing for it, so runs
            without it repeat exactly.
    """

    gain: float = 1.25
    wander_hz: tuple = (0.05, 0.5)
    wander: float = 0.3
    noise: float = 0.05
    shift_seconds: float = 0.5
    invert: float = 0.0

    def __post_init__(self):
        if not 0 <= self.invert <= 1:
            raise ValueError(f"invert is a probability in [0, 1], not {self.invert}")

    def apply(self, signals, fs, rng):
        """(B, W, L) float32 windows at ``fs`` Hz -> augmented copies of the same shape.

        Padding past a record's end (zeros) is shifted like the rest of the window.
        """
        batch, length, leads = signals.shape
        t = np.arange(length, dtype=np.float32)[None, :, None] / fs
        gain = np.exp(rng.uniform(-np.log(self.gain), np.log(self.gain), (batch, 1, leads)))
        frequency = rng.uniform(*self.wander_hz, (batch, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, (batch, 1, 1))
        wander = rng.uniform(0, self.wander, (batch, 1, leads)) * np.sin(2 * np.pi * frequency * t + phase)
        noise = rng.normal(size=signals.shape) * rng.uniform(0, self.noise, (batch, 1, 1))
        out = (signals * gain + wander + noise).astype(np.float32)
        if self.invert > 0:
            out *= np.where(rng.random((batch, 1, 1)) < self.invert, -1, 1).astype(np.float32)
        limit = int(round(self.shift_seconds * fs))
        for row, shift in enumerate(rng.integers(-limit, limit + 1, batch)):
            out[row] = np.roll(out[row], shift, axis=0)
        return out

    def as_dict(self):
        return dataclasses.asdict(self)
