"""LRH-Net (Chauhan et al. 2022, arXiv:2204.08000): teacher, student and baseline networks, the
Distiller and its distillation terms, multi-level distillation.

The names below load on first use (PEP 562), so that ``python -m lrhnet.predict`` can start
TensorFlow quietly before anything imports it.
"""

import importlib
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFMOT needs Keras 2 (tf_keras); see docs/design.md

_SOURCES = {
    "Distiller": "lrhnet.distiller",
    "assistant_distiller": "lrhnet.mlkd",
    "mlkd_distiller": "lrhnet.mlkd",
    "multilevel_terms": "lrhnet.mlkd",
    "CNN1D": "lrhnet.networks",
    "LRHNet": "lrhnet.networks",
    "SEResNet1D": "lrhnet.networks",
    "DistillationTerm": "lrhnet.terms",
    "FeatureDistillation": "lrhnet.terms",
    "LogitDistillation": "lrhnet.terms",
    "SelectOnValidation": "lrhnet.training",
    "evaluate_on_test": "lrhnet.training",
    "paper_optimizer": "lrhnet.training",
    "step_decay": "lrhnet.training",
    "load_network": "lrhnet.saving",
}
__all__ = sorted(_SOURCES)


def __getattr__(name):
    if name not in _SOURCES:
        raise AttributeError(f"module 'lrhnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_SOURCES[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
