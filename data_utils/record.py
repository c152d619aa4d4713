"""The record every reader returns, and the demographic encoding of LRH-Net."""

import dataclasses

import numpy as np

from data_utils.errors import MissingLead


@dataclasses.dataclass
class ECGRecord:
    """One ECG recording.

    Attributes:
        record_id: the record name without extension (``"A00001"``, ``"HR06009"``, ``"1"``).
        signal: float32 array (T, L) in millivolts, leads in standard order (see ``leads``).
        fs: sampling rate in Hz.
        leads: names of the L columns of ``signal``, a subsequence of ``STANDARD_LEADS``.
        labels: class names of the record in its dataset's vocabulary (may be empty for unlabelled use).
        age: age in years, or None when unknown.
        sex: ``"F"``, ``"M"`` or None when unknown.
        path: the file the record came from (header or signal file).
    """

    record_id: str
    signal: np.ndarray
    fs: float
    leads: tuple
    labels: tuple = ()
    age: float = None
    sex: str = None
    path: str = ""

    @property
    def duration(self):
        """Length in seconds."""
        return self.signal.shape[0] / self.fs

    def select_leads(self, leads):
        """Return the signal (T, len(leads)) with the named leads in the given order.

        Raises:
            MissingLead: the record lacks one of the leads.
        """
        missing = [lead for lead in leads if lead not in self.leads]
        if missing:
            raise MissingLead(self.record_id, f"lacks lead(s) {', '.join(missing)}; it has {', '.join(self.leads)}")
        columns = [self.leads.index(lead) for lead in leads]
        return self.signal[:, columns]


OLDEST_AGE = 150.0  # an age at or above this (or below 0) is an error in the record: unknown


def plausible_age(age):
    """``age`` in years as a float when it is a number in [0, ``OLDEST_AGE``), else None."""
    try:
        age = float(age)
    except (TypeError, ValueError):
        return None
    return age if np.isfinite(age) and 0 <= age < OLDEST_AGE else None


def encode_demographics(age, sex):
    """Encode age and sex as LRH-Net does: [age/100, age known, female, male, sex known].

    Args:
        age: years or None; sex: ``"F"``, ``"M"`` or None.
    Returns:
        float32 array of shape (5,).
    """
    age_known = age is not None and np.isfinite(age)
    return np.array(
        [
            age / 100.0 if age_known else 0.0,
            float(age_known),
            float(sex == "F"),
            float(sex == "M"),
            float(sex in ("F", "M")),
        ],
        dtype=np.float32,
    )
