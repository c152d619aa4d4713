"""LRH-Net (Chauhan et al. 2022): teacher, student and baseline networks, the Distiller and its
distillation terms, multi-level distillation."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFMOT needs Keras 2 (tf_keras); see GUIDE section 2

from lrhnet.distiller import Distiller  # noqa: E402
from lrhnet.mlkd import assistant_distiller, mlkd_distiller, multilevel_terms  # noqa: E402
from lrhnet.networks import CNN1D, LRHNet, SEResNet1D  # noqa: E402
from lrhnet.terms import DistillationTerm, FeatureDistillation, LogitDistillation  # noqa: E402
from lrhnet.training import SelectOnValidation, evaluate_on_test, paper_optimizer, step_decay  # noqa: E402

__all__ = [
    "CNN1D",
    "DistillationTerm",
    "Distiller",
    "FeatureDistillation",
    "LRHNet",
    "LogitDistillation",
    "SEResNet1D",
    "SelectOnValidation",
    "assistant_distiller",
    "evaluate_on_test",
    "mlkd_distiller",
    "multilevel_terms",
    "paper_optimizer",
    "step_decay",
]
