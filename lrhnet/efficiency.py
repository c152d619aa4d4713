"""Size and speed of networks and TFLite files: parameters, multiply-accumulates, bytes, latency.

Latencies are medians over repeated single-record calls; run with one CPU thread
(``TF_NUM_INTRAOP_THREADS=1``) to report single-thread figures, as the benchmarks do.
"""

import gzip
import os
import time

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from lrhnet.conversion import concrete_function
from lrhnet.litert import TFLiteModel


def trainable_parameters(network):
    """Number of trainable weights."""
    return int(sum(np.prod(w.shape) for w in network.trainable_weights))


def multiply_accumulates(network, window):
    """Multiply-accumulates of one forward pass on a (1, window, leads) record: TF's FLOP count / 2."""
    network(network.example_inputs(window), training=False)
    frozen = convert_variables_to_constants_v2(concrete_function(network, window))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(
        graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options
    )
    return int(profile.total_float_ops // 2)


def file_sizes(path):
    """``{"bytes": size, "gzip_bytes": size after gzip -9}``; sparse weights only shrink under compression."""
    with open(path, "rb") as handle:
        content = handle.read()
    return {"bytes": os.path.getsize(path), "gzip_bytes": len(gzip.compress(content, 9))}


def median_latency_ms(call, repeats=50, warmup=5):
    """Median wall time of ``call()`` in milliseconds."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e3)


def keras_latency_ms(network, window, repeats=50):
    """Median latency of one record through the network's compiled inference function."""
    function = concrete_function(network, window)
    inputs = network.example_inputs(window)
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return median_latency_ms(lambda: function(*inputs), repeats)


def tflite_latency_ms(path, repeats=50):
    """Median latency of one record through a ``.tflite`` file with ai_edge_litert on one thread."""
    model = TFLiteModel(path, num_threads=1)
    signal = np.zeros([1, *model.inputs[0]["shape"][-2:]], np.float32)
    demographics = np.zeros((1, 5), np.float32) if len(model.inputs) > 1 else None
    return median_latency_ms(lambda: model(signal, demographics), repeats)
