"""The results tables of the README and ``docs/results.md``, rendered from the results files the benchmarks write.

Each table sits in a document (``DOCUMENTS``) between ``<!-- table:NAME -->`` and
``<!-- /table:NAME -->`` and starts with where its numbers come from: file, command, commit, date
and seeds. A table may appear in more than one document.
"""

import json
import os
import re

from benchmarks import model_card
from benchmarks.provenance import REPOSITORY

ANCHOR = "*published, other work on other data*"
# files, relative to the repository, that hold table blocks
DOCUMENTS = ("README.md", os.path.join("docs", "results.md"), os.path.join("docs", "deployment.md"))


def load(results, name):
    with open(os.path.join(results, name)) as handle:
        return json.load(handle)


def runnable(command):
    """``command`` as it runs today: ``python benchmarks/<name>.py`` is ``python -m benchmarks.<name>`` now."""
    return re.sub(r"python benchmarks/(\w+)\.py", r"python -m benchmarks.\1", command)


def source_line(name, result):
    """``name``: the command, commit, date and seeds of its latest call, and how many calls made it."""
    calls = len(result.get("earlier", [])) + 1
    seeds = result.get("seeds")
    line = (
        f"From `benchmarks/results/{name}`, made by `{runnable(result['command'])}` at commit {result['commit']}, "
        f"{result['date'][:10]}"
    )
    line += f", seeds {', '.join(map(str, seeds))}" if seeds else ""
    line += ", with changes to the code not yet committed then" if result.get("code_changed") else ""
    return line + (f" (made over {calls} calls, all listed in the file)." if calls > 1 else ".")


def summary_row(result, **group):
    """The summary row of ``result`` whose fields equal ``group``, or None."""
    return next((row for row in result["summary"] if all(row.get(k) == v for k, v in group.items())), None)


def cell(row, metric):
    """``mean ± std`` (or the single value of one run) of ``metric`` in a summary row."""
    if metric not in row:
        return ""
    mean, std = row[metric]
    return f"{mean:.3f}" if row["runs"] == 1 else f"{mean:.3f} ± {std:.3f}"


def rows_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def summary_rows(result, entries, metrics):
    """Rows ``[*labels, params, runs, *metrics]`` for ``entries`` of ``(labels, group)``; groups
    without runs (yet) are left out."""
    rows = []
    for labels, group in entries:
        row = summary_row(result, **group)
        if row is None:
            continue
        rows.append([*labels, f"{row['params']:,}", row["runs"], *(cell(row, m) for m in metrics)])
    return rows


def cinc2017(results):
    lrh, lite = load(results, "lrhnet_cinc2017.json"), load(results, "liteheart_cinc2017.json")
    metrics = ("cinc2017_f1", "macro_f1", "macro_auroc")
    rows = summary_rows(
        lrh,
        [
            (("SE-ResNet teacher, width 0.5", ""), {"model": "teacher"}),
            (("LRH-Net student", ""), {"model": "student"}),
            (("LRH-Net + KD", "width 0.5"), {"model": "student_kd"}),
            (("LRH-Net + MLKD (sequential)", "width 0.5 + assistant"), {"model": "student_mlkd"}),
        ],
        metrics,
    )
    rows += summary_rows(
        lite,
        [
            (("SE-ResNet teacher, width 0.25", ""), {"setting": "teacher"}),
            *(
                ((f"LiteHeart student{suffix}, {setting}", teacher), {"setting": setting, "model": model})
                for setting in ("100% labelled", "10% labelled")
                for suffix, teacher, model in (
                    ("", "", "student"),
                    (" + KD", "width 0.25", "kd"),
                    (" + all LiteHeart terms", "width 0.25", "liteheart"),
                )
            ),
        ],
        metrics,
    )
    rows.append([f"best CinC 2017 entry, hidden test set ({ANCHOR})", "", "large", "", "0.83", "", ""])
    return setting_table(
        results,
        "cinc2017",
        {"lrhnet_cinc2017.json": lrh, "liteheart_cinc2017.json": lite},
        ["model", "taught by", "params", "runs", "CinC 2017 F1", "macro F1", "macro AUROC"],
        rows,
    )


def paired_over_runs(result, group, base, metric="macro_auroc", pair=("seed", "fold"), cluster="fold"):
    """``"+0.010 [-0.011, +0.031]"``: the mean difference in ``metric`` between the runs of ``group``
    and the runs of ``base`` that share ``pair`` (same seed and fold: same test records), with a 95 %
    Student-t interval over the ``cluster`` means (the seeds of a fold share their test records, so a
    fold counts once; pairs without a ``cluster`` value count one by one). With a single cluster the
    mean stands alone; without pairs, ``""``."""
    import numpy as np
    from scipy import stats

    def runs(fields):
        return {
            tuple(run.get(k) for k in pair): run["test"][metric]
            for run in result["runs"]
            if all(run.get(k) == v for k, v in fields.items())
        }

    row, plain = runs(group), runs(base)
    at = pair.index(cluster) if cluster in pair else None
    clusters = {}
    for key in row:
        if key in plain:
            label = key if at is None or key[at] is None else key[at]
            clusters.setdefault(label, []).append(row[key] - plain[key])
    if not clusters:
        return ""
    means = np.array([np.mean(differences) for differences in clusters.values()])
    if len(means) == 1:
        return f"{means[0]:+.3f}"
    spread = stats.sem(means)
    if spread == 0:  # every fold agrees: the interval is the point
        low = high = means.mean()
    else:
        low, high = stats.t.interval(0.95, len(means) - 1, loc=means.mean(), scale=spread)
    return f"{means.mean():+.3f} [{low:+.3f}, {high:+.3f}]"


def ludb(results):
    lrh, lite = load(results, "lrhnet_ludb.json"), load(results, "liteheart_ludb.json")
    metrics = ("macro_auroc", "macro_f1")
    rows = []

    def add(result, labels, group, base=None):
        """One row, with its paired difference from ``base`` (the plain student of its leads) when given."""
        found = summary_rows(result, [(labels, group)], metrics)
        rows.extend(row + [paired_over_runs(result, group, base) if base else ""] for row in found)

    add(lrh, ("SE-ResNet teacher, width 0.25", "12", ""), {"leads": "12", "model": "teacher"})
    for leads, names in (("1", "I"), ("2", "I, II"), ("3", "I, II, V2")):
        plain = {"leads": leads, "model": "student"}
        add(lrh, ("LRH-Net student", names, ""), plain)
        add(lrh, ("LRH-Net + KD", names, "12-lead teacher"), {"leads": leads, "model": "student_kd"}, plain)
        add(
            lrh,
            ("LRH-Net + MLKD (sequential)", names, "teacher + assistant"),
            {"leads": leads, "model": "student_mlkd"},
            plain,
        )
        add(
            lrh,
            ("assistant (SE-ResNet width 0.25, KD)", names, "12-lead teacher"),
            {"leads": leads, "model": "assistant (KD from teacher)"},
            plain,
        )
    plain = {"setting": "100% labelled", "model": "student"}
    add(lite, ("LiteHeart student", "I", ""), plain)
    add(lite, ("LiteHeart student + KD", "I", "12-lead teacher"), {"setting": "100% labelled", "model": "kd"}, plain)
    add(
        lite,
        ("LiteHeart student + all LiteHeart terms", "I", "12-lead teacher"),
        {"setting": "100% labelled", "model": "liteheart"},
        plain,
    )
    rows.append(
        [
            f"PTB-XL, 100 k-parameter ResNet ({ANCHOR}: Strodthoff et al. 2021)",
            "12 / I",
            "",
            "",
            "",
            "0.913 / 0.842",
            "",
            "",
        ]
    )
    return setting_table(
        results,
        "ludb",
        {"lrhnet_ludb.json": lrh, "liteheart_ludb.json": lite},
        [
            "model",
            "leads",
            "taught by",
            "params",
            "runs",
            "macro AUROC",
            "macro F1",
            "Δ macro AUROC vs plain [95 % CI]",
        ],
        rows,
    )


def synthetic(results):
    """The synthetic setting, run like the PTB-XL benchmark through ``train.py`` (lead I)."""
    return distillation_rows(results, "synthetic_distillation.json") + ["", *efficiency(results, "synthetic")]


def distillation_rows(results, name):
    """Every row of a ``benchmarks.ptbxl_distillation`` results file, with where it comes from."""
    from benchmarks.ptbxl_distillation import summary_table

    result = load(results, name)
    return [source_line(name, result), "", *summary_table(result["summary"])]


def setting_table(results, setting, sources, header, rows):
    """A setting's lines: where its numbers come from (``{file: result}``), its table, its efficiency table."""
    lines = [source_line(name, result) for name, result in sources.items()] + [""]
    return lines + rows_table(header, rows) + ["", *efficiency(results, setting)]


def efficiency(results, setting):
    """Size and single-thread latency per window of the setting's networks."""
    result = load(results, "efficiency.json")
    part = result["settings"][setting]
    rows = []
    for name, entry in part["networks"].items():
        rows.append(
            [
                name,
                f"{entry['params']:,}",
                f"{entry['macs'] / 1e6:.1f} M",
                f"{entry['keras_latency_ms']:.2f} ms",
                *(
                    f"{entry[kind]['bytes'] / 1024:,.0f} KB, {entry[kind]['latency_ms']:.2f} ms"
                    for kind in ("float32", "int8")
                ),
            ]
        )
    lines = [f"Size and speed at {part['window']} samples ({source_line('efficiency.json', result)[5:]})", ""]
    return lines + rows_table(["network", "params", "MACs", "Keras latency", "TFLite float32", "TFLite int8"], rows)


def deployment(results):
    result = load(results, "deployment_cinc2017.json")
    students = result["students"]
    names = [variant["variant"] for variant in next(iter(students.values()))["variants"]]
    header = ["variant"] + [f"{label} {what}" for label in students for what in ("F1", "size (gzip)", "latency")]
    rows = []
    for index, name in enumerate(names):
        row = [name]
        for student in students.values():
            variant = student["variants"][index]
            size = (
                f"{variant['bytes'] / 1024:.0f} KB ({variant['gzip_bytes'] / 1024:.0f} KB)"
                if "bytes" in variant
                else ""
            )
            latency = variant.get("tflite_latency_ms", variant.get("keras_latency_ms"))
            loss = f" ({-variant['loss_vs_float']:+.3f})" if "loss_vs_float" in variant else ""
            row += [f"{variant['test']['cinc2017_f1']:.3f}{loss}", size, f"{latency:.2f} ms" if latency else ""]
        rows.append(row)
    line = (
        f"From `benchmarks/results/deployment_cinc2017.json`, made by `{runnable(result['command'])}` at commit "
        f"{result['commit']}, "
        f"{result['date'][:10]}, one seed, {result['total_seconds'] / 60:.0f} min."
    )
    return [line, ""] + rows_table(header, rows)


def published(results):
    """The published CinC 2017 students: test metrics of the teacher, float and int8 students, and their files."""
    reports = model_card.read_reports(results)
    if not reports:
        raise FileNotFoundError(2, "no published students", os.path.join(results, "cinc2017_published_*.json"))
    lines = [
        source_line(f"cinc2017_published_{method}.json", {**report["published"], "seeds": [report["seed"]]})
        for method, report in reports.items()
    ]
    metrics = model_card.metrics_table(reports) + [
        f"| best CinC 2017 entry, hidden test set ({ANCHOR}) | large | 0.83 | | | | | |"
    ]
    seeds, screens = model_card.seeds_section(reports), model_card.screen_section(reports)
    return lines + ["", *metrics, "", *seeds, *screens, *model_card.efficiency_table(reports)]


def stale_warning(result, current):
    """A warning line (and a blank one) when the files a result measured are not the ones in its
    ``models`` folder now (``current``: the result as read back for those files, or None)."""
    if current:
        return []
    return [
        f"**These figures measured other files than those now in `{result['models']}`:** run the command again.",
        "",
    ]


def af_external(results):
    """The published CinC 2017 students on another device: atrial fibrillation on PTB-XL's lead I."""
    result = load(results, model_card.EXTERNAL_RESULTS)
    current = model_card.read_external(results, os.path.join(REPOSITORY, result["models"]))
    lines = [source_line(model_card.EXTERNAL_RESULTS, result), "", *stale_warning(result, current)]
    return lines + model_card.external_table(result)


def decision_rule(results):
    """The published CinC 2017 files with the arg-max and with per-class divisors tuned on validation."""
    from benchmarks.published_files import fingerprint, model_files

    result = load(results, "cinc2017_decision_rule.json")
    folder = os.path.join(REPOSITORY, result["models"])
    now = {os.path.basename(path): fingerprint(path) for path in model_files(folder)}
    current = now == {name: found["fingerprint"] for name, found in result["files"].items()}
    rows = [
        [
            f"`{name}`",
            *(
                f"{found[rule][split]:.3f}"
                for split in ("validation_cinc2017_f1", "test_cinc2017_f1")
                for rule in ("argmax", "tuned")
            ),
            ", ".join(f"{t:.2f}" for t in found["thresholds"]),
        ]
        for name, found in result["files"].items()
    ]
    header = ["file", "validation F1, arg-max", "tuned", "test F1, arg-max", "tuned", "divisors N, A, O, ~"]
    lines = [source_line("cinc2017_decision_rule.json", result), "", *stale_warning(result, current)]
    return lines + rows_table(header, rows)


def ptbxl(results):
    """Every row of the PTB-XL distillation benchmark."""
    return distillation_rows(results, "ptbxl_distillation.json")


def ptbxl_crops_averaged(results):
    """Every row of the PTB-XL benchmark whose teachers learned from 2.5 s crops with averaged weights."""
    return distillation_rows(results, "ptbxl_crops_averaged.json")


def ptbxl_crops_averaged_full(results):
    """Every row of the same benchmark with its width-1 averaged crop teachers trained again, full labels."""
    return distillation_rows(results, "ptbxl_crops_averaged_full.json")


def rows_by_lead_set(result, fraction, keys, required=None):
    """``({leads: {key: summary row or None}}, the keys recorded at some lead set)`` of the PTB-XL
    ``result`` at ``fraction``, for the (model, teacher kind) ``keys`` in their order; lead sets
    without a row of the ``required`` key (when given) are left out."""
    from benchmarks.ptbxl_distillation import LEAD_SETS

    found = {
        leads: {key: summary_row(result, fraction=fraction, leads=leads, model=key[0], teacher=key[1]) for key in keys}
        for leads in result.get("lead_sets", LEAD_SETS)
    }
    if required:
        found = {leads: rows for leads, rows in found.items() if rows[required]}
    return found, [key for key in keys if any(rows[key] for rows in found.values())]


def ptbxl_scarce(results, fraction=0.1):
    """The headline: students with labels on ``fraction`` of PTB-XL's training records, plain and distilled
    (lead sets without a plain student, and columns without any row shown, are left out)."""
    from benchmarks.ptbxl_distillation import PTBXLResults, auroc_cell, delta_cell

    result = load(results, "ptbxl_distillation.json")
    found, columns = rows_by_lead_set(result, fraction, {PLAIN: None, **SCARCE_ROWS}, required=PLAIN)
    columns = [key for key in columns if key != PLAIN]
    rows = []
    for leads, distilled in found.items():
        plain = distilled[PLAIN]
        row = [leads, f"{plain['runs']}", auroc_cell(plain)]
        for kd in (distilled[key] for key in columns):
            partial = f" ({kd['runs']} of {plain['runs']} seeds so far)" if kd and kd["runs"] < plain["runs"] else ""
            row += [auroc_cell(kd) + partial, delta_cell(kd)] if kd else ["", ""]
        rows.append(row)
    lines = [source_line("ptbxl_distillation.json", result), ""]
    teachers = teacher_scores(result["summary"])
    if teachers:
        lines += [f"12-lead teachers on all training labels, fold-10 macro AUROC: {teachers}."]
    replaced = [run for run in result.get("replaced", []) if run["model"] == "teacher" and run["fraction"] == 1]
    if replaced:
        dates = sorted({run["replaced_on"][:10] for run in replaced})
        lines += [
            f"Earlier teachers of the same seeds, replaced on {', '.join(dates)} by the ones above (kept under "
            f"`replaced` in the results file; rows recorded before then distilled from them): "
            f"{teacher_scores(PTBXLResults.summarise(replaced))}."
        ]
    lines += [""] if teachers or replaced else []
    header = ["student leads", "seeds", f"plain student, {fraction:.0%} labels"]
    for key in columns:
        header += [SCARCE_ROWS[key].format(fraction=fraction), "Δ [95 % CI]"]
    return lines + rows_table(header, rows)


def teacher_scores(summary):
    """The 12-lead teachers on every label in ``summary`` rows: one per seed and their ensemble, macro
    AUROC on test and validation, as one phrase ("" without any)."""
    from benchmarks.ptbxl_distillation import auroc_cell

    scores = [
        f"{what}: {auroc_cell(row)}"
        + (f" (validation {row['validation_macro_auroc']:.3f})" if row.get("validation_macro_auroc") else "")
        for what, kind in (("one teacher per seed", "all"), ("the ensemble of the seeds' teachers", "ensemble"))
        for row in summary
        if row["model"] == "teacher" and row["fraction"] == 1 and row["teacher"] == kind
    ]
    return "; ".join(scores)


# The rows of the full-label table, in its column order: (model, teacher kind) -> column title.
FULL_LABEL_ROWS = {
    ("student", "none"): "plain student",
    ("student_kd", "all"): "+ KD",
    ("student_mlkd", "all"): "+ MLKD",
    ("student_kd", "ensemble"): "+ KD from the ensemble",
    ("student_kd_t2", "all"): "+ KD × T²",
    ("student_kd_carry", "all"): "+ KD weighted by what the leads carry",
    ("liteheart_alone", "none"): "LiteHeart student alone",
    ("liteheart", "all"): "+ LiteHeart terms",
    ("same_lead_ceiling", "none"): "same-lead SE-ResNet",
}


def ptbxl_full(results):
    """Students with every training label: per lead set, each row recorded so far with its paired
    difference from the plain student (columns without any row are left out)."""
    from benchmarks.ptbxl_distillation import REFERENCES, auroc_cell, delta_cell

    result = load(results, "ptbxl_distillation.json")
    found, columns = rows_by_lead_set(result, 1.0, FULL_LABEL_ROWS)
    paired = {key: key[0] in REFERENCES for key in columns}  # rows with a paired Δ get its column
    header = ["student leads", "seeds"]
    for key in columns:
        header += [FULL_LABEL_ROWS[key]] + (["Δ [95 % CI]"] if paired[key] else [])
    table = []
    for leads, rows in found.items():
        if not any(rows.values()):
            continue
        seeds = max(row["runs"] for row in rows.values() if row)
        line = [leads, str(seeds)]
        for key in columns:
            row = rows[key]
            partial = f" ({row['runs']} of {seeds} seeds so far)" if row and row["runs"] < seeds else ""
            line += [auroc_cell(row) + partial if row else ""]
            line += [delta_cell(row) if row else ""] if paired[key] else []
        table.append(line)
    teachers = teacher_scores(result["summary"])
    lines = [source_line("ptbxl_distillation.json", result), ""]
    lines += [f"12-lead teachers on all training labels, fold-10 macro AUROC: {teachers}.", ""] if teachers else []
    return lines + (rows_table(header, table) if table else ["No student with every training label is recorded yet."])


# The plain student that each row of the scarce-label table is paired with.
PLAIN = ("student", "none")
# The other rows of the scarce-label table, each paired with the plain student, in its column order:
# (model, teacher kind) -> column title.
SCARCE_ROWS = {
    ("student_kd", "all"): "+ KD, teacher on all labels",
    ("student_kd_t2", "all"): "+ KD × T², teacher on all labels",
    ("student_kd", "ensemble"): "+ KD, ensemble of the seeds' teachers on all labels",
    ("student_kd", "same"): "+ KD, teacher on the same {fraction:.0%} labels",
    ("liteheart_alone", "none"): "LiteHeart student alone, {fraction:.0%} labels",
    ("liteheart", "all"): "+ LiteHeart terms, teacher on all labels",
}


def ptbxl_published(results):
    """The published PTB-XL networks: what each is, how it was chosen, its float and int8 test scores
    (``models/ptbxl/MODEL_CARD.md`` and the README)."""
    result = load(results, "ptbxl_published.json")
    published = result["published"]
    classes = list(next(iter(published.values()))["export"]["test"]["per_class"]["auroc"])
    header = ["file", "leads", "chosen row (validation)", "params", "int8 bytes", "macro AUROC float", "int8"]
    rows = []
    for name, entry in published.items():
        export, row = entry["export"], entry["row"]
        taught = row["model"] != "teacher" and row["teacher"] != "none"
        chosen = row["model"] + (f", teacher {row['teacher']}" if taught else "")
        chosen += f", seed {entry['seed']} ({entry['validation_macro_auroc']['seed']:.3f})"
        rows.append(
            [
                f"`{name}.tflite`",
                ",".join(entry["leads"]) if len(entry["leads"]) < 12 else "12",
                chosen,
                f"{entry['params']:,}",
                f"{export['bytes']:,}",
                f"{export['keras_test']['macro_auroc']:.3f}",
                f"{export['test']['macro_auroc']:.3f}",
                *(f"{export['test']['per_class']['auroc'][c]:.3f}" for c in classes),
            ]
        )
    lines = [source_line("ptbxl_published.json", result), "", f"Students of {result['fraction']:.0%} labels.", ""]
    return lines + rows_table(header + [f"int8 {c}" for c in classes], rows)


def training_speed(results):
    """Training samples per second of each network and variant, with the share of the assumed CPU peak."""
    result = load(results, "training_speed.json")
    variants = list(dict.fromkeys(case["variant"] for case in result["cases"]))
    rows = {}
    for case in result["cases"]:
        found = (
            f"{case['samples_per_second']:,.0f} ({case['share_of_peak']:.0%})"
            if "samples_per_second" in case
            else f"failed: {case['error']}"
        )
        rows.setdefault(case["network"], {})[case["variant"]] = found
    cores = round(result["peak_flops"] / (result["clock_mhz"] * 1e6 * result["flops_per_cycle"]))
    peak = (
        f"Samples per second (share of the peak). Peak taken as {result['peak_flops'] / 1e9:,.0f} GFLOP/s: {cores} "
        f"cores x {result['clock_mhz']:,.0f} MHz x {result['flops_per_cycle']:g} float32 FLOPs per cycle (an "
        "assumption; see the script's docstring)."
    )
    table = rows_table(
        ["network", *variants], [[name, *(row.get(variant, "") for variant in variants)] for name, row in rows.items()]
    )
    units = [flag for flag in result["cpu"]["flags"] if flag.startswith(("amx", "avx512_bf16"))]
    machine = f"CPU: {result['cpu']['model']}, with {', '.join(units) or 'no bfloat16 or AMX units'}."
    return [source_line("training_speed.json", result), "", f"{machine} {peak}", "", *table]


TABLES = {
    "ptbxl": ptbxl,
    "ptbxl_scarce": ptbxl_scarce,
    "ptbxl_full": ptbxl_full,
    "ptbxl_crops_averaged": ptbxl_crops_averaged,
    "ptbxl_crops_averaged_full": ptbxl_crops_averaged_full,
    "cinc2017": cinc2017,
    "ludb": ludb,
    "synthetic": synthetic,
    "deployment": deployment,
    "published": published,
    "af_external": af_external,
    "decision_rule": decision_rule,
    "ptbxl_published": ptbxl_published,
    "training_speed": training_speed,
}


def render(results):
    """``{table name: Markdown}`` of every table whose results files exist in ``results``."""
    tables = {}
    for name, build in TABLES.items():
        try:
            tables[name] = "\n".join(build(results))
        except FileNotFoundError as missing:
            print(f"table {name}: {missing.filename} is missing; left as it is")
    return tables


def replace_tables(text, tables):
    """``text`` with each ``<!-- table:NAME -->`` ... ``<!-- /table:NAME -->`` block replaced by ``tables[NAME]``."""
    for name, table in tables.items():
        pattern = re.compile(rf"(<!-- table:{name} -->\n).*?(<!-- /table:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no <!-- table:{name} --> block to fill")
        text = pattern.sub(lambda match: match.group(1) + table + "\n" + match.group(2), text)
    return text


def tables_in(text):
    """The names of the table blocks in ``text``."""
    return set(re.findall(r"<!-- table:(\w+) -->", text))


def refresh(text, tables):
    """``text`` with the blocks it holds refilled from ``tables`` (blocks without a rendered table stay)."""
    return replace_tables(text, {name: table for name, table in tables.items() if name in tables_in(text)})
