"""``models/cinc2017/MODEL_CARD.md``, written from the committed ``train.py`` reports of the published students.

    python -m benchmarks.model_card      # rewrite the card from benchmarks/results/cinc2017_published_*.json

Every number in the card is read from those reports (and from ``cinc2017_af_ptbxl.json``, written by
``benchmarks.af_external``, while it measured the files now published); nothing is typed in by hand.
"""

import argparse
import glob
import json
import os
import re

CLASS_NAMES = {
    "N": "normal sinus rhythm",
    "A": "atrial fibrillation",
    "O": "other rhythm",
    "~": "too noisy to classify",
}
PUBLISHED = ("lrhnet", "liteheart")  # the published methods, in the card's order
TITLES = {  # by the float student an int8 file came from
    "student": "LRH-Net student, no distillation",
    "student_kd": "LRH-Net student, logit KD",
    "student_mlkd": "LRH-Net student, multi-level KD",
    "liteheart": "LiteHeart student",
}
EXTERNAL_RESULTS = "cinc2017_af_ptbxl.json"
EXTERNAL_COMMAND = (
    "python -m benchmarks.af_external --data ../shared/data/ptbxl --out benchmarks/results/" + EXTERNAL_RESULTS
)
# train.py flags that reproduce, today, a run made before they existed
SETTINGS_OF_THE_TIME = ("--kd-t2", "--lr-schedule", "paper", "--patience", "0", "--no-augment")


# how a report's int8 file was made (train.py --quantize; reports made before PTQ entries existed: QAT)
INT8_KINDS = {"qat": "quantization-aware", "ptq": "post-training (activation ranges from the validation windows)"}


def int8_export(report):
    return next(export for export in report["exports"] if export["kind"] == "int8")


def deployed_model(report):
    """The float student of a report's int8 file (``student_kd``, ``student_mlkd`` or ``liteheart``: the
    run chose it on validation)."""
    return report["models"]["student_int8"]["from"]


def teachers(reports):
    """``[(name, teacher entry)]``: one teacher when every published student learnt from one (a seed's
    liteheart run distils from its lrhnet run's teacher: the reports score it alike), else each
    method's own, named with its seed."""
    entries = [report["models"]["teacher"] for report in reports.values()]
    if all(entry["test"] == entries[0]["test"] for entry in entries):
        return [("teacher", entries[0])]
    return [
        (f"teacher of `{method}` (seed {report['seed']})", report["models"]["teacher"])
        for method, report in reports.items()
    ]


def metrics_table(reports):
    """Test-split metrics of the teacher, each float student and its int8 file."""
    columns = ("cinc2017_f1", "f1_N", "f1_A", "f1_O", "f1_~", "macro_auroc")
    lines = ["| model | params | CinC 2017 F1 | F1 N | F1 A | F1 O | F1 ~ | macro AUROC |", "|---" * 8 + "|"]

    def row(name, params, test):
        lines.append(f"| {name} | {params:,} | " + " | ".join(f"{test[c]:.3f}" for c in columns) + " |")

    for name, teacher in teachers(reports):
        row(f"{name} (SE-ResNet, float32)", teacher["params"], teacher["test"])
    for method, report in reports.items():
        student = report["models"][deployed_model(report)]
        row(f"`{method}.keras` (float32)", student["params"], student["test"])
        row(f"`{method}_int8.tflite`", student["params"], int8_export(report)["test"])
    return lines


def confusion_table(export):
    classes, counts = export["confusion"]["classes"], export["confusion"]["counts"]
    lines = ["| true \\ predicted | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(str(c) for c in row) + " |" for name, row in zip(classes, counts)]
    return lines


def efficiency_table(reports):
    lines = ["| file | params | size | size (gzip) | latency per 15 s window |", "|---|---|---|---|---|"]
    for method, report in reports.items():
        export = int8_export(report)
        lines.append(
            f"| `{method}_int8.tflite` | {report['models'][deployed_model(report)]['params']:,} | "
            f"{export['bytes'] / 1024:.0f} KB | "
            f"{export['gzip_bytes'] / 1024:.0f} KB | {export['tflite_latency_ms']:.2f} ms |"
        )
    return lines


def read_external(results, folder):
    """The AF figures on PTB-XL (``benchmarks.af_external``'s results in ``results``) when they measured
    every model file now in ``folder``, as it is (model and sidecar); None otherwise."""
    from benchmarks.published_files import fingerprint, model_files

    path = os.path.join(results, EXTERNAL_RESULTS)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        result = json.load(handle)
    now = {os.path.basename(file): fingerprint(file) for file in model_files(folder)}
    measured = {name: scores["fingerprint"] for name, scores in result["files"].items()}
    return result if now == measured and not result.get("quick") else None


# the aim of the AF screen on another device: sensitivity at or above, at specificity at or above
AF_AIM = (0.85, 0.90)


def external_table(result):
    """What the AF figures on PTB-XL measured, and per file its sensitivity, specificity and AUROC for AF."""
    from benchmarks.af_external import shown_value

    data = result["data"]
    screens = any("screen" in scores for scores in result["files"].values())

    def rule(thresholds):
        return "arg-max" if thresholds is None else "divisors " + ", ".join(f"{t:.2f}" for t in thresholds)

    lines = [
        f"{data['records']:,} PTB-XL records (`{data['folder']}`, about a sixth of PTB-XL), 12-lead hospital "
        "recordings of 10 s read on lead I, each zero-padded into one 15 s window:",
        f"{data['af']} with atrial fibrillation (statement `AFIB`), {data['negative']:,} with neither `AFIB` nor "
        f"`AFLT`, {data['flutter']} with atrial flutter (`AFLT`) alone. Each file keeps its own decision rule (A is "
        "what `predict` labels the record)"
        + (" and, where it has one, its AF screen (chosen on CinC 2017 validation records)" if screens else "")
        + "; nothing is tuned on these records. Wilson 95 % intervals.",
        "",
        "| file | decision rule | AF sensitivity [95 % CI] | specificity [95 % CI] | AUROC of p_A | flutter "
        "records called A |",
        "|---|---|---|---|---|---|",
    ]
    rows = []  # (file, rule, figures, AUROC)
    for name, scores in result["files"].items():
        rows.append((f"`{name}`", rule(scores["thresholds"]), scores, shown_value(scores["auroc"])))
        if "screen" in scores:
            rows.append((f"`{name}`", f"AF screen: p_A ≥ {scores['screen']['threshold']:.3f}", scores["screen"], ""))
    for name, decision, scores, auroc in rows:
        lines.append(
            f"| {name} | {decision} | {share(scores['sensitivity'])} | {share(scores['specificity'])} | {auroc} | "
            f"{share(scores['flutter_called_af'])} |"
        )
    reached = [
        name + ((" (its AF screen)" if decision.startswith("AF screen") else " (its decision rule)") if screens else "")
        for name, decision, scores, _ in rows
        if (scores["sensitivity"]["value"] or 0) >= AF_AIM[0] and (scores["specificity"]["value"] or 0) >= AF_AIM[1]
    ]
    return lines + [
        "",
        f"Sensitivity at least {AF_AIM[0]:.2f} at specificity at least {AF_AIM[1]:.2f}, the aim for a screen: "
        + (f"reached by {', '.join(reached)}." if reached else "reached by none of these files yet."),
    ]


def share(figure):
    """A proportion of ``af_external.proportion`` as ``value (successes/trials) [low, high]``."""
    if figure["value"] is None:
        return "n/a"
    low, high = figure["ci95"]
    return f"{figure['value']:.3f} ({figure['count'][0]}/{figure['count'][1]}) [{low:.2f}, {high:.2f}]"


def screen_section(reports):
    """The AF screen of the reports that have one (``af_screen``): what it is, and each file's threshold and
    figures on validation and test; no lines when no report has one."""
    screens = {name: figures for report in reports.values() for name, figures in report.get("af_screen", {}).items()}
    if not screens:
        return []
    specificity = " or ".join(sorted({f"{figures['min_specificity']:g}" for figures in screens.values()}))
    unscreened = [f"`{method}`" for method, report in reports.items() if "af_screen" not in report]
    lines = [
        "Atrial fibrillation or not: beside the four-class rule (tuned for the F1, which weighs a missed AF record",
        "no more than a false alarm), a screened file's sidecar holds a screen, `p_A` at or above one threshold, set",
        f"on the validation records for a specificity of at least {specificity} (A against every other class), halfway",
        "across the lowest gap between their scores that keeps it. Test records play no part in the choice. Wilson",
        "95 % intervals.",
        *([f"The files of {', '.join(unscreened)} have no screen."] if unscreened else []),
        "",
        "| file | threshold on p_A | validation sensitivity | validation specificity | test sensitivity [95 % CI] "
        "| test specificity [95 % CI] |",
        "|---|---|---|---|---|---|",
    ]
    for name, figures in screens.items():
        validation, test = figures["validation"], figures["test"]
        lines.append(
            f"| `{name}` | {figures['threshold']:.3f} | {validation['sensitivity']['value']:.3f} | "
            f"{validation['specificity']['value']:.3f} | {share(test['sensitivity'])} | {share(test['specificity'])} |"
        )
    return lines + [""]


def external_section(external):
    """The card's section on another device, or a line saying how to measure it."""
    if external is None:
        return [
            "## On another device",
            "",
            "Not measured for these files yet; `" + EXTERNAL_COMMAND + "` measures them.",
            "",
        ]
    return [
        "## On another device: PTB-XL lead I",
        "",
        *external_table(external),
        "",
        "```bash",
        external["command"],
        "```",
        "",
    ]


def split_seed(report):
    """The seed of the report's train/validation/test split: ``--split-seed``, else the run's ``--seed``."""
    chosen = report.get("config", {}).get("split_seed")
    return report["seed"] if chosen is None else chosen


def seed_words(report):
    """``"one seed"`` or ``"3 seeds (0, 1, 2)"``, as the published report was chosen among."""
    rows = report.get("published_seeds", {}).get("rows", [])
    if len(rows) < 2:
        return "one seed"
    return f"{len(rows)} seeds ({', '.join(str(row['seed']) for row in rows)})"


def reproduce_command(report):
    """The publishing command of a report: as recorded, or for files published before several seeds and
    ``--settings`` (no ``published_seeds``), the call that repeats their runs today."""
    if "published_seeds" in report:
        return re.sub(
            r"^python (?:\./)?benchmarks/(\w+)\.py", r"python -m benchmarks.\1", report["published"]["command"]
        )
    return (
        "python -m benchmarks.publish_cinc2017 --data ../shared/data/cinc2017/training2017 --settings 2026-11 --seeds 0"
    )


def preprocessing_lines(reports):
    """How each published file reads a record (``predict`` takes it from the sidecar): one sentence when every
    report's is the same, else one per method."""
    sentences = {}
    for method, report in reports.items():
        data, preprocessing = report["data"], report["data"]["preprocessing"]
        sentences[method] = (
            f"resample to {preprocessing['fs']:g} Hz, Butterworth band-pass "
            f"{preprocessing['band'][0]:g}-{preprocessing['band'][1]:g} Hz (order {preprocessing['order']}),"
            + (" z-score per record;" if preprocessing.get("normalize") else ";")
            + f" windows of {data['window_samples']} samples ({data['window_samples'] / preprocessing['fs']:g} s),"
            + " shorter records zero-padded."
        )
    if len(set(sentences.values())) == 1:
        sentence = next(iter(sentences.values()))
        return [sentence[0].upper() + sentence[1:]]
    return [f"- `{method}`: {sentence}" for method, sentence in sentences.items()] + [""]


def publishing_calls(reports):
    """The distinct publishing commands of ``reports`` (``reproduce_command``), earliest call first: a later
    call replaces the files of the methods it publishes."""
    ordered = sorted(reports.values(), key=lambda report: report.get("published", {}).get("date", ""))
    return list(dict.fromkeys(reproduce_command(report) for report in ordered))


def seeds_section(reports):
    """Per method, every seed's validation and test CinC 2017 F1 (``published_seeds``), their mean ± std
    and the seed published: the one best on validation."""
    import numpy as np

    lines = []
    for method, report in reports.items():
        seeds = report.get("published_seeds")
        if not seeds or len(seeds["rows"]) < 2:
            continue
        rows = seeds["rows"]
        columns = ("validation", "test_float", "test_int8")
        lines += [
            f"`{method}` over {seed_words(report)}, one split; the published file is seed {seeds['chosen']}'s, "
            "whose float student has the best validation F1 (the test split chose nothing):",
            "",
            "| seed | deployed student | validation F1, float | test F1, float | test F1, int8 |",
            "|---|---|---|---|---|",
            *(
                f"| {row['seed']} | `{row['deployed']}` | "
                + " | ".join(f"{row[column]:.3f}" for column in columns)
                + " |"
                for row in rows
            ),
            "| mean ± std | | "
            + " | ".join(
                f"{np.mean([row[c] for row in rows]):.3f} ± {np.std([row[c] for row in rows], ddof=1):.3f}"
                for c in columns
            )
            + " |",
            "",
        ]
    return lines


def model_card(reports, external=None):
    """The card's Markdown from ``{method: train.py report}`` and the AF figures on PTB-XL (``read_external``)."""
    from lrhnet.recipes import scaled_decay_epochs  # imports TensorFlow: only when a card is written

    first = next(iter(reports.values()))
    data = first["data"]
    split = data["split"]
    calls = publishing_calls(reports)
    rates = " and ".join(dict.fromkeys(f"{report['data']['preprocessing']['fs']:g}" for report in reports.values()))
    best_f1 = max(int8_export(report)["test"]["cinc2017_f1"] for report in reports.values())
    shared = len(teachers(reports)) == 1
    teacher_f1 = " and ".join(f"{teacher['test']['cinc2017_f1']:.3f}" for _, teacher in teachers(reports))
    screen_lines = screen_section(reports)
    lines = [
        "# CinC 2017 rhythm screen from one lead: two int8 students",
        "",
        "Two small networks that read one ECG lead (a handheld single-lead recording, lead I-like) and",
        "say whether it shows " + ", ".join(f"**{k}** {v}" for k, v in CLASS_NAMES.items()) + ".",
        "Each is distilled from "
        + ("the same larger SE-ResNet teacher" if shared else "a larger SE-ResNet teacher (each student's is below)")
        + " and exported as a fully int8 TFLite file.",
        "",
        "**This is not a medical device.** It is a research artefact: it has not been validated",
        "clinically and must not be used to diagnose, treat or rule out any condition.",
        "",
        "## Files",
        "",
        "| file | what |",
        "|---|---|",
    ]
    for method, report in reports.items():
        lines += [
            f"| `{method}_int8.tflite` (+ `.json` sidecar) | {TITLES[deployed_model(report)]}, "
            f"{INT8_KINDS[report['models']['student_int8'].get('quantization', 'qat')]} int8 (int8 "
            "weights and activations, float input and output) |",
            f"| `{method}.keras` (+ `.json` sidecar) | the same student in float32 before quantization |",
        ]
    lines += [
        "| `labels.txt` | the class order of the outputs |",
        "| `split.json` | the record names of the training, validation and test splits (runs made since the "
        "scarce-label options also list `train_labeled`, the training records whose labels the students saw) |",
        "",
        "```bash",
        "python -m lrhnet.predict --model models/cinc2017/lrhnet_int8.tflite --input RECORD_OR_FOLDER --out preds.csv",
        "```",
        "",
        "reads any CinC 2017-format record or folder (`.mat` + `.hea`, 300 Hz) and, through the",
        "sidecar, any other supported format and rate; it writes `record`, `p_N`, `p_A`, `p_O`, `p_~`",
        "and `labels` (the predicted class: the arg-max, or with thresholds in the sidecar the class with the largest",
        "probability divided by its threshold) per record"
        + (
            ", and `screen_A` where the sidecar holds the AF screen below (1 when `p_A` is at or above its threshold)."
            if screen_lines
            else "."
        ),
        "",
        "## Data",
        "",
        f"PhysioNet/CinC Challenge 2017 training set (Clifford et al. 2017), ODC-By 1.0: {data['records']:,} records",
        "(the stratified 80 % of the 8,528 public training records that ships beside this project), AliveCor",
        "single-lead recordings at 300 Hz, 9 to 61 s long, labels of the final (v3) release. Class counts: "
        + ", ".join(f"{name} {count:,}" for name, count in data["classes"].items())
        + ".",
        f"Split (seed {split_seed(first)}, stratified): {split['train']:,} training, {split['validation']:,} "
        "validation and "
        f"{split['test']:,} test records; the names are in `split.json`. The challenge's hidden test set is not "
        "public, so",
        "the figures below are on our own held-out split of the public records.",
        "",
        "## Preprocessing (read from the sidecar by `predict`)",
        "",
        *preprocessing_lines(reports),
        "A longer record is cut into sliding windows (half-window stride) whose class probabilities are averaged.",
        "",
        "## Training",
        "",
    ]
    for method, report in reports.items():
        lines += [
            f"{TITLES[deployed_model(report)]} (`{method}`), {report.get('seconds', 0) / 60:.0f} min on a 2-core "
            "CPU shared with other trainings:",
            "",
            "```bash",
            report["command"] + ("" if "kd_t2" in report["config"] else " " + " ".join(SETTINGS_OF_THE_TIME)),
            "```",
            "",
        ]
    if "kd_t2" not in first["config"]:
        lines += [
            f"(`{' '.join(SETTINGS_OF_THE_TIME)}`, added to the commands as run then, keep today's `train.py` on the",
            "settings of the time: KD with T², the paper's step decay, every epoch, no augmentation. One change cannot "
            "be undone by a",
            "flag: LiteHeart's region term now aligns feature lengths by average pooling, then by linear resizing.)",
            "",
        ]
    config = first["config"]
    decay = ", ".join(str(epoch) for epoch in scaled_decay_epochs(config["epochs"]))
    if config.get("lr_schedule", "paper") == "paper" and not config.get("patience"):  # runs made before those flags
        steps = f"×0.1 after epochs {decay}"
        schedule = f"{config['epochs']} epochs per stage, Adam (learning rate 3e-3, weight decay 1e-5, {steps})"
    else:
        schedule = (
            f"at most {config['epochs']} epochs per stage (early stopping after {config.get('patience') or 'no'} "
            f"epochs without improvement), Adam (learning rate 3e-3, weight decay 1e-5, {config['lr_schedule']} "
            "schedule)"
        )
    lines += [
        f"Both runs: {schedule}, batch",
        f"{config['batch_size']}, model selection on the validation CinC 2017 F1; teacher width "
        f"{config['teacher_width']:g}; logit distillation",
        f"weight {config['kd_weight']:g} at temperature {config['temperature']:g} "
        f"(softmax, {'T² scaling' if config.get('kd_t2', True) else 'no T² scaling'}), "
        f"supervised weight {config['supervised_weight']:g};",
        f"LiteHeart adds region-aware ({config['region_weight']:g}) and cross-layer mutual-information "
        f"({config['mi_weight']:g}) terms",
        f"and augmentation consistency. Quantization-aware fine-tuning: {max(1, config['epochs'] // 2)} epochs at "
        "learning rate 1e-4, logit distillation on",
        "(weight at least 0.1)." if "kd_t2" not in config else f"(weight {config['kd_weight']:g}).",
        *(
            [
                "The `liteheart` run trains no teacher of its own: it distils from the teacher of the same seed's "
                "`lrhnet` run (`--teacher-from`)."
            ]
            if reports.get("liteheart", {}).get("config", {}).get("teacher_from")
            else []
        ),
        "",
        f"## Results on the test split ({split['test']} records)",
        "",
        "CinC 2017 F1 is the challenge score, the mean F1 of N, A and O.",
        "",
        *metrics_table(reports),
        "",
        *seeds_section(reports),
    ]
    for method, report in reports.items():
        lines += [
            f"Confusion matrix of `{method}_int8.tflite` (rows: true class):",
            "",
            *confusion_table(int8_export(report)),
            "",
        ]
    lines += ["## AF screen", "", *screen_lines] if screen_lines else []
    lines += external_section(external)
    lines += [
        "## Size and speed",
        "",
        "Median single-thread latency with `ai_edge_litert` on the 2-core x86 machine that trained them.",
        "",
        *efficiency_table(reports),
        "",
        "## Limitations",
        "",
        "- Not a medical device; see above.",
        "- One device type in training: every record came from the AliveCor KardiaMobile handheld recorder in the 2017",
        "  challenge. Of other devices, electrode positions, sampling chains and populations, only lead I of PTB-XL's",
        "  hospital recordings has been tried (above), and for atrial fibrillation alone.",
        "- The best 2017 challenge entries reached F1 0.83 on the hidden test set with much larger models;",
        f"  these int8 students reach {best_f1:.3f} at best on our split, and the two figures are not on the same "
        "records.",
        '- Four rhythm classes only; "other rhythm" mixes many conditions and is the hardest class.',
        f"- {'The teacher reaches' if shared else 'Their teachers reach'} "
        f"{teacher_f1} on this split (SE-ResNet width "
        f"{config['teacher_width']:g}, {'at most ' if config.get('patience') else ''}{config['epochs']} epochs at",
        f"  {rates} Hz). Trained on a 2-core CPU with {seed_words(first)}; "
        + ("" if "published_seeds" in first else "longer training, ")
        + "a wider teacher and the full 300 Hz are untried.",
        "",
        "## Reproduce",
        "",
        "```bash",
        *("TF_NUM_INTRAOP_THREADS=1 " + command for command in calls),
        "```",
        "",
        (
            "writes these files and this card; the reports it copies are "
            if len(calls) == 1
            else "in this order (each call replaces the files of the methods it publishes) write these files and "
            "this card; the reports they copy are "
        )
        + "`benchmarks/results/cinc2017_published_<method>.json`.",
        "Package versions: "
        + ", ".join(f"{name} {version}" for name, version in first.get("packages", {}).items())
        + ".",
        "",
        "Cite: Clifford G. D. et al., AF classification from a short single lead ECG recording: the "
        "PhysioNet/Computing",
        "in Cardiology Challenge 2017, Computing in Cardiology 44 (2017); Goldberger A. L. et al., PhysioNet, "
        "Circulation",
        "101 (2000).",
    ]
    return "\n".join(lines) + "\n"


def write_model_card(reports, folder, results):
    """Write ``folder/MODEL_CARD.md`` from ``reports`` and the AF figures on PTB-XL in ``results``."""
    path = os.path.join(folder, "MODEL_CARD.md")
    with open(path, "w") as handle:
        handle.write(model_card(reports, read_external(results, folder)))
    return path


def read_reports(results):
    """``{method: report}`` of the ``cinc2017_published_<method>.json`` files in ``results``, in a fixed order."""
    reports = {}
    for method in PUBLISHED:
        for path in glob.glob(os.path.join(results, f"cinc2017_published_{method}.json")):
            with open(path) as handle:
                reports[method] = json.load(handle)
    return reports


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=os.path.join("benchmarks", "results"))
    parser.add_argument("--models", default=os.path.join("models", "cinc2017"))
    args = parser.parse_args()
    reports = read_reports(args.results)
    if not reports:
        raise SystemExit(f"no cinc2017_published_*.json in {args.results}: run benchmarks/publish_cinc2017.py first")
    print(write_model_card(reports, args.models, args.results))


if __name__ == "__main__":
    main()
