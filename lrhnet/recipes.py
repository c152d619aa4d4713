"""Train-and-score recipes shared by ``train.py`` and the benchmarks.

Every network is trained through a ``Distiller`` (with no teacher for plain supervised training),
with the paper's optimizer, a learning-rate schedule (the paper's step decay scaled to the run's
length, or a cosine with warm-up) and, optionally, early stopping; the weights of the best
validation epoch are restored.
"""

import os
import shutil

import tf_keras as keras

from lrhnet.distiller import Distiller
from lrhnet.training import (
    PAPER_DECAY_EPOCHS,
    PAPER_LEARNING_RATE,
    SelectOnValidation,
    cosine_decay,
    evaluate_on_test,
    paper_optimizer,
    step_decay,
)

PAPER_EPOCHS = 90
SCHEDULES = ("paper", "cosine")


def scaled_decay_epochs(epochs):
    """The paper's decay epochs (20/40/70 of 90) scaled to a run of ``epochs``."""
    return tuple(sorted({max(1, round(boundary * epochs / PAPER_EPOCHS)) for boundary in PAPER_DECAY_EPOCHS}))


def fit_network(
    network,
    pipeline,
    split,
    classes,
    *,
    epochs,
    seed=0,
    view="student",
    teachers=(),
    terms=(),
    teacher_views=None,
    supervised_weight=1.0,
    multilabel=True,
    batch_size=64,
    learning_rate=PAPER_LEARNING_RATE,
    callbacks=(),
    verbose=0,
    train_data=None,
    distiller_class=Distiller,
    distiller_options=None,
    backup_dir=None,
    schedule="paper",
    patience=None,
    weight_average=None,
    select_from=0,
):
    """Train ``network`` on ``pipeline`` rows ``split["train"]``, selecting on ``split["validation"]``.

    Args:
        view: the input the network reads (``"teacher"`` or ``"student"``).
        teachers, terms, teacher_views: as for ``Distiller``; empty for supervised training.
        supervised_weight: weight of the supervised loss (the paper's alpha when distilling).
        callbacks: more Keras callbacks (``lrhnet.compress.UpdatePruningStep`` when pruning).
        train_data: batches to train on instead of ``pipeline.train(split["train"])`` (for
            example ``pipeline.semi_supervised(...)``).
        distiller_class, distiller_options: the ``Distiller`` (sub)class and its extra arguments
            (``liteheart.semi_supervised.SemiSupervisedDistiller``, ``{"ema_decay": 0.99}``).
        backup_dir: a folder for end-of-epoch backups (``keras.callbacks.BackupAndRestore`` and
            the best epoch): a fit killed at any point and started again with the same arguments
            continues from its last completed epoch. The folder is removed when the fit ends.
        schedule: ``"paper"``, LRH-Net's step decay (x0.1 at epochs 20/40/70 of 90, scaled to
            ``epochs``), or ``"cosine"``, a linear warm-up then half a cosine (``cosine_rate``).
        patience: stop after this many epochs without a better validation score (None: never).
        weight_average: the momentum of a moving average of the weights, which is what each epoch
            is scored and kept with (``paper_optimizer``); None: the weights themselves.
        select_from: the first epoch (from 0) that may be kept; earlier ones are only scored.
    Returns:
        dict: ``best_epoch``, ``best_validation`` (the selection metric), ``metric``, ``history``,
        ``epochs_run`` (fewer than ``epochs`` when stopped early).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"`schedule` must be one of {SCHEDULES}. Received: schedule={schedule!r}")
    keras.utils.set_random_seed(seed)
    distiller = distiller_class(
        network, list(teachers), list(terms), teacher_views, student_view=view, **(distiller_options or {})
    )
    distiller.compile(
        optimizer=paper_optimizer(learning_rate, weight_average=weight_average),
        supervised_weight=supervised_weight,
        multilabel=multilabel,
    )
    selector = SelectOnValidation(
        network,
        pipeline.evaluate(split["validation"], batch_size, crop="sliding"),
        classes,
        multilabel,
        view=view,
        state_dir=backup_dir,
        patience=patience,
        first_epoch=select_from,
    )
    rate = (
        step_decay(learning_rate, scaled_decay_epochs(epochs))
        if schedule == "paper"
        else cosine_decay(learning_rate, epochs)
    )
    callbacks = [rate, *callbacks, selector]
    if backup_dir:
        callbacks.insert(0, keras.callbacks.BackupAndRestore(os.path.join(backup_dir, "keras")))
        batch = next(iter(train_data if train_data is not None else pipeline.train(split["train"], batch_size, seed)))
        distiller(batch[0])
        distiller.distribute_strategy.run(
            distiller.test_step, args=(batch,)
        )  # every variable (term heads, adapters) exists before a backup is restored
    train_data = pipeline.train(split["train"], batch_size, seed) if train_data is None else train_data
    history = distiller.fit(train_data, epochs=epochs, callbacks=callbacks, verbose=verbose)
    if backup_dir:
        shutil.rmtree(backup_dir, ignore_errors=True)
    return {
        "best_epoch": selector.best_epoch,
        "best_validation": selector.best_score,
        "metric": selector.metric,
        "history": {key: [float(v) for v in values] for key, values in history.history.items()},
        "epochs_run": 0 if selector.last_epoch is None else selector.last_epoch + 1,
    }


def score_on_test(network, pipeline, split, classes, *, view="student", multilabel=True, batch_size=64):
    """Metrics on ``split["test"]`` (sliding windows averaged per record), thresholds tuned on validation."""
    validation = pipeline.evaluate(split["validation"], batch_size, crop="sliding")
    test = pipeline.evaluate(split["test"], batch_size, crop="sliding")
    return evaluate_on_test(network, validation, test, classes, multilabel, view)
