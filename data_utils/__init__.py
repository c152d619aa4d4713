"""ECG records to arrays to ``tf.data``: readers, preprocessing, splits, caching, pipelines, scoring.

TensorFlow is imported only by ``data_utils.pipeline``; the rest works without it.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFMOT needs Keras 2 (tf_keras); see docs/design.md

from data_utils.errors import DatasetFormatError, RecordError  # noqa: E402
from data_utils.leads import LEAD_SETS, STANDARD_LEADS, resolve_leads  # noqa: E402
from data_utils.preprocess import Preprocessing  # noqa: E402
from data_utils.readers import open_dataset, read_record  # noqa: E402
from data_utils.record import ECGRecord  # noqa: E402

__all__ = [
    "DatasetFormatError",
    "ECGRecord",
    "LEAD_SETS",
    "Preprocessing",
    "RecordError",
    "STANDARD_LEADS",
    "open_dataset",
    "read_record",
    "resolve_leads",
]
