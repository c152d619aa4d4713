"""Distillation on real 12-lead data: PTB-XL with scarce and full labels, through ``train.py``.

    python -m benchmarks.ptbxl_distillation --data ../shared/data/ptbxl --out benchmarks/results/ptbxl_distillation.json
    python -m benchmarks.ptbxl_distillation --data synthetic --lead-sets I --fractions 0.1 --teacher-width 0.25 \
        --runs runs/synthetic_benchmark --out benchmarks/results/synthetic_distillation.json

PTB-XL's folds (1-8 train, 9 validation, 10 test), superdiagnostic classes, 100 Hz, 10 s; or, with
``--data synthetic[:SPEC]``, the same plan on ``train.py``'s generated records (its default data and
split). Every network is trained by a ``train.py`` call into its own run folder under ``--runs``,
with the project's defaults (paper-faithful KD: alpha 0.3, T = 7, no T²; cosine schedule; early
stopping on validation macro AUROC; shared online augmentation) and ``--epochs`` at most.

Teachers: 12-lead SE-ResNets of width ``--teacher-width``, one per seed, trained on all training
labels (``all``) or, per labelled fraction, on the students' labelled records only (``same``), and
on PTB-XL the ``ensemble`` of the seeds' ``all`` teachers (the mean of their probabilities; not on
synthetic data, where each seed draws its own split). They are trained on whole 10 s records or,
with ``--teacher-recipe crops-averaged``, on 2.5 s crops with their weights averaged (as are the
same-lead ceilings); students (and MLKD's assistant) read 10 s windows either way, which a crop
teacher reads whole.
Cells, in the order they run (each for every seed before the next):
  * scarce labels: students see labels on a fraction (10 %, then 5 % and 25 %) of the training
    records; rows: the plain student on its labelled records, LRH-Net + KD on every training record
    from the ``all`` teacher, from the ensemble (first fraction only), with the KD term scaled by T²
    (``--kd-t2``: with few labels the teacher's pull may need to outweigh theirs), then from the ``same``
    teacher (default KD, then × T²), for lead sets I; I, II; I, II, V2 (``--lead-sets``); and LiteHeart
    (the student alone and with its terms) on lead I;
  * full labels: the plain student, + KD, + MLKD, + KD from the ensemble, + KD × T², + KD weighted
    per class by what the student's leads carry (``--kd-class-weights carry``), the same-lead
    ceiling (an SE-ResNet of the teacher's width on the student's leads), and LiteHeart alone and
    with its terms;
  * last (with the ``whole`` recipe), each seed's ``all`` teacher again without early stopping
    (``--patience 0``), reading age and sex beside its leads (``--demographics``), then trained on
    2.5 s and 5 s crops (2.5 s also with the cosine schedule over at most 80 epochs, and scored and
    kept with a moving average of its weights, ``--weight-average 0.99``, paired with the 2.5 s
    teacher).
Each run's test probabilities are kept beside the results (``*_predictions.json``) so that
``paired_difference`` can give each distilled row's gain over its plain student (the same seed,
fraction and labelled records) with a 95 % bootstrap interval over test records.
``--resume`` keeps the rows recorded in ``--out`` (of the same ``--data`` kind, ``--precision``,
``--teacher-width`` and ``--teacher-recipe``) and skips their cells; without it an existing
``--out`` is refused (its rows would be lost). Either way each ``train.py`` call resumes its run
folder: a finished run is read, not trained again, and a killed one continues from its last epoch
(a student run whose teacher file changed since it copied it is refused by ``train.py``);
``--resume`` refuses a ``--runs`` other than the folder the recorded rows were trained in (a new
``--runs`` with a new ``--out`` trains afresh). ``--rerun REGEX`` (with ``--resume``) trains the
matching recorded cells again when their rows did not come from their present run folder (moved away,
say after their teacher was trained again; a folder stopped mid-training is continued); a row
replaced by another network is kept under ``replaced``. It refuses a teacher that would be trained
again without matching it.
``--only REGEX`` keeps the cells whose name matches (a teacher they need that is not trained yet
is trained first) and ``--cells`` a prefix of those (``--list`` prints them); ``--quick`` checks the
script in a few minutes (1 epoch, seed 0, the first 3 cells).
"""

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np

from benchmarks.paired import KEY, macro_auroc, paired_difference, predictions_path, run_id, test_labels
from benchmarks.provenance import REPOSITORY, provenance
from benchmarks.resume import earlier_results
from benchmarks.run_log import Results
from data_utils.files import atomic_write
from kdpipeline.options import PRECISIONS

LEAD_SETS = ("I", "I,II", "I,II,V2")
SCARCE_FRACTIONS = (0.1, 0.05, 0.25)
# the teacher variants trained on shorter crops: (seconds, most epochs or None for --epochs); a
# 2.5 s crop shows a quarter of each record per epoch, so 80 stretches the cosine schedule over twice as many
TEACHER_WINDOWS = ((2.5, None), (5, None), (2.5, 80))
GROUP = ("fraction", "teacher", "leads", "model")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One ``train.py`` call and the report entries it adds as result rows.

    ``rows`` maps a model name of the run's report to ``(row name, teacher kind)``.
    """

    name: str
    flags: tuple
    rows: dict
    leads: str
    seed: int
    fraction: float
    teacher_runs: tuple = ()  # the cells whose teacher this one distils from (several: their ensemble)


def teacher_cell(seed, fraction=1.0, recipe=()):
    """A 12-lead teacher on every training label (``fraction`` 1: ``all``) or on the labelled share
    the students of ``fraction`` see (``same``), trained with the ``recipe`` flags (``TEACHER_RECIPES``)."""
    kind = "all" if fraction == 1 else "same"
    flags = ("--stages", "teacher", "--labeled-fraction", str(fraction), "--teacher-labels", kind, *recipe)
    return Cell(f"teacher_{kind}_{fraction:g}_s{seed}", flags, {"teacher": ("teacher", kind)}, "12", seed, fraction)


def teacher_no_early_stop_cell(seed):
    """The ``all`` teacher of ``seed`` trained for every epoch (``--patience 0``, so the cosine schedule
    anneals to its end), its best epoch on validation kept: what stopping at the first plateau costs."""
    flags = teacher_cell(seed).flags + ("--patience", "0")
    rows = {"teacher": ("teacher_no_early_stop", "all")}
    return Cell(f"teacher_all_1_no_early_stop_s{seed}", flags, rows, "12", seed, 1.0)


def teacher_demographics_cell(seed):
    """The ``all`` teacher of ``seed`` reading age and sex beside the 12 leads (``--demographics``), as
    LRH-Net's networks do on CinC 2020: whether the metadata lift the teacher."""
    flags = teacher_cell(seed).flags + ("--demographics",)
    rows = {"teacher": ("teacher_demographics", "all")}
    return Cell(f"teacher_all_1_demographics_s{seed}", flags, rows, "12", seed, 1.0)


def window_row(seconds, epochs):
    """The row name of the teacher on ``seconds``-long crops, trained for at most ``epochs`` (None: ``--epochs``)."""
    return f"teacher_window_{seconds:g}s" + (f"_{epochs}ep" if epochs else "")


def teacher_window_cell(seed, seconds, epochs=None):
    """The ``all`` teacher of ``seed`` trained on random ``seconds``-long crops of the 10 s records
    (``--window-seconds``; for at most ``epochs`` when given) and scored, as every network, on
    sliding windows (half a window apart) averaged per record, as Strodthoff et al. (2021) train
    and score their PTB-XL networks (2.5 s crops)."""
    flags = teacher_cell(seed).flags + ("--window-seconds", f"{seconds:g}")
    flags += ("--epochs", str(epochs)) if epochs else ()  # after the benchmark's --epochs, so it wins
    row = window_row(seconds, epochs)
    return Cell(
        f"teacher_all_1_{row.removeprefix('teacher_')}_s{seed}", flags, {"teacher": (row, "all")}, "12", seed, 1.0
    )


WEIGHT_AVERAGE = 0.99  # the momentum of the teacher variant that keeps a moving average of its weights
CROP_SECONDS = 2.5  # the crop length chosen on validation
CROP_ROW = window_row(CROP_SECONDS, None)  # the crop teacher, the reference of its averaged twin
WEIGHT_AVERAGE_ROW = CROP_ROW + "_weight_average"
# how every teacher of a benchmark call is trained (--teacher-recipe): on whole 10 s records, as the
# students (the recorded tables), or on 2.5 s crops with its weights averaged, the recipe of the
# highest validation at widths 0.5 and 1; a student still reads 10 s windows, and its teacher reads them whole
TEACHER_RECIPES = {
    "whole": (),
    "crops-averaged": ("--window-seconds", f"{CROP_SECONDS:g}", "--weight-average", f"{WEIGHT_AVERAGE:g}"),
}


def teacher_weight_average_cell(seed):
    """The ``all`` teacher of ``seed`` on 2.5 s crops (the crop length chosen on validation) scored and
    kept with a moving average of its weights (``--weight-average``): whether averaging steadies a
    teacher whose best epochs fall while the learning rate is still high."""
    name = f"teacher_all_1_{WEIGHT_AVERAGE_ROW.removeprefix('teacher_')}_s{seed}"
    return dataclasses.replace(
        teacher_cell(seed, recipe=TEACHER_RECIPES["crops-averaged"]),
        name=name,
        rows={"teacher": (WEIGHT_AVERAGE_ROW, "all")},
    )


def student_flags(leads, fraction, teacher_labels):
    """The ``train.py`` flags of students on ``leads`` with labels on ``fraction`` of the training records,
    taught by a teacher on ``teacher_labels`` (``all`` or ``same``)."""
    return ("--student-leads", leads, "--labeled-fraction", str(fraction), "--teacher-labels", teacher_labels)


def lrhnet_cell(seed, fraction, leads, teacher):
    """LRH-Net students of one seed, fraction and lead set distilling from ``teacher`` (a ``teacher_cell``):
    with the ``all`` teacher the plain student and KD (and MLKD with full labels); with ``same``, KD only
    (its plain student is the ``all`` cell's: the same seed, so the same labelled records)."""
    kind = teacher.rows["teacher"][1]
    rows, stages = {"student_kd": ("student_kd", kind)}, "distill"
    if kind == "all":
        rows, stages = {"student": ("student", "none"), **rows}, "student,distill"
    if fraction == 1:
        rows, stages = {**rows, "student_mlkd": ("student_mlkd", kind)}, stages + ",mlkd"
    flags = student_flags(leads, fraction, kind)
    flags += ("--stages", stages)
    return Cell(f"lrhnet_{kind}_{tag(fraction, leads, seed)}", flags, rows, leads, seed, fraction, (teacher.name,))


def ensemble_cell(seed, fraction, leads, teachers):
    """LRH-Net + KD from the ensemble of the ``all`` teachers of every seed (the mean of their
    probabilities; ``--teacher-from`` with several files); its plain student is the ``all`` cell's."""
    flags = student_flags(leads, fraction, "all")
    flags += ("--stages", "distill")
    rows = {"student_kd": ("student_kd", "ensemble")}
    names = tuple(teacher.name for teacher in teachers)
    return Cell(f"lrhnet_ensemble_{tag(fraction, leads, seed)}", flags, rows, leads, seed, fraction, names)


def t2_cell(seed, fraction, leads, teacher):
    """LRH-Net + KD from ``teacher`` (a ``teacher_cell``, ``all`` or ``same``) with the KD term
    multiplied by T² (``--kd-t2``, Hinton et al.'s scale, about 49 times the default's pull towards
    the teacher at T = 7); its plain student is the ``all`` cell's (the same seed, so the same
    labelled records), its default-KD twin the ``lrhnet`` cell of the same teacher."""
    kind = teacher.rows["teacher"][1]
    flags = student_flags(leads, fraction, kind)
    flags += ("--kd-t2", "--stages", "distill")
    rows = {"student_kd": ("student_kd_t2", kind)}
    name = f"t2_{'' if kind == 'all' else kind + '_'}{tag(fraction, leads, seed)}"
    return Cell(name, flags, rows, leads, seed, fraction, (teacher.name,))


def carry_cell(seed, leads, teacher):
    """KD weighted per class by what the student's leads carry (``--kd-class-weights carry``), full
    labels; it trains its own plain student for the weights, recorded only in its run folder."""
    flags = ("--student-leads", leads, "--stages", "student,distill", "--kd-class-weights", "carry")
    rows = {"student_kd": ("student_kd_carry", "all")}
    return Cell(f"carry_{tag(1.0, leads, seed)}", flags, rows, leads, seed, 1.0, (teacher.name,))


def liteheart_cell(seed, fraction, teacher):
    """The LiteHeart student alone (its ``student`` stage) and with its terms, on lead I."""
    flags = ("--labeled-fraction", str(fraction), "--method", "liteheart", "--stages", "student,distill")
    rows = {"student": ("liteheart_alone", "none"), "liteheart": ("liteheart", "all")}
    return Cell(f"liteheart_{tag(fraction, 'I', seed)}", flags, rows, "I", seed, fraction, (teacher.name,))


def ceiling_cell(seed, leads, recipe=()):
    """The same-lead ceiling: an SE-ResNet as wide as the teacher on the student's leads, all labels,
    trained as the teachers are (``recipe``)."""
    flags = ("--teacher-leads", leads, "--student-leads", leads, "--stages", "teacher", *recipe)
    rows = {"teacher": ("same_lead_ceiling", "none")}
    return Cell(f"ceiling_{tag(1.0, leads, seed)}", flags, rows, leads, seed, 1.0)


def tag(fraction, leads, seed):
    return f"{fraction:g}_{leads.replace(',', '+')}_s{seed}"


def plan(seeds, fractions=SCARCE_FRACTIONS, lead_sets=LEAD_SETS, ensembles=True, recipe="whole"):
    """Every cell, in the order they run: 10 % labels first (the headline), then 5 % and 25 %, then full
    labels; students on each of ``lead_sets``. KD from the teachers' ensemble runs at the first
    fraction and with full labels when ``ensembles`` (only where every seed has the same split, as
    PTB-XL's folds: elsewhere a seed's teacher learned from another seed's test records). Teachers
    and ceilings are trained with the ``TEACHER_RECIPES`` flags of ``recipe``; the teacher variants
    (last) vary the ``whole`` recipe, so they run with it only."""
    flags = TEACHER_RECIPES[recipe]
    teachers = {seed: teacher_cell(seed, recipe=flags) for seed in seeds}
    cells = list(teachers.values())
    ensembles = ensembles and len(seeds) > 1

    def from_ensemble(fraction):
        ensemble = tuple(teachers.values())
        return [ensemble_cell(seed, fraction, leads, ensemble) for leads in lead_sets for seed in seeds]

    for fraction in fractions:
        cells += [lrhnet_cell(seed, fraction, leads, teachers[seed]) for leads in lead_sets for seed in seeds]
        cells += from_ensemble(fraction) if fraction == fractions[0] and ensembles else []
        cells += [t2_cell(seed, fraction, leads, teachers[seed]) for leads in lead_sets for seed in seeds]
        same = {seed: teacher_cell(seed, fraction, flags) for seed in seeds}
        cells += same.values()
        cells += [lrhnet_cell(seed, fraction, leads, same[seed]) for leads in lead_sets for seed in seeds]
        cells += [t2_cell(seed, fraction, leads, same[seed]) for leads in lead_sets for seed in seeds]
        cells += [liteheart_cell(seed, fraction, teachers[seed]) for seed in seeds]
    cells += [lrhnet_cell(seed, 1.0, leads, teachers[seed]) for leads in lead_sets for seed in seeds]
    cells += from_ensemble(1.0) if ensembles else []
    cells += [t2_cell(seed, 1.0, leads, teachers[seed]) for leads in lead_sets for seed in seeds]
    cells += [carry_cell(seed, leads, teachers[seed]) for leads in lead_sets for seed in seeds]
    cells += [ceiling_cell(seed, leads, flags) for leads in lead_sets for seed in seeds]
    cells += [liteheart_cell(seed, 1.0, teachers[seed]) for seed in seeds]
    if recipe != "whole":
        return cells
    cells += [teacher_no_early_stop_cell(seed) for seed in seeds]
    cells += [teacher_demographics_cell(seed) for seed in seeds]
    cells += [teacher_window_cell(seed, *window) for window in TEACHER_WINDOWS for seed in seeds]
    return cells + [teacher_weight_average_cell(seed) for seed in seeds]


def train_command(args, cell):
    """The ``train.py`` call of ``cell``, run at the repository root with paths relative to it (so
    that reports name no machine's folders)."""
    runs = os.path.relpath(os.path.abspath(args.runs), REPOSITORY)
    data = args.data if is_synthetic(args.data) else "ptbxl:" + os.path.relpath(os.path.abspath(args.data), REPOSITORY)
    command = [sys.executable, "train.py", "--data", data, "--seed", str(cell.seed)]
    command += ["--epochs", str(args.epochs), "--teacher-width", str(args.teacher_width), *cell.flags]
    if args.precision != "float32":
        command += ["--precision", args.precision]
    if cell.teacher_runs:
        command += ["--teacher-from", *(teacher_file(runs, name) for name in cell.teacher_runs)]
    return command + ["--out", os.path.join(runs, cell.name), "--resume"]


def checked_data(parser, data):
    """``--data``: a PTB-XL folder (made absolute) or a synthetic spec; an argparse error otherwise."""
    if is_synthetic(data):
        return data
    if not os.path.isdir(data):
        parser.error(f"--data: {data} is neither a folder nor synthetic[:SPEC]")
    return os.path.abspath(data)


def is_synthetic(data):
    """True for ``train.py``'s generated records (``synthetic[:SPEC]``), False for a PTB-XL folder."""
    return data == "synthetic" or data.startswith("synthetic:")


def teacher_file(runs, name):
    """The teacher a cell distils from: ``models/teacher.keras`` of the run folder ``name``."""
    return os.path.join(runs, name, "models", "teacher.keras")


def train_context(args, cell):
    """The ``kdpipeline`` context (data, split, pipeline) that ``cell``'s ``train.py`` call trained on,
    rebuilt from its own flags, so that networks are scored on exactly its records.

    Raises:
        ValueError: the rebuilt split is not the one in the run folder's ``split.json`` (other data).
    """
    from kdpipeline.options import parse_args
    from kdpipeline.runner import build_context

    with contextlib.chdir(REPOSITORY):  # the call's paths are relative to the repository
        context, data = build_context(parse_args(train_command(args, cell)[2:]))
    recorded = os.path.join(args.runs, cell.name, "split.json")
    with open(recorded) as handle:
        if json.load(handle) != json.loads(json.dumps(data["split_names"])):
            raise ValueError(f"{args.data} does not hold the records of {recorded}: pass the data the run read")
    return context


def split_probabilities(context, run, names, part="test"):
    """``({name: (N, K) probabilities}, (N, K) labels)`` of the networks ``names`` saved in the run
    folder ``run``, on the ``part`` split of ``context`` (``train_context``; PTB-XL: fold 10 for
    ``"test"``, 9 for ``"validation"``), sliding windows averaged per record."""
    from lrhnet.saving import load_network
    from lrhnet.training import predict_probabilities

    records = context.pipeline.evaluate(context.split[part], crop="sliding")
    probabilities = {}
    for name in names:
        network = load_network(os.path.join(run, "models", f"{name}.keras"))
        probabilities[name], labels = predict_probabilities(
            network, records, "teacher" if name == "teacher" else "student", context.multilabel
        )
    return probabilities, labels


def kept_exactly(probabilities):
    """(N, K) float32 probabilities as nested lists of floats that read back to the same float32
    values (9 significant digits): rounding to a few decimals ties small probabilities and changes
    their AUROC."""
    return [[float(f"{value:.9g}") for value in row] for row in np.asarray(probabilities, np.float32).tolist()]


def mean_of_known(values):
    """The mean of the values that are not None (a class a run could not score), or None."""
    known = [value for value in values if value is not None]
    return float(np.mean(known)) if known else None


# row model -> {summary field: (the model it is paired with, its teacher)}
REFERENCES = {
    "student_kd": {"paired_difference": ("student", "none")},
    "student_mlkd": {"paired_difference": ("student", "none")},
    # None: the row's own teacher (default KD from the teacher the row learned from)
    "student_kd_carry": {"paired_difference": ("student", "none"), "paired_vs_kd": ("student_kd", None)},
    "student_kd_t2": {"paired_difference": ("student", "none"), "paired_vs_kd": ("student_kd", None)},
    # LiteHeart against the plain LRH-Net student (the architecture and the terms together), then
    # against the LiteHeart student alone (the terms alone)
    "liteheart_alone": {"paired_difference": ("student", "none")},
    "liteheart": {"paired_difference": ("student", "none"), "paired_vs_alone": ("liteheart_alone", "none")},
    "teacher_no_early_stop": {"paired_difference": ("teacher", "all")},
    "teacher_demographics": {"paired_difference": ("teacher", "all")},
    **{window_row(*window): {"paired_difference": ("teacher", "all")} for window in TEACHER_WINDOWS},
    WEIGHT_AVERAGE_ROW: {"paired_difference": (CROP_ROW, "all")},
    # the same leads read by a 2.2 M-weight network: what the student's size costs
    "same_lead_ceiling": {"paired_difference": ("student", "none")},
}


def close(a, b, tolerance=1e-9):
    """True when two JSON values are equal, numbers up to ``tolerance`` (the last bits a second
    evaluation of the same network may change)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[key], b[key], tolerance) for key in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= tolerance
    return a == b


def same_network(old, new):
    """True when two records of one key are the same network recorded again: the same run folder and
    test metrics equal up to float rounding."""
    return old.get("run") is not None and old.get("run") == new.get("run") and close(old["test"], new["test"])


class PTBXLResults(Results):
    """Results with test probabilities kept beside them, mean ± std (ddof = 1) over seeds, per-class
    AUROC, and each distilled row's paired difference from its plain student."""

    def __init__(self, path, header, resume=False):
        super().__init__(path, header, resume, key=KEY, group=GROUP)
        self.predictions_path = predictions_path(path)
        self.predictions = {"labels": None, "runs": {}}
        self.intervals = {}  # a digest of a group's pairs (labels, both probabilities) -> its paired difference
        self.replaced = []  # rows that newer runs of the same key replaced, kept with the date they were
        if resume and os.path.exists(self.predictions_path):
            with open(self.predictions_path) as handle:
                self.predictions = json.load(handle)
        if resume and os.path.exists(path):
            with open(path) as handle:
                replaced = json.load(handle).get("replaced", [])
            # a network recorded again was once taken for another when its metrics differed in the last bits
            self.replaced = []
            for old in replaced:
                if any(same_network(old, run) and all(old[name] == run[name] for name in KEY) for run in self.runs):
                    print(f"{self.run_id(old)}: the same network as the recorded run, not a replaced one", flush=True)
                else:
                    self.replaced.append(old)

    def add(self, **run):
        """Record ``run``; a row of another network it replaces is kept under ``replaced`` (the same
        network recorded again, say with its validation score, just replaces itself). A new ``all``
        teacher also retires the ensemble row (made of the earlier teachers), recorded again by the
        next ensemble cell that is trained."""
        same = [old for old in self.runs if all(old.get(name) == run.get(name) for name in KEY)]
        retired = [old for old in same if not same_network(old, run)]
        if retired and run["model"] == "teacher" and run["teacher"] == "all":
            retired += [old for old in self.runs if all(old[name] == ENSEMBLE_ROW[name] for name in KEY)]
        self.runs = [old for old in self.runs if old not in same and old not in retired]
        for old in retired:
            print(f"replacing {self.run_id(old)}: test macro AUROC {old['test']['macro_auroc']:.4f}", flush=True)
            self.replaced.append(
                {**old, "replaced_on": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
            )
        super().add(**run)

    run_id = staticmethod(run_id)

    def add_probabilities(self, run, probabilities, labels):
        """Keep a run's (N, K) test probabilities and, when they differ from the first run's (another
        split: each seed draws its own on synthetic data), its (N, K) test labels."""
        labels = np.asarray(labels).astype(int).tolist()
        self.predictions["labels"] = self.predictions["labels"] or labels
        run_labels = self.predictions.setdefault("run_labels", {})
        run_labels.pop(self.run_id(run), None)
        if labels != self.predictions["labels"]:
            run_labels[self.run_id(run)] = labels
        self.predictions["runs"][self.run_id(run)] = kept_exactly(probabilities)

    def labels(self, run):
        """The (N, K) test labels of ``run``'s predictions."""
        return test_labels(self.predictions, run)

    def write(self):
        """The predictions, the results JSON and the Markdown table, the summary computed once."""
        if self.predictions["runs"]:
            atomic_write(self.predictions_path, json.dumps(self.predictions))
        summary = self.summary()
        content = {**self.header, "runs": self.runs, "summary": summary, "replaced": self.replaced}
        atomic_write(self.path, json.dumps(content, indent=1))
        atomic_write(os.path.splitext(self.path)[0] + ".md", self.markdown(summary))

    def summary(self):
        """``summarise`` of the recorded runs, with each distilled row's paired difference from its plain student."""
        rows = self.summarise(self.runs)
        for row, runs in zip(rows, self.grouped(self.runs).values()):
            for field, (model, teacher) in REFERENCES.get(row["model"], {}).items():
                difference = self.paired(runs, model, row["teacher"] if teacher is None else teacher)
                if difference is not None:
                    row[field], row[f"{field}_seeds"] = difference
        return rows

    @staticmethod
    def grouped(runs):
        """``{GROUP values: runs}`` by label fraction, in recording order within a fraction except that
        its teachers come first (a teacher recorded again after its students stays at the top)."""
        groups = {}
        for run in runs:
            groups.setdefault(tuple(run[name] for name in GROUP), []).append(run)
        order = sorted(groups, key=lambda key: (groups[key][0]["fraction"], groups[key][0]["model"] != "teacher"))
        return {key: groups[key] for key in order}

    @staticmethod
    def summarise(runs):
        """One row per ``GROUP`` of ``runs``: macro AUROC mean and std over seeds, per-class AUROC,
        best epochs (1-based, in seed order), mean validation macro AUROC."""
        rows = []
        for values, runs in PTBXLResults.grouped(runs).items():
            scores = [run["test"]["macro_auroc"] for run in runs]
            row = {**dict(zip(GROUP, values)), "runs": len(runs), "params": runs[0]["params"]}
            row["macro_auroc"] = [float(np.mean(scores)), float(np.std(scores, ddof=1)) if len(scores) > 1 else None]
            row["per_class_auroc"] = {
                name: mean_of_known([run["test"]["per_class"]["auroc"][name] for run in runs])
                for name in runs[0]["test"]["per_class"]["auroc"]
            }
            by_seed = sorted(runs, key=lambda run: run["seed"])  # a run recorded again moves to the end of the file
            row["best_epochs"] = [run["best_epoch"] + 1 for run in by_seed if run["best_epoch"] is not None]
            validation = [run["validation"]["macro_auroc"] for run in runs if "validation" in run]
            row["validation_macro_auroc"] = float(np.mean(validation)) if validation else None
            rows.append(row)
        return rows

    def paired(self, runs, model, teacher):
        """``(paired difference, seeds)`` of ``runs`` against the runs of ``model`` taught by
        ``teacher`` at the same seed, fraction and leads, or None without predictions for both."""
        kept = [
            (run, self.probabilities(run), self.probabilities({**run, "model": model, "teacher": teacher}))
            for run in runs
        ]
        kept = [(run, ours, theirs) for run, ours, theirs in kept if ours is not None and theirs is not None]
        if not kept:
            return None
        pairs = [(self.labels(run), ours, theirs) for run, ours, theirs in kept]
        # keyed by the pairs' values, so that a run recorded again (--rerun) is paired anew
        key = hashlib.sha256(
            b"".join(repr(np.shape(part)).encode() + np.asarray(part).tobytes() for pair in pairs for part in pair)
        ).hexdigest()
        if key not in self.intervals:
            self.intervals[key] = paired_difference(pairs)
        return self.intervals[key], len(kept)

    def probabilities(self, run):
        found = self.predictions["runs"].get(self.run_id(run))
        return None if found is None else np.asarray(found)

    def markdown(self, summary=None):
        lines = [f"# {self.header['setting']}", ""]
        for call in self.header.get("earlier", []) + [self.header]:
            lines += [f"Command: `{call['command']}`  ", f"Commit {call['commit']}, {call['date']}  "]
        return "\n".join(lines + ["", *summary_table(self.summary() if summary is None else summary)]) + "\n"


def summary_table(summary):
    """Markdown lines of every summary row: macro AUROC (mean ± std), the paired difference, per-class AUROC."""
    if not summary:
        return []
    classes = list(summary[0]["per_class_auroc"])
    lines = [
        "Validation: the validation split (PTB-XL: fold 9; mean over seeds; what choices are made on). Macro AUROC "
        "on the test split (PTB-XL: fold 10; synthetic data: each seed's own split), mean ± std "
        "(ddof = 1) over seeds; Δ: mean paired difference from the plain "
        "student of the same seed and labelled records (for LiteHeart rows and the same-lead SE-ResNet: the plain "
        "LRH-Net student; for a teacher variant: the teacher of the same seed, and for the crop teacher with "
        "averaged weights the 2.5 s crop teacher of the same seed), with a 95 % bootstrap interval "
        "over test records; vs KD: the same from default KD of the same teacher (for KD × T² and KD weighted "
        "per class); vs alone: the same from the LiteHeart student alone (for + LiteHeart terms); each over "
        "the seeds both have ((k of n seeds) when fewer than the row's); then the mean AUROC of each class.",
        "",
        "| labels | teacher | leads | model | runs | best epochs | validation macro AUROC | macro AUROC | "
        "Δ [95 % CI] | " + " | ".join(classes) + " |",
        "|---" * (9 + len(classes)) + "|",
    ]
    for row in summary:
        cells = [
            f"{row['fraction']:.0%}",
            row["teacher"],
            row["leads"],
            row["model"],
            str(row["runs"]),
            ", ".join(map(str, row["best_epochs"])),
            format_score(row.get("validation_macro_auroc")),
            auroc_cell(row),
            delta_cell(row),
            *(
                "" if row["per_class_auroc"][name] is None else f"{row['per_class_auroc'][name]:.3f}"
                for name in classes
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def format_score(value):
    return "" if value is None else f"{value:.3f}"


def auroc_cell(row):
    mean, std = row["macro_auroc"]
    return f"{mean:.3f}" + (f" ± {std:.3f}" if std is not None else "")


def delta_cell(row):
    """The paired difference from the plain student (and, for carry weights and T², from default KD; for
    LiteHeart's terms, from the LiteHeart student alone), saying so when it rests on fewer seeds than the
    row (the reference lacks some)."""
    cells = []
    for field, prefix in (("paired_difference", ""), ("paired_vs_kd", "vs KD "), ("paired_vs_alone", "vs alone ")):
        if row.get(field):
            difference, low, high = row[field]
            seeds = row.get(f"{field}_seeds", row["runs"])
            partial = f" ({seeds} of {row['runs']} seeds)" if seeds < row["runs"] else ""
            cells.append(f"{prefix}{difference:+.3f} [{low:+.3f}, {high:+.3f}]{partial}")
    return "; ".join(cells)


def run_cell(args, results, cell):
    """Train ``cell`` with ``train.py`` (resuming a killed call) and record its rows."""
    command = train_command(args, cell)
    print(f"\n=== {cell.name}: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, cwd=REPOSITORY, check=True)
    record_cell(args, results, cell)


def record_cell(args, results, cell):
    """Record the rows of ``cell`` from its run folder's report and saved networks."""
    run = folder(args, cell)
    with open(os.path.join(run, "report.json")) as handle:
        report = json.load(handle)
    probabilities, labels = split_probabilities(train_context(args, cell), run, list(cell.rows))
    for name in cell.rows:  # every network checked before the first row is recorded
        rescored, reported = macro_auroc(labels, probabilities[name]), report["models"][name]["test"]["macro_auroc"]
        if abs(rescored - reported) > 1e-6:
            raise ValueError(
                f"{run}: {name}.keras scores macro AUROC {rescored:.6f} on the test split, its report "
                f"{reported:.6f}: the saved network is not the one reported"
            )
    for name, (row, teacher) in cell.rows.items():
        entry = report["models"][name]
        recorded = {"model": row, "leads": cell.leads, "seed": cell.seed, "fraction": cell.fraction, "teacher": teacher}
        results.add_probabilities(recorded, probabilities[name], labels)
        results.add(
            **recorded,
            params=entry["params"],
            test=entry["test"],
            best_epoch=entry["best_epoch"],
            epochs_run=entry["epochs_run"],
            validation=entry["selection"],
            learned_from=entry["learned_from"],
            run=os.path.relpath(run, REPOSITORY),
            commit=entry.get("commit"),  # of the train.py call that trained it
            history=entry["history"],
        )


def folder(args, cell):
    """The run folder of ``cell`` under ``--runs``."""
    return os.path.join(args.runs, cell.name)


def recorded_rows(results, cell):
    """The recorded rows of ``cell``, in the order of ``cell.rows`` (None for one not recorded)."""
    return [
        results.find(model=row, leads=cell.leads, seed=cell.seed, fraction=cell.fraction, teacher=teacher)
        for row, teacher in cell.rows.values()
    ]


def recorded_from_its_folder(args, results, cell):
    """Whether every row of ``cell`` is recorded from its run folder's report (the same test scores):
    False when the call was stopped between training and recording, or its rows came from an
    earlier folder of the same name."""
    path = os.path.join(folder(args, cell), "report.json")
    if not os.path.exists(path):
        return False
    with open(path) as handle:
        report = json.load(handle)["models"]
    for name, run in zip(cell.rows, recorded_rows(results, cell)):
        if run is None or name not in report or run["test"] != report[name]["test"]:
            return False
    return True


def check_runs_folder(parser, args, recorded):
    """Refuse to resume the ``recorded`` results unless their rows (each naming its run folder relative to
    the repository) were all trained in ``--runs``: elsewhere, their teachers would be trained again and
    every recorded folder would look gone."""
    rows = recorded.get("runs")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        parser.error(f"--out {args.out} has no list of rows: it is another benchmark's file; choose another --out")
    folders = {
        os.path.realpath(os.path.join(REPOSITORY, os.path.dirname(row["run"]))) for row in rows if row.get("run")
    }
    shown = ", ".join(sorted(os.path.relpath(folder) for folder in folders))
    if len(folders) > 1:
        parser.error(f"--out {args.out} holds rows trained in several folders ({shown}): choose another --out")
    if folders and folders != {os.path.realpath(args.runs)}:  # real paths: symbolic links spell one folder twice
        quick = " (--quick adds _quick to it: give --quick a scratch --out)" if args.quick else ""
        parser.error(
            f"--out {args.out} holds rows trained in {shown}, not in --runs {args.runs}{quick}: pass the --runs "
            "they were trained in, or choose another --out"
        )


def rerun_problem(args, results, cells, by_name):
    """Why ``--rerun`` of ``cells`` would retrain what it should not, or None (``check_runs_folder`` has
    refused rows of another folder than ``--runs``): a recorded teacher whose file is gone and that does
    not match ``--rerun`` itself (it would be trained again, and the rows of its other students would
    then name a teacher that is no longer the recorded one)."""
    for cell in cells:
        for name in cell.teacher_runs:
            teacher = by_name[name]
            gone = not os.path.exists(teacher_file(args.runs, name)) and any(recorded_rows(results, teacher))
            if gone and not re.search(args.rerun, name):
                return f"{cell.name} needs the teacher {name}, recorded but its file is gone: add it to --rerun"
    return None


def matching(parser, flag, pattern, cells):
    """The ``cells`` whose name matches the regular expression ``pattern`` (all for None); an argparse
    error names ``flag`` when ``pattern`` is not one."""
    try:
        return [cell for cell in cells if pattern is None or re.search(pattern, cell.name)]
    except re.error as error:
        parser.error(f"{flag} {pattern}: not a regular expression ({error})")


# The ensemble of the ``all`` teachers: one row (it learned from every training label).
ENSEMBLE_ROW = {"model": "teacher", "leads": "12", "seed": 0, "fraction": 1.0, "teacher": "ensemble"}


def record_ensemble(args, results, cell, member):
    """Record the teachers' ensemble that ``cell`` distilled from (kept in its run folder as
    ``models/teacher.keras``), scored as ``train.py`` scored its ``member`` teachers (a teacher cell:
    the windows they were trained on, averaged per record)."""
    from kdpipeline.report import source_commit
    from lrhnet.efficiency import trainable_parameters
    from lrhnet.saving import load_network
    from lrhnet.training import scores_on_splits

    run = folder(args, cell)
    context = train_context(args, member)
    validation, validation_labels = split_probabilities(context, run, ["teacher"], "validation")
    probabilities, labels = split_probabilities(context, run, ["teacher"])
    scores = scores_on_splits(
        (validation["teacher"], validation_labels),
        (probabilities["teacher"], labels),
        context.classes,
        context.multilabel,
    )
    results.add_probabilities(ENSEMBLE_ROW, probabilities["teacher"], labels)
    members = load_network(os.path.join(run, "models", "teacher.keras")).members
    results.add(
        **ENSEMBLE_ROW,
        params=sum(trainable_parameters(member) for member in members),
        commit=source_commit(),
        test=scores["test"],
        best_epoch=None,  # not trained: the mean of its members' probabilities
        validation={"macro_auroc": scores["validation"]["macro_auroc"]},
        members=[os.path.relpath(teacher_file(args.runs, name), REPOSITORY) for name in cell.teacher_runs],
        run=os.path.relpath(run, REPOSITORY),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", required=True, help="a PTB-XL folder (its native layout), or synthetic[:SPEC] (train.py's generator)"
    )
    parser.add_argument("--out", required=True, help="results JSON path")
    parser.add_argument(
        "--runs",
        default=None,
        help="folder of the train.py runs (default: runs/ptbxl_benchmark, with _width<W> after it for a "
        "--teacher-width other than 0.5 (_width1 for 1.0), _crops-averaged for that --teacher-recipe and "
        "_mixed_bfloat16 for that --precision, so runs of two widths, recipes or precisions never share a folder)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--fractions", type=float, nargs="+", default=list(SCARCE_FRACTIONS), help="scarce labelled fractions"
    )
    parser.add_argument("--lead-sets", nargs="+", default=list(LEAD_SETS), help="the students' lead sets")
    parser.add_argument("--epochs", type=int, default=40, help="most epochs of each training (default: 40)")
    parser.add_argument("--teacher-width", type=float, default=0.5, help="teacher width (default: 0.5)")
    parser.add_argument(
        "--teacher-recipe",
        choices=list(TEACHER_RECIPES),
        default="whole",
        help="how the teachers and same-lead ceilings are trained: on whole 10 s records, or on 2.5 s crops with "
        "their weights averaged (--window-seconds 2.5 --weight-average 0.99); students read 10 s windows either "
        "way (default: whole)",
    )
    parser.add_argument("--cells", type=int, default=None, help="run only the first CELLS cells of the plan")
    parser.add_argument(
        "--only",
        default=None,
        help="run only the cells whose name matches this regular expression (and the teachers they need)",
    )
    parser.add_argument("--list", action="store_true", help="print the plan and exit")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="check the script: 1 epoch, seed 0, the first 3 cells, runs in RUNS_quick (give --out a scratch path)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs recorded in --out and skip them (pass the --runs they were trained in)",
    )
    parser.add_argument(
        "--rerun",
        default=None,
        help="with --resume: train the cells whose name matches this regular expression again, though their rows "
        "are recorded, when their run folder is gone (say, moved away after their teacher was trained again); a "
        "folder that is present is read back (or continued, if stopped mid-training); a row replaced by another "
        "network is kept under `replaced`",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="train.py --precision of every training; one results file holds one precision (default: float32)",
    )
    args = parser.parse_args()
    if args.runs is None:
        suffixes = (args.teacher_width != parser.get_default("teacher_width")) * f"_width{args.teacher_width:g}"
        suffixes += (args.teacher_recipe != "whole") * f"_{args.teacher_recipe}"
        suffixes += (args.precision != "float32") * f"_{args.precision}"
        args.runs = os.path.join("runs", "ptbxl_benchmark" + suffixes)
    if args.quick:
        args.epochs, args.seeds, args.cells, args.runs = 1, [0], 3, args.runs + "_quick"
    ensembles = not is_synthetic(args.data)
    everything = plan(args.seeds, args.fractions, args.lead_sets, ensembles, args.teacher_recipe)
    cells = matching(parser, "--only", args.only, everything)[: args.cells]
    if not cells:
        parser.error(f"--only {args.only} matches no cell of the plan (--list prints it)")
    rerun = {cell.name for cell in matching(parser, "--rerun", args.rerun, cells)} if args.rerun is not None else set()
    if args.rerun is not None and not rerun:
        parser.error(f"--rerun {args.rerun} matches no cell that runs (--list prints them)")
    if args.list:
        for index, cell in enumerate(cells):
            print(index + 1, cell.name, " ".join(cell.flags), "(rerun)" if cell.name in rerun else "")
        return
    if rerun and not args.resume:
        parser.error("--rerun trains recorded cells again: it needs --resume (without it every cell runs)")
    args.data = checked_data(parser, args.data)
    if not args.out.endswith(".json"):
        parser.error(f"--out {args.out} must name a .json file (the table and predictions go beside it)")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        parser.error(f"--out {args.out}: its folder does not exist")
    setting = "synthetic" if is_synthetic(args.data) else "ptbxl"
    recorded = earlier_results(parser, args.out, args.resume)
    if recorded is not None:
        earlier = recorded.get("setting", setting)
        if earlier != setting:
            parser.error(f"--out {args.out} holds {earlier} results; --data is {setting}: choose another --out")
        made_with = {
            "--precision": recorded.get("precision", "float32"),  # files made before the flags hold float32 rows
            "--teacher-width": recorded.get("teacher_width", args.teacher_width),
            "--teacher-recipe": recorded.get("teacher_recipe", "whole"),  # of whole records
        }
        for flag, value in made_with.items():
            if value != getattr(args, flag.removeprefix("--").replace("-", "_")):
                parser.error(f"--out {args.out} holds results of {flag} {value}: pass it, or choose another --out")
        check_runs_folder(parser, args, recorded)
    args.runs = os.path.abspath(args.runs)
    header = {"setting": setting, **provenance(), "seeds": args.seeds, "epochs": args.epochs}
    header["precision"] = args.precision
    header.update(fractions=args.fractions, lead_sets=args.lead_sets, ensembles=ensembles)
    header.update(teacher_width=args.teacher_width, teacher_recipe=args.teacher_recipe)
    results = PTBXLResults(args.out, header, resume=args.resume)
    by_name = {cell.name: cell for cell in everything}
    problem = rerun_problem(args, results, [by_name[name] for name in rerun], by_name)
    if problem:
        parser.error(f"--rerun {args.rerun}: {problem}")

    def run_all(args, results):
        for cell in cells:
            recorded = recorded_rows(results, cell)
            from_folder = recorded_from_its_folder(args, results, cell)
            if all(recorded) and not from_folder and cell.name not in rerun and os.path.exists(folder(args, cell)):
                print(f"{cell.name}: its run folder holds another run than its recorded rows (--rerun records it)")
            if (cell.name in rerun and not from_folder) or not all(recorded):
                for name in cell.teacher_runs:
                    if not os.path.exists(teacher_file(args.runs, name)):  # not trained yet, or its folder is gone
                        run_cell(args, results, by_name[name])  # trained (again); its rows are replaced
                    elif not recorded_from_its_folder(args, results, by_name[name]):  # stopped before it was recorded
                        run_cell(args, results, by_name[name])  # train.py --resume reads or finishes it
                run_cell(args, results, cell)
                if len(cell.teacher_runs) > 1 and results.find(**ENSEMBLE_ROW) is None:
                    # the ensemble of the teachers it was trained from
                    record_ensemble(args, results, cell, by_name[cell.teacher_runs[0]])
            elif any("validation" not in run for run in recorded):  # recorded before validation scores were
                record_cell(args, results, cell)

    results.complete(run_all, args)


if __name__ == "__main__":
    main()
