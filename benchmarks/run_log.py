"""The run log the training benchmarks share: train, score, record, and summarise as JSON and Markdown."""

import json
import os
import time

import numpy as np

from data_utils.files import atomic_write
from lrhnet.efficiency import trainable_parameters
from lrhnet.recipes import fit_network, score_on_test
from lrhnet.saving import load_network

SUMMARY_METRICS = ("cinc2017_f1", "macro_f1", "macro_auroc", "macro_ap", "f1_N", "f1_A", "f1_O", "f1_~")


class Results:
    """Run records, rewritten atomically as JSON and as a Markdown summary after each addition.

    A run is a dict with at least ``model``, ``seed``, ``params`` and ``test`` (metric -> value);
    runs agreeing on ``key`` replace each other; the summary averages runs agreeing on ``group``.
    """

    def __init__(self, path, header, resume=False, key=("model", "leads", "seed", "fold"), group=("leads", "model")):
        self.path, self.header, self.runs = path, header, []
        self.KEY, self.group = key, group
        if resume and os.path.exists(path):
            with open(path) as handle:
                earlier = json.load(handle)
            self.runs = earlier["runs"]
            # each call's CPU too: networks trained on another kind of CPU come out different
            provenance_keys = ("command", "commit", "code_changed", "date", "machine", "cpu", "total_seconds")
            header["earlier"] = earlier.get("earlier", []) + [
                {key: earlier[key] for key in provenance_keys if key in earlier}
            ]

    def has(self, **key):
        return self.find(**key) is not None

    def find(self, **key):
        """The recorded run that agrees with ``key``, or None."""
        return next((run for run in self.runs if all(run.get(name) == key.get(name) for name in self.KEY)), None)

    def add(self, **run):
        """Record ``run``, replacing an earlier run that agrees with it on ``key``."""
        same = [old for old in self.runs if all(old.get(name) == run.get(name) for name in self.KEY)]
        for old in same:
            print(f"replacing {run['model']} seed {run['seed']}: test {old['test']} -> {run['test']}", flush=True)
            self.runs.remove(old)
        self.runs.append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "history"}), flush=True)
        self.write()

    def complete(self, run, args):
        """Call ``run(args, self)``, then record the total time and write the final files."""
        started = time.time()
        run(args, self)
        self.header["total_seconds"] = round(time.time() - started, 1)
        self.write()

    def summary(self):
        groups = {}
        for run in self.runs:
            groups.setdefault(tuple(run[name] for name in self.group), []).append(run)
        rows = []
        for values, runs in groups.items():
            row = {**dict(zip(self.group, values)), "runs": len(runs), "params": runs[0]["params"]}
            for metric in SUMMARY_METRICS:
                values = [run["test"][metric] for run in runs if metric in run["test"]]
                if values:
                    row[metric] = [float(np.mean(values)), float(np.std(values))]
            rows.append(row)
        return rows

    def write(self):
        content = {**self.header, "runs": self.runs, "summary": self.summary()}
        atomic_write(self.path, json.dumps(content, indent=1))
        atomic_write(os.path.splitext(self.path)[0] + ".md", self.markdown())

    def markdown(self):
        summary = self.summary()
        metrics = [m for m in SUMMARY_METRICS if any(m in row for row in summary)]
        lines = [f"# {self.header['setting']}", ""]
        for call in self.header.get("earlier", []) + [self.header]:
            lines += [f"Command: `{call['command']}`  ", f"Commit {call['commit']}, {call['date']}  "]
        lines += [f"Seeds {sorted({run['seed'] for run in self.runs})}", ""]
        lines.append("| " + " | ".join(self.group) + " | params | runs | " + " | ".join(metrics) + " |")
        lines.append("|---" * (len(self.group) + 2 + len(metrics)) + "|")
        for row in summary:
            cells = [f"{row[m][0]:.3f} ± {row[m][1]:.3f}" if m in row else "" for m in metrics]
            lines.append(
                "| "
                + " | ".join(str(row[name]) for name in self.group)
                + f" | {row['params']:,} | {row['runs']} | "
                + " | ".join(cells)
                + " |"
            )
        return "\n".join(lines) + "\n"


def train_and_score(
    results, network, pipeline, split, classes, multilabel, epochs, seed, view, name, leads, extra=None, **fit
):
    """Train, score on the test split and record; returns ``network``."""
    started = time.time()
    fitted = fit_network(
        network, pipeline, split, classes, epochs=epochs, seed=seed, view=view, multilabel=multilabel, **fit
    )
    test = score_on_test(network, pipeline, split, classes, view=view, multilabel=multilabel)
    results.add(
        model=name,
        leads=leads,
        seed=seed,
        params=trainable_parameters(network),
        test=test,
        seconds=round(time.time() - started, 1),
        best_epoch=fitted["best_epoch"],
        best_validation=fitted["best_validation"],
        selection=fitted["metric"],
        history=fitted["history"],
        **(extra or {}),
    )
    return network


def saved_or_trained(folder, filename, train):
    """The network saved as ``folder/filename``, or ``train()``'s, saved there when ``folder`` is set."""
    path = os.path.join(folder, filename) if folder else None
    if path and os.path.exists(path):
        print(f"loading {path}", flush=True)
        return load_network(path)
    network = train()
    if path:
        os.makedirs(folder, exist_ok=True)
        network.save(path)
    return network
