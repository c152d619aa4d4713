"""The prune, quantize and export stages of ``train.py``.

The student they start from is the best distilled one the run has (``DEPLOYED_ORDER``): the
LiteHeart student, else the MLKD student, else the KD student, else the student alone. Fine-tuning
keeps logit distillation from the teacher on.
"""

import os

import numpy as np

from kdpipeline.divergence import StopOnNaN
from kdpipeline.stages import kd_mode, train_and_record
from lrhnet.efficiency import trainable_parameters
from lrhnet.recipes import fit_network, score_on_test

DEPLOYED_ORDER = ("liteheart", "student_mlkd", "student_kd", "student")


def deployed_name(ctx):
    """The name of the float student to compress: the first of ``DEPLOYED_ORDER`` the run has saved."""
    for name in DEPLOYED_ORDER:
        if os.path.exists(ctx.run.model_path(name)):
            return name
    raise SystemExit("train.py: error: no trained student in the run folder: run the student or distill stage first")


def kd_terms(ctx):
    from lrhnet import LogitDistillation

    return [LogitDistillation(max(ctx.args.kd_weight, 0.1), ctx.args.temperature, kd_mode(ctx), scale_t2=True)]


def prune_stage(ctx):
    """Magnitude-prune the deployed student to ``--sparsity`` over half the epochs, distilling, then strip."""
    from lrhnet.compress import UpdatePruningStep, kernel_sparsity, prune_layers, strip_pruning

    args = ctx.args
    source_name = deployed_name(ctx)
    student = ctx.run.load_model(source_name)
    steps = max(1, int(np.ceil(len(ctx.labeled) / args.batch_size))) * max(1, args.epochs // 2)
    prune_layers(student, args.sparsity, end_step=steps)
    entry = train_and_record(ctx, student, "student_pruned_wrapped", teachers=[ctx.run.load_model("teacher")], terms=kd_terms(ctx),
                             supervised_weight=args.supervised_weight, callbacks=[UpdatePruningStep()], learning_rate=1e-3)
    strip_pruning(student)
    ctx.run.save_model(student, "student_pruned")
    os.remove(ctx.run.model_path("student_pruned_wrapped"))
    entry["sparsity"] = kernel_sparsity(student)[0]
    entry["from"] = source_name
    return {"student_pruned": entry}


def representative_windows(ctx, count=256):
    """Calibration inputs for int8 conversion: ``count`` student windows from the training split."""
    from lrhnet.calibration import representative_samples

    return representative_samples(ctx.pipeline.train(ctx.split["train"][:count], ctx.args.batch_size, ctx.args.seed, view="student"))


def sidecar_fields(ctx, network):
    from data_utils.scoring import tune_thresholds
    from lrhnet.training import predict_probabilities

    thresholds = None
    if ctx.multilabel:
        probabilities, labels = predict_probabilities(network, ctx.pipeline.evaluate(ctx.split["validation"], crop="sliding"), "student")
        thresholds = tune_thresholds(labels, probabilities)
    return {"classes": list(ctx.classes), "leads": list(ctx.args.student_leads), "fs": ctx.args.fs, "preprocessing": ctx.cache.meta["preprocessing"],
            "thresholds": thresholds, "multilabel": ctx.multilabel}


def exported(ctx, network, filename, kind, reference=None):
    """Export ``network`` to ``exports/filename`` and score the file on the test split: an ``exports`` entry.
    Post-training int8 takes the activation ranges that agree best with the float network on the
    validation windows (``lrhnet.calibration``)."""
    from lrhnet.calibration import stacked_inputs
    from lrhnet.efficiency import file_sizes, tflite_latency_ms
    from lrhnet.export import export_tflite, parity_report

    path = ctx.run.path("exports", filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    calibration = {}
    if kind == "int8":
        validation = ctx.pipeline.evaluate(ctx.split["validation"], crop="sliding", view="student")
        calibration = {"representative": representative_windows(ctx), "held_out": stacked_inputs(validation)}
    size = export_tflite(network, path, kind, window=ctx.pipeline.window, **calibration, **sidecar_fields(ctx, reference or network))
    validation, test = (ctx.pipeline.evaluate(ctx.split[name], crop="sliding") for name in ("validation", "test"))
    report = parity_report(network, path, validation, test, ctx.classes, multilabel=ctx.multilabel)
    entry = {"file": os.path.relpath(path, ctx.run.root), "kind": kind, "bytes": size, "gzip_bytes": file_sizes(path)["gzip_bytes"],
             "tflite_latency_ms": tflite_latency_ms(path), "test": report["tflite"], "keras_test": report["keras"]}
    if not ctx.multilabel:
        entry["confusion"] = test_confusion(ctx, path, test)
    return entry


def test_confusion(ctx, tflite_path, test):
    """Single-label test confusion matrix of an exported file: ``{"classes", "counts"}`` (rows true, columns predicted)."""
    from data_utils.scoring import confusion_counts
    from lrhnet.export import TFLiteNetwork
    from lrhnet.training import predict_probabilities

    probabilities, labels = predict_probabilities(TFLiteNetwork(tflite_path), test, "student", multilabel=False)
    return {"classes": list(ctx.classes), "counts": confusion_counts(labels, probabilities).tolist()}


def quantize_stage(ctx):
    """``--quantize qat``: quantization-aware fine-tuning of the pruned (sparsity kept) or deployed
    student, exported to int8 here; ``ptq``: the export stage converts the float student."""
    from lrhnet.twin import GraphNetwork, quantize_twin, student_twin

    args = ctx.args
    if args.quantize != "qat":
        return {}
    pruned = os.path.exists(ctx.run.model_path("student_pruned"))
    source_name = "student_pruned" if pruned else deployed_name(ctx)
    source = ctx.run.load_model(source_name)
    qat = GraphNetwork(quantize_twin(student_twin(source, ctx.pipeline.window), preserve_sparsity=pruned), source.num_leads, source.num_classes,
                       demographics=source.demographics, name="student_qat")
    fit_network(qat, ctx.pipeline, ctx.split, ctx.classes, epochs=max(1, args.epochs // 2), seed=args.seed, multilabel=ctx.multilabel, batch_size=args.batch_size,
                teachers=[ctx.run.load_model("teacher")], terms=kd_terms(ctx), supervised_weight=args.supervised_weight, learning_rate=1e-4,
                train_data=ctx.pipeline.train(ctx.labeled, args.batch_size, args.seed), callbacks=[StopOnNaN("quantize, training student_qat")], backup_dir=ctx.run.path("backup", "student_qat"))
    entry = exported(ctx, qat, "student_int8.tflite", "int8", reference=source)
    return {"student_int8": {"params": trainable_parameters(source), "leads": list(args.student_leads), "test": entry["test"], "from": source_name,
                             "quantization": "qat", "export": entry}}


def export_stage(ctx):
    """TFLite float32 of the deployed (and pruned) student, and post-training int8 when asked."""
    entries = []
    for name in (deployed_name(ctx), "student_pruned"):
        if os.path.exists(ctx.run.model_path(name)):
            entries.append(exported(ctx, ctx.run.load_model(name), f"{name}_float32.tflite", "float32"))
    models = {}
    if ctx.args.quantize == "ptq":
        network = ctx.run.load_model(deployed_name(ctx))
        entry = exported(ctx, network, "student_int8.tflite", "int8")
        entries.append(entry)
        models["student_int8"] = {"params": trainable_parameters(network), "leads": list(ctx.args.student_leads), "test": entry["test"], "quantization": "ptq"}
    elif ctx.run.done("quantize") and "student_int8" in ctx.run.output("quantize"):
        entries.append(ctx.run.output("quantize")["student_int8"]["export"])
    return {"exports": entries, **models}


def evaluate_stage(ctx):
    """Score every saved network on the test split again (thresholds tuned on validation) and draw
    the figures into ``plots/``: training curves, ROC curves of the teacher and the deployed
    student, per-class F1 (or, single-label, a confusion matrix), and for LiteHeart the region
    weights over a test record."""
    from data_utils import scoring
    from kdpipeline import plots
    from lrhnet.training import predict_probabilities

    folder = ctx.run.path("plots")
    os.makedirs(folder, exist_ok=True)
    validation, test = (ctx.pipeline.evaluate(ctx.split[name], crop="sliding") for name in ("validation", "test"))
    entries, f1_by_model = {}, {}
    for name in ("teacher", "student", "student_kd", "assistant", "student_mlkd", "liteheart", "student_pruned"):
        if not os.path.exists(ctx.run.model_path(name)):
            continue
        network = ctx.run.load_model(name)
        view = "teacher" if name == "teacher" else "student"
        entries[name] = {"params": trainable_parameters(network), "test": score_on_test(network, ctx.pipeline, ctx.split, ctx.classes, view=view, multilabel=ctx.multilabel)}
        if name in ("teacher", deployed_name(ctx)):
            probabilities, labels = predict_probabilities(network, test, view, ctx.multilabel)
            plots.roc_curves(labels, probabilities, ctx.classes, f"{name}: test ROC", os.path.join(folder, f"roc_{name}.png"))
            if ctx.multilabel:
                validation_probabilities, validation_labels = predict_probabilities(network, validation, view, ctx.multilabel)
                thresholds = scoring.tune_thresholds(validation_labels, validation_probabilities)
                f1_by_model[name] = scoring.per_class_f1(labels, scoring.apply_thresholds(probabilities, thresholds))
            else:
                plots.confusion_matrix(labels, probabilities, ctx.classes, f"{name}: test", os.path.join(folder, f"confusion_{name}.png"))
    if f1_by_model:
        plots.per_class_f1(f1_by_model, ctx.classes, os.path.join(folder, "f1_per_class.png"))
    plots.training_curves(ctx.run.read("report.json")["models"] if ctx.run.read("report.json") else {}, os.path.join(folder, "training_curves.png"))
    if ctx.args.method == "liteheart" and os.path.exists(ctx.run.model_path("teacher")):
        from liteheart import region_weights

        inputs, _ = next(iter(ctx.pipeline.evaluate(ctx.split["test"][:1])))
        weights = region_weights(ctx.run.load_model("teacher"), inputs["teacher"], multilabel=ctx.multilabel).numpy()[0]
        plots.region_strip(inputs["student"].numpy()[0, :, 0], weights, ctx.args.fs, ctx.args.student_leads[0], "LiteHeart region weights (teacher CAM) on a test record",
                           os.path.join(folder, "region_weights.png"))
    return entries
