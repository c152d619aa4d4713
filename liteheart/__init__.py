"""LiteHeart (Zhou et al. 2025, arXiv 2511.02851), our interpretation: a 1-lead student distilled
from a 12-lead teacher. No code or full text of LiteHeart is public; see docs/design.md."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFMOT needs Keras 2 (tf_keras); see docs/design.md

from data_utils.beats import beat_profile, detect_r_peaks  # noqa: E402
from liteheart.mutual_information import CrossLayerMutualInformation  # noqa: E402
from liteheart.region import RegionAwareDistillation, region_weights  # noqa: E402
from liteheart.student import LiteHeartStudent  # noqa: E402

__all__ = [
    "CrossLayerMutualInformation",
    "LiteHeartStudent",
    "RegionAwareDistillation",
    "beat_profile",
    "detect_r_peaks",
    "region_weights",
]
