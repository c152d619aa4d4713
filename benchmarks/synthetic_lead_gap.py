"""The 12-lead to lead-I gap on synthetic data: the same LRH-Net reading 12 leads or lead I only.

    TF_NUM_INTRAOP_THREADS=1 python -m benchmarks.synthetic_lead_gap --out benchmarks/results/synthetic_lead_gap.json

Data: ``--records`` synthetic 10 s records at 100 Hz with every condition (generator seed 0),
band-passed 0.5-40 Hz and z-scored per lead, split 80/10/10 (stratified, seed 0). For each seed an
LRH-Net on all 12 leads and one on lead I (the same network but for its first convolution) are
trained ``--epochs`` epochs with the paper's optimizer, selected on validation macro AUROC, and
scored on the test split: per-class AUROC and F1 (thresholds tuned on validation).
``--quick`` uses 600 records and 1 epoch to check the script.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from benchmarks.provenance import provenance  # noqa: E402
from data_utils import STANDARD_LEADS, Preprocessing, open_dataset  # noqa: E402
from data_utils.cache import build_cache  # noqa: E402
from data_utils.pipeline import ECGPipeline  # noqa: E402
from data_utils.scoring import apply_thresholds, per_class_f1, tune_thresholds  # noqa: E402
from data_utils.splits import split_indices  # noqa: E402
from data_utils.synthetic import DESCRIPTIONS  # noqa: E402
from lrhnet import LRHNet  # noqa: E402
from lrhnet.efficiency import trainable_parameters  # noqa: E402
from lrhnet.recipes import fit_network  # noqa: E402
from lrhnet.training import predict_probabilities  # noqa: E402

MODELS = {"12 leads": ("teacher", 12), "lead I": ("student", 1)}


def per_class_scores(network, pipeline, split, view):
    """``{"auroc": [K], "f1": [K]}`` on the test split, thresholds tuned on validation."""
    validation = predict_probabilities(network, pipeline.evaluate(split["validation"], crop="sliding"), view)
    probabilities, labels = predict_probabilities(network, pipeline.evaluate(split["test"], crop="sliding"), view)
    predicted = apply_thresholds(probabilities, tune_thresholds(validation[1], validation[0]))
    auroc = [
        float(roc_auc_score(labels[:, k], probabilities[:, k]))
        if 0 < labels[:, k].sum() < len(labels)
        else float("nan")
        for k in range(labels.shape[1])
    ]
    return {"auroc": auroc, "f1": [float(v) for v in per_class_f1(labels, predicted)]}


def markdown(result):
    classes = result["classes"]
    lines = [
        "# Synthetic: 12 leads against lead I (same LRH-Net)",
        "",
        f"Command: `{result['command']}`  ",
        f"Commit {result['commit']}, {result['date']}, seeds {result['seeds']}",
        "",
    ]
    lines += [
        "| class | condition | AUROC 12 leads | AUROC lead I | gap | F1 12 leads | F1 lead I |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, name in enumerate(classes):
        cells = {}
        for model in MODELS:
            runs = [run for run in result["runs"] if run["model"] == model]
            for metric in ("auroc", "f1"):
                values = [run["test"][metric][k] for run in runs]
                cells[model, metric] = (np.nanmean(values), np.nanstd(values)) if runs else (np.nan, np.nan)
        gap = cells["12 leads", "auroc"][0] - cells["lead I", "auroc"][0]
        row = [
            f"{cells[m, metric][0]:.3f} ± {cells[m, metric][1]:.3f}"
            for metric, m in (("auroc", "12 leads"), ("auroc", "lead I"))
        ]
        row += [f"{gap:+.3f}"] + [f"{cells[m, 'f1'][0]:.3f} ± {cells[m, 'f1'][1]:.3f}" for m in MODELS]
        lines.append(f"| {name} | {DESCRIPTIONS[name].split(':')[0]} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def write(result, path):
    for target, text in ((path, json.dumps(result, indent=1)), (os.path.splitext(path)[0] + ".md", markdown(result))):
        with open(target + ".tmp", "w") as handle:
            handle.write(text)
        os.replace(target + ".tmp", target)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--records", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.records, args.epochs, args.seeds = 600, 1, args.seeds[:1]
    started = time.time()
    dataset = open_dataset(f"synthetic:n={args.records},fs=100,seconds=10,seed=0")
    cache = build_cache(dataset, Preprocessing(fs=100, band=(0.5, 40.0)), STANDARD_LEADS, progress=True)
    split = split_indices(dataset, seed=0)
    pipeline = ECGPipeline(cache, 12, "I", window_seconds=10)
    classes = cache.classes
    result = {
        **provenance(),
        "seeds": args.seeds,
        "records": args.records,
        "epochs": args.epochs,
        "classes": list(classes),
        "runs": [],
    }
    for seed in args.seeds:
        for model, (view, leads) in MODELS.items():
            network = LRHNet(leads, len(classes))
            begun = time.time()
            fitted = fit_network(network, pipeline, split, classes, epochs=args.epochs, seed=seed, view=view)
            run = {
                "model": model,
                "seed": seed,
                "params": trainable_parameters(network),
                "best_epoch": fitted["best_epoch"],
                "test": per_class_scores(network, pipeline, split, view),
                "seconds": round(time.time() - begun, 1),
            }
            result["runs"].append(run)
            print(json.dumps(run), flush=True)
            result["total_seconds"] = round(time.time() - started, 1)
            write(result, args.out)


if __name__ == "__main__":
    main()
