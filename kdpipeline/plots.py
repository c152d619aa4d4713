"""The figures of a run: training curves, per-class ROC curves, per-class F1 or a confusion matrix,
and an ECG strip with the LiteHeart region weights over it. Each function writes one PNG (``training_curves``
none when no network has a training history)."""

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _pyplot().close(fig)


def training_curves(models, path):
    """Loss per epoch of every trained model, and its validation selection metric (no file when no
    model has a history, as with a ``--teacher-from`` teacher alone)."""
    trained = {name: entry["history"] for name, entry in models.items() if entry.get("history")}
    if not trained:
        return
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, history in trained.items():
        axes[0].plot(np.arange(1, len(history["loss"]) + 1), history["loss"], marker="o", label=name)
        validation = [key for key in history if key.startswith("val_")]
        if validation:
            axes[1].plot(
                np.arange(1, len(history[validation[0]]) + 1),
                history[validation[0]],
                marker="o",
                label=f"{name} ({validation[0][4:]})",
            )
    axes[0].set(title="training loss", xlabel="epoch")
    axes[1].set(title="validation selection metric", xlabel="epoch")
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    _save(fig, path)


def roc_curves(labels, probabilities, classes, title, path):
    """One ROC curve per class with both label values in ``labels`` (N, K)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(6, 6))
    for k, name in enumerate(classes):
        if 0 < labels[:, k].sum() < len(labels):
            fpr, tpr, _ = roc_curve(labels[:, k], probabilities[:, k])
            axis.plot(fpr, tpr, lw=1, label=f"{name} ({roc_auc_score(labels[:, k], probabilities[:, k]):.2f})")
    axis.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--")
    axis.set(title=title, xlabel="false positive rate", ylabel="true positive rate")
    axis.legend(fontsize=7, loc="lower right")
    _save(fig, path)


def per_class_f1(f1_by_model, classes, path):
    """Grouped bars: F1 per class (rows of ``f1_by_model``: model name -> (K,) values)."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(max(6, len(classes) * 0.8), 4))
    width = 0.8 / max(1, len(f1_by_model))
    for i, (name, values) in enumerate(f1_by_model.items()):
        axis.bar(np.arange(len(classes)) + i * width, np.nan_to_num(values), width, label=name)
    axis.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45, ha="right", fontsize=8)
    axis.set(ylabel="F1 (test)", ylim=(0, 1))
    axis.legend(fontsize=7)
    _save(fig, path)


def confusion_matrix(labels, probabilities, classes, title, path, thresholds=None):
    """Single-label confusion matrix (rows: true class) of the class with the largest probability
    divided by its threshold (``data_utils.scoring.weighted_argmax``; the arg-max without thresholds)."""
    from data_utils.scoring import confusion_counts

    plt = _pyplot()
    counts = confusion_counts(labels, probabilities, thresholds)
    fig, axis = plt.subplots(figsize=(5, 5))
    axis.imshow(counts, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            axis.text(j, i, counts[i, j], ha="center", va="center", fontsize=8)
    axis.set_xticks(range(len(classes)), classes)
    axis.set_yticks(range(len(classes)), classes)
    axis.set(title=title, xlabel="predicted", ylabel="true")
    _save(fig, path)


def region_strip(signal, weights, fs, lead, title, path):
    """A student-lead ECG strip (T,) with the region weights (T_features,) stretched over it."""
    plt = _pyplot()
    t = np.arange(len(signal)) / fs
    stretched = np.interp(np.linspace(0, 1, len(signal)), np.linspace(0, 1, len(weights)), weights)
    fig, axis = plt.subplots(figsize=(12, 3))
    axis.plot(t, signal, color="black", lw=0.7)
    shade = axis.twinx()
    shade.fill_between(t, stretched, color="tab:red", alpha=0.3)
    shade.set_ylabel("region weight", color="tab:red")
    axis.set(title=title, xlabel="seconds", ylabel=f"lead {lead} (normalised)")
    _save(fig, path)
