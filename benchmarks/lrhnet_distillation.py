"""LRH-Net on real data: teacher, student, student + KD and student + MLKD (sequential).

    python benchmarks/lrhnet_distillation.py cinc2017 --data ../shared/data/cinc2017/training2017
    python benchmarks/lrhnet_distillation.py ludb --data ../shared/data/ludb

cinc2017: one stratified 80/10/10 split (seed 0); a wide 1-lead SE-ResNet teacher (width 0.5)
    trained once; LRH-Net students over ``--seeds``; MLKD's assistant is a width-0.25 SE-ResNet on
    the same lead, distilled from the teacher first. Softmax KD with T^2 (single-label classes).
ludb: classes with at least 20 records; 5-fold stratified cross-validation, 15 % of each training
    part for validation; per fold and seed a 12-lead teacher (width 0.25) and, for lead sets 1, 2
    and 3, students, KD and MLKD (assistant: width-0.25 SE-ResNet on the student's leads).
Results are written after every run to ``--out`` (JSON) and a Markdown table beside it.
``--resume`` keeps the runs already in ``--out`` and skips them; ``--models DIR`` saves the cinc2017
teacher and assistant there and reloads them on a later call, so seeds can be added run by run.
``--quick`` trains 1 epoch on a small subset to check the script.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


from benchmarks.provenance import provenance  # noqa: E402
from benchmarks.run_log import Results, saved_or_trained, train_and_score  # noqa: E402
from benchmarks.settings import cinc2017_split, ludb_folds  # noqa: E402
from data_utils.pipeline import ECGPipeline  # noqa: E402
from lrhnet import LogitDistillation, LRHNet, SEResNet1D, multilevel_terms  # noqa: E402

LUDB_LEAD_SETS = {"1": ("I",), "2": ("I", "II"), "3": ("I", "II", "V2")}


def run_cinc2017(args, results):
    dataset, cache, split = cinc2017_split(args.data, args.quick)
    results.header["split"] = {name: [dataset.record_ids[i] for i in index] for name, index in split.items()}
    pipeline = ECGPipeline(cache, "I", "I", window_seconds=15)
    classes, k = cache.classes, len(cache.classes)
    kd = dict(mode="softmax", scale_t2=True, temperature=7.0)  # multilevel_terms and LogitDistillation take these
    e_teacher, e_student = (1, 1) if args.quick else (args.teacher_epochs, args.epochs)
    teacher = saved_or_trained(args.models, "teacher.keras", lambda: train_and_score(
        results, SEResNet1D(1, k, width=0.5), pipeline, split, classes, False, e_teacher, 0, "teacher", "teacher", "I"))
    assistant = saved_or_trained(args.models, "assistant.keras", lambda: train_and_score(
        results, SEResNet1D(1, k, width=0.25, name="assistant"), pipeline, split, classes, False, e_teacher, 0, "student", "assistant (KD from teacher)", "I",
        teachers=[teacher], terms=[LogitDistillation(0.7, name="kd_teacher1", **kd)], supervised_weight=0.3))
    students = {
        "student": {},
        "student_kd": dict(teachers=[teacher], terms=[LogitDistillation(0.7, **kd)], supervised_weight=0.3),
        "student_mlkd": dict(teachers=[teacher, assistant], terms=multilevel_terms(**kd), teacher_views=["teacher", "student"], supervised_weight=0.3),
    }
    for seed in args.seeds:
        for name, fit in students.items():
            if not results.has(model=name, leads="I", seed=seed):
                train_and_score(results, LRHNet(1, k), pipeline, split, classes, False, e_student, seed, "student", name, "I", **fit)


def run_ludb(args, results):
    cache, splits = ludb_folds(args.data, args.folds, args.quick)
    kept = cache.classes
    results.header["classes"] = list(kept)
    epochs = 1 if args.quick else args.epochs
    for fold, split in enumerate(splits):
        for seed in args.seeds[: 1 if args.quick else None]:
            teacher_pipeline = ECGPipeline(cache, 12, 12, window_seconds=8)
            teacher = train_and_score(results, SEResNet1D(12, len(kept), width=0.25), teacher_pipeline, split, kept, True, epochs, seed, "teacher", "teacher", "12",
                                      extra={"fold": fold})
            for name, leads in LUDB_LEAD_SETS.items():
                pipeline = ECGPipeline(cache, 12, leads, window_seconds=8)
                extra = {"fold": fold}
                train_and_score(results, LRHNet(len(leads), len(kept)), pipeline, split, kept, True, epochs, seed, "student", "student", name, extra)
                train_and_score(results, LRHNet(len(leads), len(kept)), pipeline, split, kept, True, epochs, seed, "student", "student_kd", name, extra,
                                teachers=[teacher], terms=[LogitDistillation(0.7)], supervised_weight=0.3)
                assistant = train_and_score(results, SEResNet1D(len(leads), len(kept), width=0.25, name="assistant"), pipeline, split, kept, True, epochs, seed,
                                            "student", "assistant (KD from teacher)", name, extra, teachers=[teacher], terms=[LogitDistillation(0.7, name="kd_teacher1")], supervised_weight=0.3)
                train_and_score(results, LRHNet(len(leads), len(kept)), pipeline, split, kept, True, epochs, seed, "student", "student_mlkd", name, extra,
                                teachers=[teacher, assistant], terms=multilevel_terms(), teacher_views=["teacher", "student"], supervised_weight=0.3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setting", choices=("cinc2017", "ludb"))
    parser.add_argument("--data", required=True, help="the dataset folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="student epochs (default: cinc2017 15, ludb 20)")
    parser.add_argument("--teacher-epochs", type=int, default=12, help="cinc2017 teacher and assistant epochs")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True, help="results JSON path")
    parser.add_argument("--resume", action="store_true", help="keep the runs in --out and skip them")
    parser.add_argument("--models", help="cinc2017: folder to save the teacher and assistant in, and reload them from")
    args = parser.parse_args()
    args.epochs = args.epochs or (15 if args.setting == "cinc2017" else 20)
    header = {"setting": args.setting, **provenance(), "seeds": args.seeds}
    results = Results(args.out, header, resume=args.resume)
    results.complete(run_cinc2017 if args.setting == "cinc2017" else run_ludb, args)


if __name__ == "__main__":
    main()
