"""Deployment of an LRH-Net student on CinC 2017: float, pruned, PTQ-int8 and QAT-int8 compared.

    TF_NUM_INTRAOP_THREADS=1 python benchmarks/deployment.py --data ../shared/data/cinc2017/training2017 \
        --out benchmarks/results/deployment_cinc2017.json

Split: stratified 80/10/10 (seed 0), lead I at 100 Hz, 15 s windows; test records are scored on
sliding windows averaged per record. A width-0.25 SE-ResNet teacher and an LRH-Net student
(distilled, softmax KD with T^2) are trained first; every fine-tune keeps distillation on.
The teacher is reported in Keras and as float32 and int8 TFLite.
Variants: the float student in Keras and as float32 / float16 / dynamic-range / int8 (post-training)
TFLite; a 50 %-pruned student (Keras, float32 TFLite); QAT-int8 from the float student; and
pruning-preserving QAT-int8 from the pruned one. For each: CinC 2017 F1 and macro AUROC on the
test split, file size (raw and gzip), median single-thread latency per 15 s window.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

from benchmarks.provenance import provenance  # noqa: E402
from data_utils import Preprocessing, open_dataset  # noqa: E402
from data_utils.cache import build_cache  # noqa: E402
from data_utils.pipeline import ECGPipeline  # noqa: E402
from data_utils.splits import split_indices  # noqa: E402
from lrhnet import LogitDistillation, LRHNet, SEResNet1D  # noqa: E402
from lrhnet.compress import UpdatePruningStep, kernel_sparsity, prune_layers, strip_pruning  # noqa: E402
from lrhnet.efficiency import file_sizes, keras_latency_ms, multiply_accumulates, tflite_latency_ms, trainable_parameters  # noqa: E402
from lrhnet.export import export_tflite, parity_report  # noqa: E402
from lrhnet.recipes import fit_network  # noqa: E402
from lrhnet.training import evaluate_on_test  # noqa: E402
from lrhnet.twin import GraphNetwork, lrhnet_twin, quantize_twin  # noqa: E402

KD = dict(mode="softmax", scale_t2=True, temperature=7.0)
METRICS = ("cinc2017_f1", "macro_auroc")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--student-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--sparsity", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true", help="small subset, 1 epoch each: checks the script")
    args = parser.parse_args()
    started = time.time()
    result = {**provenance(), "variants": []}
    dataset = open_dataset(args.data)
    cache = build_cache(dataset, Preprocessing(fs=100, band=(0.5, 40.0)), ("I",), progress=True)
    split = split_indices(dataset, seed=0)
    if args.quick:
        split = {name: index[: {"train": 256, "validation": 64, "test": 64}[name]] for name, index in split.items()}
        args.teacher_epochs = args.student_epochs = args.finetune_epochs = 1
    pipeline = ECGPipeline(cache, "I", "I", window_seconds=15)
    window, classes = pipeline.window, cache.classes
    validation, test = (pipeline.evaluate(split[name], crop="sliding") for name in ("validation", "test"))
    folder = tempfile.mkdtemp(prefix="deployment-")
    sidecar = dict(classes=list(classes), leads=["I"], fs=100, preprocessing=cache.meta["preprocessing"], multilabel=False)

    def fit(network, epochs, learning_rate, callbacks=()):
        """Distil from the teacher (trained below, before the first call)."""
        return fit_network(network, pipeline, split, classes, epochs=epochs, multilabel=False, teachers=[teacher], terms=[LogitDistillation(0.7, **KD)],
                           supervised_weight=0.3, learning_rate=learning_rate, callbacks=callbacks)

    def add(name, metrics, path=None, network=None, **extra):
        entry = {"variant": name, "test": {m: metrics[m] for m in METRICS}, **extra}
        if path:
            entry.update(file_sizes(path), tflite_latency_ms=tflite_latency_ms(path))
        if network is not None and not isinstance(network, GraphNetwork):
            entry["keras_latency_ms"] = keras_latency_ms(network, window)
        result["variants"].append(entry)
        print(json.dumps(entry), flush=True)

    teacher = SEResNet1D(1, len(classes), width=0.25, name="teacher")
    teacher_fit = fit_network(teacher, pipeline, split, classes, epochs=args.teacher_epochs, multilabel=False)
    result["teacher"] = {"params": trainable_parameters(teacher), "macs": multiply_accumulates(teacher, window), "best_epoch": teacher_fit["best_epoch"],
                         "test": evaluate_on_test(teacher, validation, test, classes, False), "keras_latency_ms": keras_latency_ms(teacher, window)}
    representative = [[x[i : i + 1].numpy()] for x, _ in pipeline.train(split["train"][:256], 64, seed=1, view="student") for i in range(len(x))]
    result["teacher"]["tflite"] = {}
    for kind in ("float32", "int8"):
        path = os.path.join(folder, f"teacher_{kind}.tflite")
        export_tflite(teacher, path, kind, window=window, representative=representative, **sidecar)
        result["teacher"]["tflite"][kind] = {**file_sizes(path), "tflite_latency_ms": tflite_latency_ms(path), "test": parity_report(teacher, path, validation, test, classes, multilabel=False)["tflite"]}
    student = LRHNet(1, len(classes))
    fit(student, args.student_epochs, 3e-3)
    float_metrics = evaluate_on_test(student, validation, test, classes, False)
    result["student"] = {"params": trainable_parameters(student), "macs": multiply_accumulates(student, window)}
    add("keras float32", float_metrics, network=student)
    student_path = os.path.join(folder, "student.keras")
    student.save(student_path)
    for kind in ("float32", "float16", "dynamic", "int8"):
        path = os.path.join(folder, f"student_{kind}.tflite")
        export_tflite(student, path, kind, window=window, representative=representative, **sidecar)
        report = parity_report(student, path, validation, test, classes, multilabel=False)
        add(f"tflite {kind}" + (" (post-training)" if kind == "int8" else ""), report["tflite"], path, loss_vs_float=float_metrics["cinc2017_f1"] - report["tflite"]["cinc2017_f1"])

    pruned = keras.models.load_model(student_path)
    steps_per_epoch = int(np.ceil(len(split["train"]) / 64))
    prune_layers(pruned, args.sparsity, end_step=steps_per_epoch, frequency=max(1, steps_per_epoch // 10))
    fit(pruned, args.finetune_epochs, 1e-3, callbacks=[UpdatePruningStep()])
    strip_pruning(pruned)
    path = os.path.join(folder, "student_pruned_float32.tflite")
    export_tflite(pruned, path, "float32", window=window, **sidecar)
    add("keras pruned float32", evaluate_on_test(pruned, validation, test, classes, False), network=pruned, sparsity=kernel_sparsity(pruned)[0])
    add("tflite pruned float32", parity_report(pruned, path, validation, test, classes, multilabel=False)["tflite"], path)

    for name, source, preserve in (("tflite QAT int8", student, False), ("tflite pruned + QAT int8", pruned, True)):
        qat = GraphNetwork(quantize_twin(lrhnet_twin(source, window), preserve_sparsity=preserve), 1, len(classes), name="qat")
        fit(qat, args.finetune_epochs, 1e-4)
        path = os.path.join(folder, name.replace(" ", "_").replace("+", "").replace("__", "_") + ".tflite")
        export_tflite(qat, path, "int8", window=window, **sidecar)
        report = parity_report(qat, path, validation, test, classes, multilabel=False)
        add(name, report["tflite"], path, keras_qat=report["keras"], loss_vs_float=float_metrics["cinc2017_f1"] - report["tflite"]["cinc2017_f1"])
    result["total_seconds"] = round(time.time() - started, 1)
    with open(args.out + ".tmp", "w") as handle:
        json.dump(result, handle, indent=1)
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
