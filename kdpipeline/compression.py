"""The prune, quantize and export stages of ``train.py``.

The student they start from is the distilled student (KD, MLKD or LiteHeart) with the best
validation score that the run has trained, else the student alone (``deployed_name``).
Fine-tuning keeps logit distillation from the teacher on, with the same ``--kd-weight`` as the
distillation stages (0: none). Every exported file's sidecar holds thresholds tuned on the
validation split for that file, the same that its reported test metrics use.
"""

import os

import numpy as np

from kdpipeline.divergence import StopOnNaN
from kdpipeline.report import source_commit
from kdpipeline.stages import batches_per_epoch, kd_mode, learned_from, train_and_record, training_batches
from lrhnet.efficiency import trainable_parameters
from lrhnet.recipes import fit_network, score_on_test

DISTILLED = ("student_kd", "student_mlkd", "liteheart")


def recorded_entries(ctx):
    """``{network name: report entry}`` of every network a completed stage of this run recorded."""
    return {
        name: entry
        for stage in ctx.run.state["stages"].values()
        for name, entry in stage.items()
        if isinstance(entry, dict)
    }


def validation_scores(ctx, names):
    """``{name: validation selection score}`` of the networks in ``names`` that a completed stage of this run saved
    (finite scores only)."""
    scores = {
        name: float(next(iter(entry["selection"].values())))
        for name, entry in recorded_entries(ctx).items()
        if name in names and entry.get("selection") and os.path.exists(ctx.run.model_path(name))
    }
    return {name: score for name, score in scores.items() if np.isfinite(score)}


def deployed_name(ctx, required=True):
    """The float student to compress: the distilled student (``DISTILLED``) with the best validation
    score, else the student alone; ties go to the first in ``DISTILLED`` order. Without one: None,
    or when ``required`` a ``SystemExit``."""
    scores = validation_scores(ctx, DISTILLED)
    if scores:
        return max((name for name in DISTILLED if name in scores), key=scores.get)
    if os.path.exists(ctx.run.model_path("student")):
        return "student"
    if not required:
        return None
    raise SystemExit("train.py: error: no trained student in the run folder: run the student or distill stage first")


def teacher_terms(ctx):
    """``{"teachers", "terms", "rows"}`` of fine-tuning: logit distillation from the teacher at
    ``--kd-weight`` on every training record, as in the distillation stages; no teacher at all, and
    the labelled records only, when the weight is 0 (``rows`` as in ``kdpipeline.stages.training_rows``)."""
    from lrhnet import LogitDistillation

    if ctx.args.kd_weight == 0:
        return {"teachers": [], "terms": [], "rows": "labeled"}
    return {
        "rows": "distilled",
        "teachers": [ctx.run.load_model("teacher")],
        "terms": [LogitDistillation(ctx.args.kd_weight, ctx.args.temperature, kd_mode(ctx), scale_t2=ctx.args.kd_t2)],
    }


def prune_stage(ctx):
    """Magnitude-prune the deployed student to ``--sparsity``, reached half-way through ``--epochs`` of
    fine-tuning (with the teacher's KD term unless ``--kd-weight 0``), then strip the pruning wrappers.
    The epoch kept is the best on validation among those that end at the full sparsity."""
    from lrhnet.compress import UpdatePruningStep, kernel_sparsity, prune_layers, strip_pruning

    args = ctx.args
    source_name = deployed_name(ctx)
    student = ctx.run.load_model(source_name)
    fine_tuning = teacher_terms(ctx)
    ramp_epochs = max(1, args.epochs // 2)  # every update of the masks falls within these epochs
    prune_layers(student, args.sparsity, end_step=batches_per_epoch(ctx, fine_tuning["rows"]) * ramp_epochs)
    entry = train_and_record(
        ctx,
        student,
        "student_pruned_wrapped",
        **fine_tuning,
        supervised_weight=args.supervised_weight,
        callbacks=[UpdatePruningStep()],
        learning_rate=1e-3,
        patience=None,  # every epoch: the sparsity reaches its target half-way
        select_from=ramp_epochs - 1,
        weight_average=None,  # an average of masked and unmasked weights would not be sparse
    )
    strip_pruning(student)
    ctx.run.save_model(student, "student_pruned")
    os.remove(ctx.run.model_path("student_pruned_wrapped"))
    entry["sparsity"] = kernel_sparsity(student)[0]
    entry["from"], entry["chosen_on_validation"] = source_name, validation_scores(ctx, DISTILLED + ("student",))
    return {"student_pruned": entry}


def representative_windows(ctx, count=256, view="student"):
    """Calibration inputs for int8 conversion: ``count`` windows of ``view`` from the training split."""
    from lrhnet.calibration import representative_samples

    rows, args = ctx.split["train"][:count], ctx.args
    return representative_samples(ctx.pipeline.train(rows, args.batch_size, args.seed, view=view, augment=False))


def exported(ctx, network, filename, kind, reference=None, view="student"):
    """Export ``network`` (reading ``view``: ``"teacher"`` for a network on the teacher's leads) to
    ``exports/filename`` and score the file on the test split: an ``exports`` entry.

    The file is compared with ``reference`` (the float student it comes from; default ``network``)
    on the same splits; its sidecar gets the thresholds tuned on validation for the file itself.
    Post-training int8 takes the activation ranges that agree best with the float network on the
    validation windows (``lrhnet.calibration``). With ``--int8-tolerance``, an int8 file that loses
    more than that on the validation metric is removed and the stage fails.
    """
    from lrhnet.calibration import stacked_inputs
    from lrhnet.efficiency import file_sizes, tflite_latency_ms
    from lrhnet.export import Int8AccuracyError, export_tflite, parity_report
    from lrhnet.sidecar import set_sidecar_thresholds, sidecar_path

    path = ctx.run.path("exports", filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    calibration = {}
    if kind == "int8":
        validation = ctx.pipeline.evaluate(ctx.split["validation"], crop="sliding", view=view)
        calibration = {"representative": representative_windows(ctx, view=view), "held_out": stacked_inputs(validation)}
    size = export_tflite(
        network,
        path,
        kind,
        window=ctx.pipeline.window,
        **calibration,
        classes=list(ctx.classes),
        leads=list(ctx.args.teacher_leads if view == "teacher" else ctx.args.student_leads),
        fs=ctx.args.fs,
        preprocessing=ctx.cache.meta["preprocessing"],
        multilabel=ctx.multilabel,
    )
    validation, test = (ctx.pipeline.evaluate(ctx.split[name], crop="sliding") for name in ("validation", "test"))
    tolerance = ctx.args.int8_tolerance if kind == "int8" else None
    try:
        report = parity_report(
            reference or network,
            path,
            validation,
            test,
            ctx.classes,
            multilabel=ctx.multilabel,
            view=view,
            int8_tolerance=tolerance,
        )
    except Int8AccuracyError as error:
        for created in (path, sidecar_path(path)):
            os.remove(created)
        raise SystemExit(f"train.py: error: {error}; the file was removed (--int8-tolerance)") from None
    set_sidecar_thresholds(path, report["thresholds"])
    entry = {
        "file": os.path.relpath(path, ctx.run.root),
        "kind": kind,
        "bytes": size,
        "gzip_bytes": file_sizes(path)["gzip_bytes"],
        "tflite_latency_ms": tflite_latency_ms(path),
        "test": report["tflite"],
        "keras_test": report["keras"],
        "validation": report["tflite_validation"],
        "keras_validation": report["keras_validation"],
        "thresholds": report["thresholds"],
        "keras_thresholds": report["keras_thresholds"],
    }
    if not ctx.multilabel:
        entry["confusion"] = test_confusion(ctx, path, test, report["thresholds"], view)
    return entry


def test_confusion(ctx, tflite_path, test, thresholds, view="student"):
    """Single-label test confusion matrix of an exported file under its decision rule (``thresholds``):
    ``{"classes", "counts"}`` (rows true, columns predicted)."""
    from data_utils.scoring import confusion_counts
    from lrhnet.export import TFLiteNetwork
    from lrhnet.training import predict_probabilities

    probabilities, labels = predict_probabilities(TFLiteNetwork(tflite_path), test, view, multilabel=False)
    return {"classes": list(ctx.classes), "counts": confusion_counts(labels, probabilities, thresholds).tolist()}


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
    qat = GraphNetwork(
        quantize_twin(student_twin(source, ctx.pipeline.window), preserve_sparsity=pruned),
        source.num_leads,
        source.num_classes,
        demographics=source.demographics,
        name="student_qat",
    )
    fine_tuning = teacher_terms(ctx)
    rows = fine_tuning.pop("rows")
    fit_network(
        qat,
        ctx.pipeline,
        ctx.split,
        ctx.classes,
        epochs=max(1, args.epochs // 2),
        seed=args.seed,
        multilabel=ctx.multilabel,
        batch_size=args.batch_size,
        **fine_tuning,
        supervised_weight=args.supervised_weight,
        learning_rate=1e-4,
        schedule=args.lr_schedule,
        train_data=training_batches(ctx, rows),
        callbacks=[StopOnNaN("quantize, training student_qat")],
        backup_dir=ctx.run.path("backup", "student_qat"),
        weight_average=None,  # the fake-quantization ranges are learned for the weights themselves
    )
    entry = exported(ctx, qat, "student_int8.tflite", "int8", reference=source)
    return {"student_int8": int8_model(ctx, source, source_name, entry, "qat", learned_from(ctx, rows))}


def int8_model(ctx, source, source_name, export, quantization, learned):
    """The report entry of the int8 student: the test scores of its file (``export``, an ``exported``
    entry), the float student ``source`` (saved as ``source_name``) it comes from, how
    (``quantization``: ``"qat"`` or ``"ptq"``) and the records it ``learned`` from."""
    return {
        "params": trainable_parameters(source),
        "leads": list(ctx.args.student_leads),
        "test": export["test"],
        "from": source_name,
        "learned_from": learned,
        "commit": source_commit(),
        "quantization": quantization,
        "export": export,
    }


def export_stage(ctx):
    """TFLite float32 of the deployed (and pruned) student, and post-training int8 when asked."""
    entries, source_name = [], deployed_name(ctx)
    for name in (source_name, "student_pruned"):
        if os.path.exists(ctx.run.model_path(name)):
            entries.append(exported(ctx, ctx.run.load_model(name), f"{name}_float32.tflite", "float32"))
    models = {}
    if ctx.args.quantize == "ptq":
        network = ctx.run.load_model(source_name)
        entry = exported(ctx, network, "student_int8.tflite", "int8")
        entries.append(entry)
        learned = recorded_entries(ctx).get(source_name, {}).get("learned_from")
        models["student_int8"] = int8_model(ctx, network, source_name, entry, "ptq", learned)
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
    from lrhnet.training import predict_probabilities, tune_decision_rule

    folder = ctx.run.path("plots")
    os.makedirs(folder, exist_ok=True)
    validation, test = (ctx.pipeline.evaluate(ctx.split[name], crop="sliding") for name in ("validation", "test"))
    entries, f1_by_model, drawn = {}, {}, ("teacher", deployed_name(ctx, required=False))
    for name in ("teacher", "student", "student_kd", "assistant", "student_mlkd", "liteheart", "student_pruned"):
        if not os.path.exists(ctx.run.model_path(name)):
            continue
        network = ctx.run.load_model(name)
        view = "teacher" if name == "teacher" else "student"
        entries[name] = {
            "params": trainable_parameters(network),
            "test": score_on_test(network, ctx.pipeline, ctx.split, ctx.classes, view=view, multilabel=ctx.multilabel),
        }
        if name in drawn:
            probabilities, labels = predict_probabilities(network, test, view, ctx.multilabel)
            plots.roc_curves(
                labels, probabilities, ctx.classes, f"{name}: test ROC", os.path.join(folder, f"roc_{name}.png")
            )
            validation_probabilities, validation_labels = predict_probabilities(
                network, validation, view, ctx.multilabel
            )
            thresholds = tune_decision_rule(validation_labels, validation_probabilities, ctx.classes, ctx.multilabel)
            if ctx.multilabel:
                f1_by_model[name] = scoring.per_class_f1(labels, scoring.apply_thresholds(probabilities, thresholds))
            else:
                plots.confusion_matrix(
                    labels,
                    probabilities,
                    ctx.classes,
                    f"{name}: test",
                    os.path.join(folder, f"confusion_{name}.png"),
                    thresholds,
                )
    if f1_by_model:
        plots.per_class_f1(f1_by_model, ctx.classes, os.path.join(folder, "f1_per_class.png"))
    plots.training_curves(
        ctx.run.read("report.json")["models"] if ctx.run.read("report.json") else {},
        os.path.join(folder, "training_curves.png"),
    )
    if ctx.args.method == "liteheart" and os.path.exists(ctx.run.model_path("teacher")):
        from liteheart import region_weights

        inputs, _ = next(iter(ctx.pipeline.evaluate(ctx.split["test"][:1])))
        weights = region_weights(ctx.run.load_model("teacher"), inputs["teacher"], multilabel=ctx.multilabel).numpy()[0]
        plots.region_strip(
            inputs["student"].numpy()[0, :, 0],
            weights,
            ctx.args.fs,
            ctx.args.student_leads[0],
            "LiteHeart region weights (teacher CAM) on a test record",
            os.path.join(folder, "region_weights.png"),
        )
    return entries
