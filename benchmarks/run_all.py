"""Run the benchmarks behind the results tables and regenerate the tables.

    python -m benchmarks.run_all --tables-only  # re-render the tables in README.md, docs/results.md, model card
    python -m benchmarks.run_all --quick        # each benchmark on a subset, 1 epoch: 25 min; runs/benchmarks_quick
    python -m benchmarks.run_all                # each benchmark in full into runs/benchmarks_full: days

Times on this project's 2-core CPU: ``--quick`` took 24.6 min (``benchmarks/results/run_all_quick.txt``);
the committed results before the PTB-XL benchmark took 9.0 h to make, with several runs sharing the
cores; the PTB-XL benchmark adds about 100 trainings of up to 40 epochs.

``--data`` is the folder holding ``cinc2017/training2017``, ``ludb`` and ``ptbxl`` (default
``../shared/data``). The PTB-XL benchmark alone trains about 100 networks of up to 40 epochs (it
resumes; see ``benchmarks/ptbxl_distillation.py``).
Each benchmark's command, commit, seeds and date are written into its results file, and each table
names them. The full mode runs the commands exactly as the committed results record them (the
published students with the flags of each committed publishing call, earliest first), one after another, on one
thread each (``TF_NUM_INTRAOP_THREADS=1``); a failure stops it. Training modes write their results,
tables and published files into their own folder, and runs and kept seeds into a new folder under
``runs/`` (every seed trains again), never over the committed ones: compare, then copy what you keep.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

from benchmarks import model_card, ptbxl_model_card, tables  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
RESULTS = os.path.join("benchmarks", "results")
# results file -> benchmark arguments; {data} is --data
BENCHMARKS = {
    "efficiency.json": ["-m", "benchmarks.efficiency"],
    "lrhnet_cinc2017.json": [
        "-m",
        "benchmarks.lrhnet_distillation",
        "cinc2017",
        "--data",
        "{data}/cinc2017/training2017",
        "--seeds",
        "0",
        "1",
        "2",
    ],
    "lrhnet_ludb.json": [
        "-m",
        "benchmarks.lrhnet_distillation",
        "ludb",
        "--data",
        "{data}/ludb",
        "--seeds",
        "0",
        "1",
        "2",
    ],
    "lrhnet_synthetic.json": ["-m", "benchmarks.lrhnet_distillation", "synthetic", "--seeds", "0", "1", "2"],
    "liteheart_cinc2017.json": [
        "-m",
        "benchmarks.liteheart_ablation",
        "cinc2017",
        "--data",
        "{data}/cinc2017/training2017",
    ],
    "liteheart_ludb.json": ["-m", "benchmarks.liteheart_ablation", "ludb", "--data", "{data}/ludb"],
    "deployment_cinc2017.json": ["-m", "benchmarks.deployment", "--data", "{data}/cinc2017/training2017"],
    "ptbxl_distillation.json": ["-m", "benchmarks.ptbxl_distillation", "--data", "{data}/ptbxl"],
    "synthetic_distillation.json": [
        "-m",
        "benchmarks.ptbxl_distillation",
        "--data",
        "synthetic:n=2000,fs=100,seconds=10,seed=0",
        "--lead-sets",
        "I",
        "--fractions",
        "0.1",
        "--teacher-width",
        "0.25",
        "--runs",
        "runs/synthetic_benchmark",
    ],
}
# the published students: train.py runs, their reports into the results folder and their files into {models};
# with the other flags of each committed publishing call (publish_flags) before these folders (publish_into)
PUBLISH = ["-m", "benchmarks.publish_cinc2017"]
PUBLISH_FOLDERS = ("--data", "--models", "--runs", "--kept", "--results")
# then the published students' AF figures on PTB-XL's lead I, another device
EXTERNAL = ["-m", "benchmarks.af_external", "--data", "{data}/ptbxl", "--models", "{models}"]


def recorded_minutes(results):
    """Minutes the committed results files took to make (their ``total_seconds``, summed over resumed calls)."""
    total = 0.0
    for name in BENCHMARKS:
        path = os.path.join(results, name)
        if os.path.exists(path):
            with open(path) as handle:
                result = json.load(handle)
            total += sum(call.get("total_seconds", 0) for call in [*result.get("earlier", []), result])
    total += sum(report.get("seconds", 0) for report in model_card.read_reports(results).values())
    return total / 60


def publish_flags(results):
    """The flags of each committed publishing call whose reports are in ``results``, earliest first (a later
    call replaces the files of the methods it publishes; no call when there are no reports), without the
    folders, which ``run_all`` chooses: ``[[flag, ...], ...]``."""
    calls = []
    for command in model_card.publishing_calls(model_card.read_reports(results)):
        words = shlex.split(command)
        words, flags = words[words.index("benchmarks.publish_cinc2017") + 1 :], []
        while words:
            word = words.pop(0)
            if word.split("=")[0] not in PUBLISH_FOLDERS:
                flags.append(word)
            elif "=" not in word:
                words.pop(0)
        calls.append(flags)
    return calls


def publish_into(call=""):
    """The folder flags of a publishing call; ``call`` ("1", "2", ...) gives it runs and kept folders of its
    own, ``{runs<call>}`` and ``{kept<call>}``, so that calls of other flags never share kept runs."""
    folders = ["--data", "{data}/cinc2017/training2017", "--models", "{models}"]
    return [*folders, "--runs", f"{{runs{call}}}", "--kept", f"{{kept{call}}}"]


def run_benchmarks(args):
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    os.makedirs(args.results, exist_ok=True)
    models = os.path.join(args.results, "models")
    os.makedirs(os.path.join(ROOT, "runs"), exist_ok=True)
    runs = tempfile.mkdtemp(
        prefix="cinc2017_published_", dir=os.path.join(ROOT, "runs")
    )  # a fresh folder: publishing resumes what it finds
    # paths relative to the repository, where the commands run, so that the results record no machine's folders
    places = {
        name: os.path.relpath(path, ROOT)
        for name, path in {
            "data": args.data,
            "models": models,
            "runs": runs,
            "kept": os.path.join(runs, "kept"),  # kept seeds of this call only: it trains every seed
        }.items()
    }
    results = os.path.relpath(args.results, ROOT)
    commands = {name: [*command, "--out", os.path.join(results, name)] for name, command in BENCHMARKS.items()}
    calls = publish_flags(os.path.join(ROOT, RESULTS)) or [[]]  # none committed: the script's defaults
    for number, flags in enumerate(calls, 1):
        call = str(number) if len(calls) > 1 else ""
        if call:
            places[f"runs{call}"] = os.path.join(places["runs"], f"call{call}")
            places[f"kept{call}"] = os.path.join(places["runs"], f"call{call}", "kept")
        name = "published students" + (f", call {call}" if call else "")
        commands[name] = [*PUBLISH, *flags, *publish_into(call), "--results", results]
    commands["AF on PTB-XL"] = [*EXTERNAL, "--out", os.path.join(results, model_card.EXTERNAL_RESULTS)]
    for name, command in commands.items():
        if any("{data}" in part for part in command) and not os.path.isdir(args.data):
            print(f"{name}: skipped, {args.data} is absent", flush=True)
            continue
        argv = [sys.executable, *(part.format(**places) for part in command)] + (["--quick"] if args.quick else [])
        print(" ".join(argv), flush=True)
        started = time.time()
        subprocess.run(argv, check=True, cwd=ROOT, env=env)
        print(f"{name}: {(time.time() - started) / 60:.1f} min", flush=True)


def write_tables(results, root):
    """Render every table from ``results`` into the blocks of ``tables.DOCUMENTS`` under ``root``
    (or, with ``root`` None, into a new ``tables.md`` beside the results)."""
    rendered = tables.render(results)
    if root:
        targets = [os.path.join(root, document) for document in tables.DOCUMENTS]
        for target in targets:
            with open(target) as handle:
                text = tables.refresh(handle.read(), rendered)
            with open(target, "w") as handle:
                handle.write(text)
    else:
        targets = [os.path.join(results, "tables.md")]
        with open(targets[0], "w") as handle:
            handle.write("\n\n".join(f"## {name}\n\n{table}" for name, table in rendered.items()) + "\n")
    reports = model_card.read_reports(results)
    if reports and root:
        model_card.write_model_card(reports, os.path.join(ROOT, "models", "cinc2017"), results)
    published = os.path.join(ROOT, "models", "ptbxl")
    if root and os.path.exists(os.path.join(results, "ptbxl_published.json")) and os.path.isdir(published):
        ptbxl_model_card.write_model_card(results, published)
    print(f"tables ({', '.join(rendered)}) written to {', '.join(targets)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default=os.path.join(ROOT, "..", "shared", "data"),
        help="folder with cinc2017/training2017, ludb and ptbxl (default: ../shared/data)",
    )
    parser.add_argument("--quick", action="store_true", help="small subsets and 1 epoch, into runs/benchmarks_quick")
    parser.add_argument(
        "--tables-only", action="store_true", help="no training: render the tables from the results files"
    )
    parser.add_argument(
        "--results",
        default=None,
        help="results folder (default: benchmarks/results with --tables-only, else runs/benchmarks_full or, "
        "with --quick, runs/benchmarks_quick); tables go into the documents only from benchmarks/results",
    )
    args = parser.parse_args()
    training = "benchmarks_quick" if args.quick else "benchmarks_full"
    args.results = os.path.abspath(
        args.results or (os.path.join(ROOT, RESULTS) if args.tables_only else os.path.join(ROOT, "runs", training))
    )
    committed = args.results == os.path.abspath(os.path.join(ROOT, RESULTS))
    if committed and not args.tables_only:
        parser.error(f"--results {RESULTS} holds the committed results, which a training run never overwrites")
    documents_root = ROOT if committed else None
    if not args.tables_only:
        if not args.quick:
            print(
                f"full run: the committed results took {recorded_minutes(os.path.join(ROOT, RESULTS)) / 60:.1f} h "
                "to make on a 2-core CPU",
                flush=True,
            )
        started = time.time()
        run_benchmarks(args)
        print(f"benchmarks: {(time.time() - started) / 60:.1f} min", flush=True)
    write_tables(args.results, documents_root)


if __name__ == "__main__":
    main()
