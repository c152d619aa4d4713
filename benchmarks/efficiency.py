"""Size and speed of every network of the results tables' settings (docs/results.md), at each setting's input shape.

    TF_NUM_INTRAOP_THREADS=1 python -m benchmarks.efficiency --out benchmarks/results/efficiency.json

For each setting (CinC 2017: 15 s at 100 Hz, 4 classes; LUDB: 8 s, 12 leads, 9 classes;
synthetic: 10 s, 12 leads, 12 classes) and each network the benchmarks train there: trainable
parameters, multiply-accumulates per window, median single-thread Keras latency, and the size
and median single-thread latency of float32 and int8 TFLite files. Weights are untrained (size
and speed do not depend on their values); int8 is calibrated on random windows.
``--quick`` measures 5 repeats instead of 50.
"""

import argparse
import json
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from benchmarks.provenance import provenance  # noqa: E402
from liteheart import LiteHeartStudent  # noqa: E402
from lrhnet import LRHNet, SEResNet1D  # noqa: E402
from lrhnet.efficiency import (  # noqa: E402
    file_sizes,
    keras_latency_ms,
    multiply_accumulates,
    tflite_latency_ms,
    trainable_parameters,
)
from lrhnet.export import export_tflite  # noqa: E402

SETTINGS = {
    "cinc2017": (
        1500,
        4,
        {
            "teacher (SE-ResNet, width 0.5)": lambda k: SEResNet1D(1, k, width=0.5),
            "teacher (SE-ResNet, width 0.25)": lambda k: SEResNet1D(1, k, width=0.25),
            "LRH-Net (lead I)": lambda k: LRHNet(1, k),
            "LiteHeart student (lead I)": lambda k: LiteHeartStudent(k),
        },
    ),
    "ludb": (
        800,
        9,
        {
            "teacher (SE-ResNet, width 0.25, 12 leads)": lambda k: SEResNet1D(12, k, width=0.25),
            "LRH-Net (lead I)": lambda k: LRHNet(1, k),
            "LRH-Net (I, II)": lambda k: LRHNet(2, k),
            "LRH-Net (I, II, V2)": lambda k: LRHNet(3, k),
            "LiteHeart student (lead I)": lambda k: LiteHeartStudent(k),
        },
    ),
    "synthetic": (
        1000,
        12,
        {
            "teacher (SE-ResNet, width 0.25, 12 leads)": lambda k: SEResNet1D(12, k, width=0.25),
            "LRH-Net (lead I)": lambda k: LRHNet(1, k),
            "LiteHeart student (lead I)": lambda k: LiteHeartStudent(k),
        },
    ),
}


def measure(network, window, folder, repeats):
    """The efficiency figures of one network."""
    network(network.example_inputs(window))  # builds the weights
    rng = np.random.default_rng(0)
    representative = [[rng.normal(size=(1, window, network.num_leads)).astype(np.float32)] for _ in range(16)]
    entry = {
        "params": trainable_parameters(network),
        "macs": multiply_accumulates(network, window),
        "keras_latency_ms": keras_latency_ms(network, window, repeats),
    }
    for kind in ("float32", "int8"):
        path = os.path.join(folder, f"{network.name}_{kind}.tflite")
        export_tflite(
            network,
            path,
            kind,
            window=window,
            representative=representative,
            classes=[str(i) for i in range(network.num_classes)],
            leads=[str(i) for i in range(network.num_leads)],
            fs=100,
            preprocessing={},
        )
        entry[kind] = {**file_sizes(path), "latency_ms": tflite_latency_ms(path, repeats)}
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="5 latency repeats: checks the script")
    args = parser.parse_args()
    repeats = 5 if args.quick else 50
    result = {**provenance(), "repeats": repeats, "settings": {}}
    with tempfile.TemporaryDirectory() as folder:
        for setting, (window, classes, networks) in SETTINGS.items():
            result["settings"][setting] = {"window": window, "classes": classes, "networks": {}}
            for name, build in networks.items():
                entry = measure(build(classes), window, folder, repeats)
                result["settings"][setting]["networks"][name] = entry
                print(json.dumps({"setting": setting, "network": name, **entry}), flush=True)
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
