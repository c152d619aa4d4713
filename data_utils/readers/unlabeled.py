"""WFDB records without a label source: readable for ``predict`` and ``inspect``, not for training."""

from data_utils.readers import cinc2017
from data_utils.readers.base import ECGDataset, RecordRef, checked_header, collect_refs
from data_utils.readers.challenge import find_headers


def read_unlabeled(root, min_seconds=None, progress=None):
    """Index every ``.hea`` under ``root`` with no labels (``classes`` is empty).

    A single-signal record described as ``ECG`` (AliveCor) is read as lead I, as in CinC 2017.
    Returns:
        ``ECGDataset`` with ``format="unlabeled"``.
    """

    def make_ref(path):
        header = checked_header(path, min_seconds, cinc2017.LEAD_ALIASES)
        return RecordRef(header.record_id, header, (), aliases=cinc2017.LEAD_ALIASES)

    refs, skipped = collect_refs(find_headers(root), make_ref, progress)
    return ECGDataset("unlabeled", root, refs, (), skipped)
