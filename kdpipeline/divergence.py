"""Stop a training stage loudly when its loss stops being a number."""

import math

import tf_keras as keras


class NaNLoss(RuntimeError):
    """Training produced a NaN or infinite loss."""


class StopOnNaN(keras.callbacks.Callback):
    """Raise ``NaNLoss`` naming the stage as soon as a batch's loss is not finite."""

    def __init__(self, stage):
        super().__init__()
        self.stage = stage

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NaNLoss(
                f"the loss became {float(loss)} in stage {self.stage!r} at batch {batch}; lower the learning rate "
                "or check the data"
            )
