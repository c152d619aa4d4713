"""Deployment of the two students on CinC 2017: float, pruned, PTQ-int8 and QAT-int8 compared.

    TF_NUM_INTRAOP_THREADS=1 python -m benchmarks.deployment --data ../shared/data/cinc2017/training2017 \
        --out benchmarks/results/deployment_cinc2017.json

Split: stratified 80/10/10 (seed 0), lead I at 100 Hz, 15 s windows; test records are scored on
sliding windows averaged per record. A width-0.25 SE-ResNet teacher is trained first and reported
in Keras and as float32 and int8 TFLite. Then, for each student:
- lrhnet: LRH-Net distilled with softmax KD (T = 7, T^2 scaling, weight 0.7, supervised 0.3);
- liteheart: the LiteHeart student distilled with the same KD plus region-aware feature distillation
  (weight 1) and cross-layer mutual information (weight 0.1), our defaults, not tuned.
Variants: the float student in Keras and as float32 / float16 / dynamic-range / int8 (post-training)
TFLite, int8 both with the converter's min/max ranges and with the ranges ``lrhnet.calibration``
chooses on the validation windows; a 50 %-pruned student (Keras, float32 TFLite) fine-tuned with
its distillation terms on;
QAT-int8 from the float student and pruning-preserving QAT-int8 from the pruned one (fine-tuned with
the KD term: the quantized graph exposes logits only). For each: CinC 2017 F1 and macro AUROC on the
test split, file size (raw and gzip), median single-thread latency per 15 s window; for int8 the
loss of CinC 2017 F1 against the float Keras student.
"""

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from benchmarks.provenance import provenance  # noqa: E402
from benchmarks.settings import cinc2017_split  # noqa: E402
from data_utils.pipeline import ECGPipeline  # noqa: E402
from liteheart import CrossLayerMutualInformation, LiteHeartStudent, RegionAwareDistillation  # noqa: E402
from lrhnet import LogitDistillation, LRHNet, SEResNet1D  # noqa: E402
from lrhnet.calibration import representative_samples, stacked_inputs  # noqa: E402
from lrhnet.compress import UpdatePruningStep, kernel_sparsity, prune_layers, strip_pruning  # noqa: E402
from lrhnet.efficiency import (  # noqa: E402
    file_sizes,
    keras_latency_ms,
    multiply_accumulates,
    tflite_latency_ms,
    trainable_parameters,
)
from lrhnet.export import export_tflite, parity_report  # noqa: E402
from lrhnet.recipes import fit_network  # noqa: E402
from lrhnet.saving import load_network  # noqa: E402
from lrhnet.training import evaluate_on_test  # noqa: E402
from lrhnet.twin import GraphNetwork, quantize_twin, student_twin  # noqa: E402

KD = {"mode": "softmax", "scale_t2": True, "temperature": 7.0}
METRICS = ("cinc2017_f1", "macro_auroc")
STUDENTS = {
    "lrhnet": (lambda k: LRHNet(1, k), lambda: [LogitDistillation(0.7, **KD)]),
    "liteheart": (
        lambda k: LiteHeartStudent(k),
        lambda: [
            LogitDistillation(0.7, **KD),
            RegionAwareDistillation(1.0, multilabel=False),
            CrossLayerMutualInformation(0.1),
        ],
    ),
}


class Bench:
    """The shared split, teacher and test sets, and the results being gathered."""

    def __init__(self, args):
        dataset, cache, self.split = cinc2017_split(args.data, args.quick)
        self.pipeline = ECGPipeline(cache, "I", "I", window_seconds=15)
        self.window, self.classes = self.pipeline.window, cache.classes
        self.validation, self.test = (
            self.pipeline.evaluate(self.split[name], crop="sliding") for name in ("validation", "test")
        )
        self.folder = tempfile.mkdtemp(prefix="deployment-")
        self.sidecar = {
            "classes": list(self.classes),
            "leads": ["I"],
            "fs": 100,
            "preprocessing": cache.meta["preprocessing"],
            "multilabel": False,
        }
        train = self.pipeline.train(self.split["train"][:256], 64, seed=1, view="student")
        self.representative = representative_samples(train)
        self.held_out = stacked_inputs(self.pipeline.evaluate(self.split["validation"], crop="sliding", view="student"))
        self.result = {
            **provenance(),
            "split": {name: [dataset.record_ids[i] for i in index] for name, index in self.split.items()},
            "students": {},
        }
        self.teacher = None

    def fit(self, network, epochs, learning_rate, terms, callbacks=()):
        """Distil ``network`` from the teacher with ``terms``, selecting on validation."""
        return fit_network(
            network,
            self.pipeline,
            self.split,
            self.classes,
            epochs=epochs,
            multilabel=False,
            teachers=[self.teacher],
            terms=terms,
            supervised_weight=0.3,
            learning_rate=learning_rate,
            callbacks=callbacks,
        )

    def score(self, network):
        return evaluate_on_test(network, self.validation, self.test, self.classes, False)

    def export(self, network, filename, kind, chosen_ranges=False):
        """Export to ``filename`` in the scratch folder; returns the path and the TFLite parity report.
        ``chosen_ranges``: post-training int8 with the activation ranges chosen on validation windows."""
        path = os.path.join(self.folder, filename)
        export_tflite(
            network,
            path,
            kind,
            window=self.window,
            representative=self.representative,
            held_out=self.held_out if chosen_ranges else None,
            **self.sidecar,
        )
        return path, parity_report(network, path, self.validation, self.test, self.classes, multilabel=False)

    def train_teacher(self, epochs):
        self.teacher = SEResNet1D(1, len(self.classes), width=0.25, name="teacher")
        fitted = fit_network(self.teacher, self.pipeline, self.split, self.classes, epochs=epochs, multilabel=False)
        entry = {
            "params": trainable_parameters(self.teacher),
            "macs": multiply_accumulates(self.teacher, self.window),
            "best_epoch": fitted["best_epoch"],
            "test": self.score(self.teacher),
            "keras_latency_ms": keras_latency_ms(self.teacher, self.window),
            "tflite": {},
        }
        for kind in ("float32", "int8"):
            path, report = self.export(self.teacher, f"teacher_{kind}.tflite", kind)
            entry["tflite"][kind] = {
                **file_sizes(path),
                "tflite_latency_ms": tflite_latency_ms(path),
                "test": report["tflite"],
            }
        self.result["teacher"] = entry

    def deploy(self, name, build, terms, args):
        """Train student ``name`` and score its float, pruned and int8 variants."""
        variants = []
        self.result["students"][name] = {"variants": variants}

        def add(variant, metrics, path=None, network=None, **extra):
            entry = {"variant": variant, "test": {m: metrics[m] for m in METRICS}, **extra}
            if path:
                entry.update(file_sizes(path), tflite_latency_ms=tflite_latency_ms(path))
            if network is not None and not isinstance(network, GraphNetwork):
                entry["keras_latency_ms"] = keras_latency_ms(network, self.window)
            if "int8" in variant:
                entry["loss_vs_float"] = float_f1 - entry["test"]["cinc2017_f1"]
            variants.append(entry)
            print(json.dumps({"student": name, **entry}), flush=True)

        student = build(len(self.classes))
        self.fit(student, args.student_epochs, 3e-3, terms())
        float_metrics = self.score(student)
        float_f1 = float_metrics["cinc2017_f1"]
        self.result["students"][name].update(
            params=trainable_parameters(student), macs=multiply_accumulates(student, self.window)
        )
        add("keras float32", float_metrics, network=student)
        student_path = os.path.join(self.folder, f"{name}.keras")
        student.save(student_path)
        for kind in ("float32", "float16", "dynamic", "int8"):
            path, report = self.export(student, f"{name}_{kind}.tflite", kind)
            add(
                f"tflite {kind}" + (" (post-training, converter min/max ranges)" if kind == "int8" else ""),
                report["tflite"],
                path,
            )
        path, report = self.export(student, f"{name}_int8_chosen.tflite", "int8", chosen_ranges=True)
        with open(path + ".json") as handle:
            calibration = json.load(handle)["int8_calibration"]
        add("tflite int8 (post-training, ranges chosen on validation)", report["tflite"], path, calibration=calibration)

        pruned = load_network(student_path)
        steps_per_epoch = int(np.ceil(len(self.split["train"]) / 64))
        prune_layers(pruned, args.sparsity, end_step=steps_per_epoch, frequency=max(1, steps_per_epoch // 10))
        self.fit(pruned, args.finetune_epochs, 1e-3, terms(), callbacks=[UpdatePruningStep()])
        strip_pruning(pruned)
        add("keras pruned float32", self.score(pruned), network=pruned, sparsity=kernel_sparsity(pruned)[0])
        path, report = self.export(pruned, f"{name}_pruned_float32.tflite", "float32")
        add("tflite pruned float32", report["tflite"], path)

        for variant, source, preserve in (
            ("tflite QAT int8", student, False),
            ("tflite pruned + QAT int8", pruned, True),
        ):
            qat = GraphNetwork(
                quantize_twin(student_twin(source, self.window), preserve_sparsity=preserve),
                1,
                len(self.classes),
                name="qat",
            )
            self.fit(qat, args.finetune_epochs, 1e-4, [LogitDistillation(0.7, **KD)])
            path, report = self.export(qat, f"{name}_{'pruned_' if preserve else ''}qat_int8.tflite", "int8")
            add(variant, report["tflite"], path, keras_qat=report["keras"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--students", nargs="+", choices=sorted(STUDENTS), default=sorted(STUDENTS))
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--student-epochs", type=int, default=10)
    parser.add_argument(
        "--finetune-epochs", type=int, default=4, help="pruning and QAT fine-tuning epochs (default: 4)"
    )
    parser.add_argument("--sparsity", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true", help="small subset, 1 epoch each: checks the script")
    args = parser.parse_args()
    if args.quick:
        args.teacher_epochs = args.student_epochs = args.finetune_epochs = 1
    started = time.time()
    bench = Bench(args)
    bench.train_teacher(args.teacher_epochs)
    for name in args.students:
        bench.deploy(name, *STUDENTS[name], args)
        bench.result["total_seconds"] = round(time.time() - started, 1)
        with open(args.out + ".tmp", "w") as handle:
            json.dump(bench.result, handle, indent=1)
        os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
