"""``report.json`` and ``report.md`` of a run, and the table printed at the end."""

import importlib.metadata
import os
import platform
import subprocess

PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "ai-edge-litert", "numpy", "wfdb")
HEADLINE = ("challenge_metric", "cinc2017_f1", "macro_auroc", "macro_ap", "macro_f1")


def package_versions():
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu():
    """The CPU's model name and its vector and matrix flags (``avx*``, ``amx*``, ``fma``), from ``/proc/cpuinfo``."""
    try:
        with open("/proc/cpuinfo") as handle:
            fields = dict(line.split(":", 1) for line in handle.read().split("\n\n")[0].splitlines() if ":" in line)
    except OSError:
        return {"model": platform.processor() or "unknown", "flags": []}
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = sorted(flag for flag in fields.get("flags", "").split() if flag.startswith(("avx", "amx", "fma")))
    return {"model": fields.get("model name", "unknown"), "flags": flags}


_COMMIT = []  # filled on the first call, early in a run: the code as it was loaded


def source_commit():
    """The commit of the checkout this code runs from (``git describe --always``), with ``-dirty``
    when a tracked file differs from it, the results files aside (``benchmarks/results``, which
    benchmarks write while they run); taken once per process (so a long training names the code it
    started with); None outside a git checkout."""
    if not _COMMIT:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

        def git(*arguments):
            result = subprocess.run(["git", *arguments], capture_output=True, text=True, cwd=root, timeout=10)
            return result.stdout.strip() if result.returncode == 0 else None

        try:
            commit = git("describe", "--always")
            changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", f":(exclude){RESULTS}")
            known = commit and changed is not None  # a status git could not give leaves the commit unknown
            _COMMIT.append(commit + ("-dirty" if changed else "") if known else None)
        except (OSError, subprocess.SubprocessError):
            _COMMIT.append(None)
    return _COMMIT[0]


RESULTS = "benchmarks/results"  # files that benchmarks write, which do not make a checkout's code differ


def headline_metrics(report):
    """The metrics shown in tables: those of ``HEADLINE`` that some model has."""
    present = {metric for entry in report["models"].values() for metric in entry["test"]}
    return [metric for metric in HEADLINE if metric in present]


def learned_from_words(entry):
    """Which training records a network learned from, in words: ``"272 labelled + 2,448 unlabelled"``."""
    counts = entry.get("learned_from")
    if not counts:
        return ""
    words = f"{counts['labelled']:,} labelled"
    return words + (f" + {counts['unlabelled']:,} unlabelled" if counts["unlabelled"] else "")


def model_table(report):
    metrics = headline_metrics(report)
    header = "| model | leads | params | learned from | " + " | ".join(metrics) + " |"
    lines = [header, "|---" * (4 + len(metrics)) + "|"]
    for name, entry in report["models"].items():
        cells = [f"{entry['test'][m]:.3f}" if m in entry["test"] else "" for m in metrics]
        lines.append(
            f"| {name} | {','.join(entry.get('leads', []))} | {entry['params']:,} | {learned_from_words(entry)} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def markdown(report):
    data = report["data"]
    lines = [
        "# Run report",
        "",
        f"Command: `{report['command']}`  ",
        f"Seed {report['seed']}, method {report['method']}, stages {','.join(report['stages'])}",
        "",
        f"Data: {data['format']} {data['location']}: {data['records']} records, split {data['split']}, "
        f"{data['labeled']} labelled training records",
        "",
        "## Models (test split)",
        "",
        *model_table(report),
    ]
    if report["exports"]:
        lines += [
            "",
            "## Exports",
            "",
            "| file | kind | bytes | " + " | ".join(headline_metrics(report)) + " |",
            "|---" * (3 + len(headline_metrics(report))) + "|",
        ]
        for export in report["exports"]:
            cells = [f"{export['test'][m]:.3f}" if m in export["test"] else "" for m in headline_metrics(report)]
            lines.append(f"| {export['file']} | {export['kind']} | {export['bytes']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(run_dir, report):
    from data_utils.files import atomic_write

    report = {**report, "packages": package_versions(), "cpu": cpu()}  # the machine that wrote the report
    run_dir.write("report.json", report)
    atomic_write(run_dir.path("report.md"), markdown(report))


def print_summary(report, run_dir):
    print("\n" + "\n".join(model_table(report)))
    print(f"\nReport: {run_dir.path('report.md')} (and report.json); {report.get('seconds', 0):.0f} s")
