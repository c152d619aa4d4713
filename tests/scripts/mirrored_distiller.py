"""Fit a Distiller under MirroredStrategy over two logical CPUs and print a JSON summary.

Run by tests/test_distiller.py in a subprocess: logical devices must be set before TensorFlow starts.
"""

import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import tf_keras as keras  # noqa: E402

from lrhnet import Distiller, LogitDistillation  # noqa: E402
from lrhnet.networks import ECGNetwork  # noqa: E402


class TinyNet(ECGNetwork):
    """Conv - pool - dense without batch normalisation, whose per-replica statistics would differ."""

    def __init__(self, num_leads, num_classes, **kwargs):
        super().__init__(num_leads, num_classes, **kwargs)
        self.conv = keras.layers.Conv1D(4, 5, activation="tanh")
        self.classifier = keras.layers.Dense(num_classes)

    def forward(self, inputs, training=None):
        signal, demo = self.split_inputs(inputs)
        features = self.conv(signal)
        return self.classifier(self.pooled_head_input(features, demo)), [features]


def build(strategy, weights=None):
    """Teacher and student under ``strategy``; with ``weights``, both start from those values."""
    with strategy.scope():
        teacher, student = TinyNet(2, 3, name="teacher"), TinyNet(1, 3, name="student")
        teacher.trainable = False  # as the Distiller sets it; fixes the order of get_weights()
        for network in (teacher, student):
            network(tf.zeros((1, 256, network.num_leads)))
        if weights:
            teacher.set_weights(weights[0])
            student.set_weights(weights[1])
        teacher.steps_trained.assign(1)  # stands for a trained teacher; silences the warning
        distiller = Distiller(student, teacher, [LogitDistillation(0.7)])
        distiller.compile(optimizer=keras.optimizers.SGD(0.5))
    return teacher, student, distiller


def fit(strategy, weights, data):
    _, student, distiller = build(strategy, weights)
    history = distiller.fit(data, epochs=2, verbose=0).history
    return [w.numpy() for w in student.trainable_weights], history["loss"], int(student.steps_trained.numpy())


keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(32, 256, 2)).astype("float32")
y = (rng.random((32, 3)) < 0.4).astype("float32")
y[np.arange(32) % 16 >= 4] = np.nan  # each batch of 16: 4 labelled rows first, all in the first replica's half
data = tf.data.Dataset.from_tensor_slices(({"teacher": x, "student": x[:, :, :1]}, y)).batch(16)
teacher, student, _ = build(tf.distribute.get_strategy())
start = (teacher.get_weights(), student.get_weights())
initial = [w.numpy() for w in student.trainable_weights]

mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
mirrored_weights, mirrored_losses, mirrored_steps = fit(mirrored, start, data)
single_weights, single_losses, _ = fit(tf.distribute.get_strategy(), start, data)
moved = max(float(np.abs(a - b).max()) for a, b in zip(single_weights, initial))
difference = max(float(np.abs(a - b).max()) for a, b in zip(single_weights, mirrored_weights))
print(
    json.dumps(
        {
            "replicas": mirrored.num_replicas_in_sync,
            "mirrored_losses": mirrored_losses,
            "single_losses": single_losses,
            "mirrored_steps": mirrored_steps,
            "weights_moved": moved,
            "weights_difference": difference,
        }
    )
)
