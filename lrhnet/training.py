"""Training defaults of LRH-Net (docs/design.md) and evaluation with thresholds tuned on validation.

Paper settings: Adam, learning rate 3e-3, weight decay 1e-5, x0.1 at epochs 20/40/70, batch 64.
Note: tf_keras' ``Adam(weight_decay=...)`` decays weights directly (decoupled, as AdamW); the
authors' PyTorch Adam adds the decay to the gradient (L2). At 1e-5 the two differ very little.
"""

import contextlib
import io
import json
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from data_utils import scoring, snomed
from data_utils.files import atomic_write
from data_utils.pipeline import aggregate_windows

PAPER_LEARNING_RATE = 3e-3
PAPER_WEIGHT_DECAY = 1e-5
PAPER_DECAY_EPOCHS = (20, 40, 70)
PAPER_BATCH_SIZE = 64


PRECISIONS = ("float32", "mixed_bfloat16")


@contextlib.contextmanager
def precision_policy(name):
    """Within the block, networks built (or loaded) compute in ``name``: ``"float32"``, or
    ``"mixed_bfloat16"`` (bfloat16 compute, float32 weights and logits); the earlier policy after it.
    A network saved under either loads as float32 elsewhere (our configs name no dtype)."""
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r} is not one of {PRECISIONS}")
    earlier = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(earlier)


def paper_optimizer(learning_rate=PAPER_LEARNING_RATE, weight_decay=PAPER_WEIGHT_DECAY, weight_average=None):
    """Adam with the paper's learning rate and weight decay.

    ``weight_average``: a momentum in (0, 1) (for example 0.99) to keep an exponential moving average
    of the trainable weights, updated after every step (Keras' ``use_ema``); ``SelectOnValidation``
    then scores and keeps the averaged weights. None: no average (the paper's).
    """
    if weight_average is not None and not 0 < weight_average < 1:
        raise ValueError(f"weight_average must lie in (0, 1) or be None, not {weight_average}")
    average = {"use_ema": True, "ema_momentum": weight_average} if weight_average is not None else {}
    return keras.optimizers.Adam(learning_rate=learning_rate, weight_decay=weight_decay, **average)


def step_decay(initial=PAPER_LEARNING_RATE, epochs=PAPER_DECAY_EPOCHS, factor=0.1):
    """Callback: learning rate ``initial * factor ** (number of boundaries passed)`` per epoch."""
    return keras.callbacks.LearningRateScheduler(lambda epoch: initial * factor ** sum(epoch >= e for e in epochs))


def cosine_rate(epoch, epochs, initial=PAPER_LEARNING_RATE, warmup=None):
    """The learning rate of ``epoch`` (0-based) in a run of ``epochs``: a linear warm-up over
    ``warmup`` epochs (default: a twentieth of the run, rounded half up; none in runs under 10
    epochs) to ``initial``, then half a cosine from ``initial`` towards 0 at the end of the last epoch."""
    warmup = int(epochs / 20 + 0.5) if warmup is None else warmup
    if epoch < warmup:
        return initial * (epoch + 1) / (warmup + 1)
    return initial * 0.5 * (1 + np.cos(np.pi * (epoch - warmup) / max(1, epochs - warmup)))


def cosine_decay(initial, epochs, warmup=None):
    """Callback: ``cosine_rate`` per epoch."""
    return keras.callbacks.LearningRateScheduler(lambda epoch: float(cosine_rate(epoch, epochs, initial, warmup)))


def network_input(network, inputs, view):
    """The part of a pipeline batch dict that ``network`` reads: ``inputs[view]`` (+ demographics)."""
    return (inputs[view], inputs["demographics"]) if network.demographics else inputs[view]


def predict_probabilities(network, dataset, view="student", multilabel=True):
    """Run ``network`` over pipeline batches ``({view: ..., ["record": ...]}, labels)``.

    Sliding-window batches (with ``"record"``) are averaged per record.

    Returns:
        ``(probabilities (N, K), labels (N, K))``: sigmoid of the logits for multi-label tasks,
        softmax otherwise; one row per record.
    """
    activation = tf.sigmoid if multilabel else tf.nn.softmax
    probabilities, labels, records = [], [], []
    for inputs, batch_labels in dataset:
        probabilities.append(activation(network(network_input(network, inputs, view), training=False)).numpy())
        labels.append(batch_labels.numpy())
        if "record" in inputs:
            records.append(inputs["record"].numpy())
    probabilities, labels = np.concatenate(probabilities), np.concatenate(labels)
    if records:
        records = np.concatenate(records)
        _, probabilities = aggregate_windows(probabilities, records)
        _, labels = aggregate_windows(labels, records)  # a record's windows share its labels (NaN stays NaN)
        labels = labels.astype(np.float32)
    return probabilities, labels


def is_challenge_vocabulary(classes):
    """True when every class is (part of) a SNOMED group of the challenge weights table and sinus rhythm is one."""
    table_classes = snomed.weights_table()[0]
    return snomed.NORMAL_CLASS in {c for name in classes for c in name.split("|")} and all(
        scoring.table_column(name, table_classes) is not None for name in classes
    )


def score(y_true, probabilities, thresholds, classes, multilabel=True):
    """All metrics of docs/design.md that apply to this task.

    Returns:
        dict: ``macro_auroc``, ``macro_ap``, ``macro_f1``; ``per_class``: ``{"auroc", "ap", "f1"}``
        each ``{class: value}`` (None where a class cannot be scored); ``challenge_metric`` for
        challenge vocabularies; ``cinc2017_f1`` and ``f1_<class>`` for CinC 2017. Multi-label tasks
        predict the classes at or above ``thresholds``; single-label tasks the class with the largest
        probability divided by its threshold (``scoring.weighted_argmax``; the arg-max when None).
    """
    predicted = (
        scoring.apply_thresholds(probabilities, thresholds)
        if multilabel
        else np.eye(len(classes), dtype=bool)[scoring.weighted_argmax(probabilities, thresholds)]
    )
    per_class = {  # each (K,), computed once for the macro means and the per-class report
        "auroc": scoring.per_class_auroc(y_true, probabilities),
        "ap": scoring.per_class_average_precision(y_true, probabilities),
        "f1": scoring.per_class_f1(y_true, predicted),
    }
    result = {
        "macro_auroc": scoring.mean_over_classes(per_class["auroc"], "macro AUROC"),
        "macro_ap": scoring.mean_over_classes(per_class["ap"], "macro AP"),
        "macro_f1": scoring.mean_over_classes(per_class["f1"]),
        "per_class": {
            name: dict(zip(classes, (float(value) if np.isfinite(value) else None for value in values)))
            for name, values in per_class.items()
        },
    }
    if multilabel and is_challenge_vocabulary(classes):
        result["challenge_metric"] = scoring.challenge_metric(y_true, predicted, classes)
    if tuple(classes) == ("N", "A", "O", "~"):
        result["cinc2017_f1"], f1_by_class = scoring.cinc2017_f1(y_true, predicted)
        result.update({f"f1_{name}": value for name, value in f1_by_class.items()})
    return result


def selection_metric(classes, multilabel=True):
    """The metric networks are selected on: ``challenge_metric`` for challenge vocabularies,
    ``cinc2017_f1`` for CinC 2017, else ``macro_auroc``."""
    if multilabel and is_challenge_vocabulary(classes):
        return "challenge_metric"
    return "cinc2017_f1" if tuple(classes) == ("N", "A", "O", "~") else "macro_auroc"


class SelectOnValidation(keras.callbacks.Callback):
    """Score the network on validation data after each epoch; keep and finally restore the best weights.

    Args:
        network: the network scored and kept (the student when training a Distiller).
        validation_data: pipeline batches in dict form (``view=None``); ``view`` picks the input.
        classes: class names; multilabel: the task type.
        metric: key of ``score`` to maximise; default ``challenge_metric`` for challenge
            vocabularies, ``cinc2017_f1`` for CinC 2017, else ``macro_auroc``.
        patience: stop training when this many epochs in a row have not beaten the best one
            (None: train every epoch).
        first_epoch: epochs before it (counted from 0) are scored and logged but never kept, for
            example those of a pruning ramp before the target sparsity is reached.
    With ``state_dir`` the best epoch is also kept on disk, and a fit started again (after a kill,
    with ``keras.callbacks.BackupAndRestore``) takes it up.
    When the fit's optimizer averages the weights (``paper_optimizer(weight_average=...)``), each epoch
    is scored, and the best one kept, with the averaged trainable weights (batch-normalisation
    statistics stay the network's own); training goes on from the weights it had.
    Each epoch is scored under its own decision rule tuned on validation (``tune_decision_rule``), the
    rule an exported file ships with. After training, ``best_score``, ``best_epoch`` and ``thresholds``
    (of the best epoch) are set; each epoch's score is logged as ``val_<metric>``.
    """

    def __init__(
        self,
        network,
        validation_data,
        classes,
        multilabel=True,
        metric=None,
        view="student",
        state_dir=None,
        patience=None,
        first_epoch=0,
    ):
        super().__init__()
        self.network, self.validation_data, self.classes, self.multilabel, self.view = (
            network,
            validation_data,
            tuple(classes),
            multilabel,
            view,
        )
        self.metric = metric or selection_metric(classes, multilabel)
        self.best_score, self.best_epoch, self.best_weights, self.thresholds = -np.inf, None, None, None
        self.state_dir, self.patience, self.last_epoch, self.first_epoch = state_dir, patience, None, first_epoch

    def on_train_begin(self, logs=None):
        """With ``state_dir``, take up the best epoch an interrupted fit recorded there."""
        state = self.state_dir and os.path.join(self.state_dir, "selection.json")
        if state and os.path.exists(state):
            with open(state) as handle:
                saved = json.load(handle)
            with np.load(os.path.join(self.state_dir, "best.npz")) as weights:
                self.best_weights = [weights[f"w{i}"] for i in range(len(weights.files))]
            self.best_score, self.best_epoch = saved["best_score"], saved["best_epoch"]
            self.thresholds = None if saved["thresholds"] is None else np.asarray(saved["thresholds"])

    def save_state(self):
        """Write the best epoch's weights and score to ``state_dir`` (atomically)."""
        buffer = io.BytesIO()
        np.savez(buffer, **{f"w{i}": w for i, w in enumerate(self.best_weights)})
        atomic_write(os.path.join(self.state_dir, "best.npz"), buffer.getvalue())
        thresholds = None if self.thresholds is None else [float(t) for t in self.thresholds]
        atomic_write(
            os.path.join(self.state_dir, "selection.json"),
            json.dumps({"best_score": self.best_score, "best_epoch": self.best_epoch, "thresholds": thresholds}),
        )

    @contextlib.contextmanager
    def scored_weights(self):
        """Within the block the network holds the weights an epoch is scored with: the optimizer's
        moving average of its trainable weights when it keeps one, else its own."""
        optimizer = getattr(self.model, "optimizer", None)
        if not getattr(optimizer, "use_ema", False):
            yield
            return
        trained = self.network.get_weights()
        optimizer.finalize_variable_values(self.network.trainable_variables)
        try:
            yield
        finally:
            self.network.set_weights(trained)

    def on_epoch_end(self, epoch, logs=None):
        self.last_epoch = epoch  # absolute: a fit resumed by BackupAndRestore continues the count
        with self.scored_weights():
            probabilities, labels = predict_probabilities(
                self.network, self.validation_data, self.view, self.multilabel
            )
            thresholds = tune_decision_rule(labels, probabilities, self.classes, self.multilabel)
            value = score(labels, probabilities, thresholds, self.classes, self.multilabel)[self.metric]
            if epoch >= self.first_epoch and np.isfinite(value) and value > self.best_score:
                self.best_score, self.best_epoch, self.thresholds = float(value), epoch, thresholds
                self.best_weights = self.network.get_weights()
                if self.state_dir:
                    self.save_state()
        if logs is not None:
            logs[f"val_{self.metric}"] = value
        if self.patience is not None and self.best_epoch is not None and epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.network.set_weights(self.best_weights)


def evaluate_on_splits(network, validation_data, test_data, classes, multilabel=True, view="student"):
    """Tune the decision rule on validation (``tune_decision_rule``) and score validation and test with it.

    Returns:
        ``{"validation": score, "test": score, "thresholds": list of K floats}``.
    """
    validation = predict_probabilities(network, validation_data, view, multilabel)
    return scores_on_splits(
        validation, predict_probabilities(network, test_data, view, multilabel), classes, multilabel
    )


def tune_decision_rule(labels, probabilities, classes, multilabel=True):
    """Thresholds (K,) tuned on validation: per class for F1 (multi-label), or the divisors of
    ``scoring.weighted_argmax`` for the selection metric (single-label: CinC 2017 F1, else macro F1)."""
    if multilabel:
        return scoring.tune_thresholds(labels, probabilities)
    if selection_metric(classes, multilabel) == "cinc2017_f1":
        return scoring.tune_single_label_thresholds(labels, probabilities, lambda t, p: scoring.cinc2017_f1(t, p)[0])
    return scoring.tune_single_label_thresholds(labels, probabilities, scoring.macro_f1)


def scores_on_splits(validation, test, classes, multilabel=True):
    """``evaluate_on_splits`` from predictions made already: ``validation`` and ``test`` are each
    ``((N, K) probabilities, (N, K) labels)``."""
    (val_probabilities, val_labels), (test_probabilities, test_labels) = validation, test
    thresholds = tune_decision_rule(val_labels, val_probabilities, classes, multilabel)
    return {
        "validation": score(val_labels, val_probabilities, thresholds, classes, multilabel),
        "test": score(test_labels, test_probabilities, thresholds, classes, multilabel),
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
    }


def evaluate_on_test(network, validation_data, test_data, classes, multilabel=True, view="student"):
    """Tune thresholds on validation, apply them to test, and return ``score`` on test."""
    return evaluate_on_splits(network, validation_data, test_data, classes, multilabel, view)["test"]
