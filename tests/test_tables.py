"""The results tables of the README and docs/results.md: rendered from the committed results files, and kept in sync
with them."""

import argparse
import os

import pytest

from benchmarks import tables

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def test_document_tables_are_what_the_results_files_render():
    rendered = tables.render(RESULTS)
    assert set(rendered) == set(tables.TABLES), "every table has its committed results"
    shown = set()
    for document in tables.DOCUMENTS:
        with open(os.path.join(ROOT, document)) as handle:
            text = handle.read()
        shown |= tables.tables_in(text)
        assert tables.refresh(text, rendered) == text, (
            f"{document}'s tables are stale: run python -m benchmarks.run_all --tables-only"
        )
    assert shown == set(tables.TABLES), "every table appears in some document"


def test_cells_and_sources_by_hand():
    assert tables.cell({"runs": 3, "f1": [0.70123, 0.0104]}, "f1") == "0.701 ± 0.010"
    assert tables.cell({"runs": 1, "f1": [0.75, 0.0]}, "f1") == "0.750"
    result = {
        "command": "python b.py",
        "commit": "abc1234",
        "date": "2026-11-21T10:00:00+00:00",
        "seeds": [0, 1],
        "earlier": [{}],
    }
    assert (
        tables.source_line("x.json", result)
        == "From `benchmarks/results/x.json`, made by `python b.py` at commit abc1234, 2026-11-21, seeds 0, 1 "
        "(made over 2 calls, all listed in the file)."
    )


def test_replace_tables_fills_blocks_and_refuses_a_missing_one():
    text = "a\n<!-- table:t -->\nold\n<!-- /table:t -->\nb\n"
    assert tables.replace_tables(text, {"t": "new"}) == "a\n<!-- table:t -->\nnew\n<!-- /table:t -->\nb\n"
    assert (
        tables.replace_tables("<!-- table:t -->\n<!-- /table:t -->", {"t": "x"})
        == "<!-- table:t -->\nx\n<!-- /table:t -->"
    )
    with pytest.raises(ValueError, match="no <!-- table:u -->"):
        tables.replace_tables(text, {"u": "x"})


def test_the_scarce_label_table_says_when_a_column_has_fewer_seeds_than_its_plain_student(tmp_path):
    import json

    def row(model, teacher, runs, fraction=0.1, leads="I"):
        group = {"model": model, "teacher": teacher, "leads": leads, "fraction": fraction, "runs": runs}
        return {**group, "macro_auroc": [0.8, 0.01 if runs > 1 else None], "validation_macro_auroc": 0.85}

    summary = [row("student", "none", 3), row("student_kd", "all", 3), row("student_kd", "ensemble", 1)]
    summary += [row("student", "none", 3, leads="I,II"), row("student_kd_t2", "all", 2, leads="I,II")]
    summary.append(row("teacher", "all", 3, fraction=1.0, leads="12"))
    summary.append(row("student_kd", "same", 1, leads="I,II,V2"))  # no plain student at its lead set: not shown
    result = {"command": "x", "commit": "c", "date": "2026-12-02", "seeds": [0, 1, 2], "summary": summary}
    (tmp_path / "ptbxl_distillation.json").write_text(json.dumps(result))
    lines = tables.ptbxl_scarce(str(tmp_path))
    (header,) = [line for line in lines if line.startswith("| student leads |")]
    assert "× T²" in header and "same 10% labels" not in header  # a column without any row shown is left out
    assert not [line for line in lines if line.startswith("| I,II,V2 |")]
    (line,) = [line for line in lines if line.startswith("| I |")]
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[3] == "0.800 ± 0.010" and cells[5] == "" and cells[7] == "0.800 (1 of 3 seeds so far)"
    assert len(cells) == 9
    (line,) = [line for line in lines if line.startswith("| I,II |")]
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[3] == "" and cells[5] == "0.800 ± 0.010 (2 of 3 seeds so far)" and cells[7] == ""
    assert any("one teacher per seed: 0.800 ± 0.010 (validation 0.850)" in line for line in lines)


def test_the_scarce_label_table_shows_liteheart_with_its_differences_from_the_plain_student_and_from_alone(tmp_path):
    import json

    group = {"leads": "I", "fraction": 0.1, "runs": 3, "macro_auroc": [0.8, 0.01]}
    plain = {**group, "model": "student", "teacher": "none"}
    liteheart = {**group, "model": "liteheart", "teacher": "all", "paired_difference": [0.05, 0.03, 0.07]}
    liteheart["paired_vs_alone"] = [0.02, 0.01, 0.03]
    result = {"command": "x", "commit": "c", "date": "2026-12-02", "summary": [plain, liteheart]}
    (tmp_path / "ptbxl_distillation.json").write_text(json.dumps(result))
    lines = tables.ptbxl_scarce(str(tmp_path))
    (header,) = [line for line in lines if line.startswith("| student leads |")]
    assert "+ LiteHeart terms, teacher on all labels" in header and "LiteHeart student alone" not in header
    differences = "+0.050 [+0.030, +0.070]; vs alone +0.020 [+0.010, +0.030]"
    assert f"| I | 3 | 0.800 ± 0.010 | 0.800 ± 0.010 | {differences} |" in lines


def test_the_full_label_table_shows_the_rows_recorded_with_their_paired_differences(tmp_path):
    import json

    def row(model, teacher, leads, score, delta=None):
        group = {"model": model, "teacher": teacher, "leads": leads, "fraction": 1.0, "runs": 3}
        found = {**group, "macro_auroc": [score, 0.01], "validation_macro_auroc": score + 0.05}
        return {**found, "paired_difference": delta} if delta else found

    summary = [row("teacher", "all", "12", 0.88), row("student", "none", "I", 0.80)]
    summary += [row("student_kd", "all", "I", 0.81, [0.01, -0.002, 0.02]), row("student", "none", "I,II", 0.83)]
    summary += [row("student", "none", "I", 0.7) | {"fraction": 0.1}]  # another fraction: not shown
    result = {"command": "x", "commit": "c", "date": "2026-12-02", "summary": summary}
    (tmp_path / "ptbxl_distillation.json").write_text(json.dumps(result))
    lines = tables.ptbxl_full(str(tmp_path))
    assert "| student leads | seeds | plain student | + KD | Δ [95 % CI] |" in lines  # no column without rows
    assert "| I | 3 | 0.800 ± 0.010 | 0.810 ± 0.010 | +0.010 [-0.002, +0.020] |" in lines
    assert "| I,II | 3 | 0.830 ± 0.010 |  |  |" in lines
    assert any("one teacher per seed: 0.880 ± 0.010 (validation 0.930)" in line for line in lines)


def test_the_scarce_label_table_names_the_teachers_that_were_replaced_and_when(tmp_path):
    import json

    def teacher(seed, score):
        test = {"macro_auroc": score, "per_class": {"auroc": {"NORM": score}}}
        group = {"model": "teacher", "teacher": "all", "leads": "12", "fraction": 1.0, "seed": seed, "params": 1}
        return {**group, "test": test, "best_epoch": 3, "validation": {"macro_auroc": score + 0.03}}

    summary = [{"model": "student", "teacher": "none", "leads": "I", "fraction": 0.1, "runs": 1}]
    summary[0].update(macro_auroc=[0.7, None], validation_macro_auroc=0.72)
    replaced = [
        {**teacher(seed, score), "replaced_on": "2026-12-02T15:00:00+00:00"} for seed, score in ((0, 0.86), (1, 0.87))
    ]
    result = {"command": "x", "commit": "c", "date": "2026-12-02", "summary": summary, "replaced": replaced}
    (tmp_path / "ptbxl_distillation.json").write_text(json.dumps(result))
    (line,) = [line for line in tables.ptbxl_scarce(str(tmp_path)) if line.startswith("Earlier teachers")]
    assert "replaced on 2026-12-02" in line and "one teacher per seed: 0.865 ± 0.007 (validation 0.895)" in line


def test_the_full_label_table_gives_a_delta_column_to_every_row_with_a_paired_reference(tmp_path):
    import json

    group = {"leads": "I", "fraction": 1.0, "runs": 3, "macro_auroc": [0.8, 0.01]}
    summary = [{**group, "model": "student", "teacher": "none"}]
    summary.append({**group, "model": "liteheart_alone", "teacher": "none", "paired_difference": [-0.01, -0.02, 0.0]})
    summary.append({**group, "model": "same_lead_ceiling", "teacher": "none", "paired_difference": [0.0, -0.01, 0.01]})
    result = {"command": "x", "commit": "c", "date": "2026-12-02", "summary": summary}
    (tmp_path / "ptbxl_distillation.json").write_text(json.dumps(result))
    lines = tables.ptbxl_full(str(tmp_path))
    columns = "plain student | LiteHeart student alone | Δ [95 % CI] | same-lead SE-ResNet | Δ [95 % CI]"
    assert f"| student leads | seeds | {columns} |" in lines
    cells = "0.800 ± 0.010 | 0.800 ± 0.010 | -0.010 [-0.020, +0.000] | 0.800 ± 0.010 | +0.000 [-0.010, +0.010]"
    assert f"| I | 3 | {cells} |" in lines


def test_paired_over_runs_pairs_by_seed_and_fold_as_computed_by_hand():
    """Pairs (seed, fold) with differences +0.1, +0.3 (fold 0), +0.2, +0.4 (fold 1), +0.6 (fold 2);
    a run without a partner is left out. The fold means +0.2, +0.3, +0.6 have mean 0.3667 and
    standard error sqrt(0.04333 / 3) = 0.1202; t(0.975, 2) = 4.3027: 0.3667 -/+ 0.5171. One fold
    alone: its mean without an interval; no pairs: an empty cell."""
    from benchmarks.tables import paired_over_runs

    def run(model, seed, fold, auroc):
        return {"model": model, "seed": seed, "fold": fold, "test": {"macro_auroc": auroc}}

    differences = {(0, 0): 0.1, (1, 0): 0.3, (0, 1): 0.2, (1, 1): 0.4, (0, 2): 0.6}
    plain = [run("student", seed, fold, 0.3) for seed, fold in differences]
    kd = [run("student_kd", seed, fold, 0.3 + d) for (seed, fold), d in differences.items()]
    result = {"runs": plain + kd + [run("student_kd", 2, 0, 0.99)]}  # no plain student of seed 2
    assert paired_over_runs(result, {"model": "student_kd"}, {"model": "student"}) == "+0.367 [-0.150, +0.884]"
    one_fold = {"runs": [r for r in result["runs"] if r["fold"] == 0]}
    assert paired_over_runs(one_fold, {"model": "student_kd"}, {"model": "student"}) == "+0.200"
    assert paired_over_runs(result, {"model": "student_mlkd"}, {"model": "student"}) == ""
    unfolded = {"runs": [{**r, "seed": (r["seed"], r["fold"]), "fold": None} for r in plain + kd]}
    # five pairs counted one by one: mean 0.32, sd 0.1924, standard error 0.0860, t(0.975, 4) = 2.7764
    assert paired_over_runs(unfolded, {"model": "student_kd"}, {"model": "student"}) == "+0.320 [+0.081, +0.559]"


def test_paired_over_runs_folds_that_agree_give_a_point_interval():
    """Every fold mean +0.1: no spread, so the interval is [+0.1, +0.1], not NaN."""
    from benchmarks.tables import paired_over_runs

    runs = [
        {"model": model, "seed": 0, "fold": fold, "test": {"macro_auroc": 0.5 + (0.1 if model == "kd" else 0)}}
        for model in ("plain", "kd")
        for fold in range(3)
    ]
    cell = paired_over_runs({"runs": runs}, {"model": "kd"}, {"model": "plain"})
    assert cell == "+0.100 [+0.100, +0.100]"


def test_run_all_repeats_the_committed_publishing_call_with_folders_of_its_own(tmp_path):
    import json

    from benchmarks import run_all

    legacy = tmp_path / "legacy"  # published before --seeds and --settings: the call that repeats it today
    legacy.mkdir()
    old = {"published": {"command": "python benchmarks/publish_cinc2017.py --data ../d --runs ../runs/x"}}
    (legacy / "cinc2017_published_lrhnet.json").write_text(json.dumps(old))
    assert run_all.publish_flags(str(legacy)) == [["--settings", "2026-11", "--seeds", "0"]]
    command = (
        "python benchmarks/publish_cinc2017.py --data ../d --runs=runs/x --seeds 0 1 2 "
        "--train-flags '--augment-invert 0.5' --kept k --models m"
    )
    report = {"published": {"command": command}, "published_seeds": {"chosen": 0, "rows": []}}
    (tmp_path / "cinc2017_published_lrhnet.json").write_text(json.dumps(report))
    both = ["--seeds", "0", "1", "2", "--train-flags", "--augment-invert 0.5"]
    assert run_all.publish_flags(str(tmp_path)) == [both]
    assert run_all.publish_flags(str(tmp_path / "empty")) == []
    later = {"command": command + " --fs 50 --methods lrhnet --runs r2", "date": "2026-12-06"}
    report["published"]["date"] = "2026-12-05"
    (tmp_path / "cinc2017_published_liteheart.json").write_text(json.dumps(report))
    (tmp_path / "cinc2017_published_lrhnet.json").write_text(json.dumps({**report, "published": later}))
    assert run_all.publish_flags(str(tmp_path)) == [both, [*both, "--fs", "50", "--methods", "lrhnet"]]


def test_run_all_never_trains_into_the_committed_results(monkeypatch, capsys):
    import sys

    from benchmarks import run_all

    monkeypatch.setattr(sys, "argv", ["run_all", "--results", RESULTS])
    monkeypatch.setattr(run_all, "run_benchmarks", lambda args: pytest.fail("nothing runs after a refusal"))
    with pytest.raises(SystemExit):
        run_all.main()
    assert "never overwrites" in capsys.readouterr().err


def test_run_all_trains_into_folders_of_its_own_by_default(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    from benchmarks import run_all

    chosen, run_benchmarks = [], run_all.run_benchmarks
    monkeypatch.setattr(sys, "argv", ["run_all", "--data", str(tmp_path / "data")])
    monkeypatch.setattr(run_all, "run_benchmarks", lambda args: chosen.append(args.results))
    monkeypatch.setattr(run_all, "write_tables", lambda results, root: chosen.append(root))
    run_all.main()
    full = os.path.abspath(os.path.join(run_all.ROOT, "runs", "benchmarks_full"))
    assert chosen == [full, None]  # no document is rewritten
    commands = []
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **options: str(tmp_path / "fresh"))
    monkeypatch.setattr(subprocess, "run", lambda argv, **options: commands.append(argv))
    monkeypatch.setattr(run_all, "publish_flags", lambda results: [["--seeds", "0", "--kept", "elsewhere"]])
    folders = {"results": str(tmp_path / "results"), "data": str(tmp_path / "data")}
    run_benchmarks(argparse.Namespace(**folders, quick=False))
    publishing = next(command for command in commands if "benchmarks.publish_cinc2017" in command)

    def flag(name):
        return publishing[len(publishing) - 1 - publishing[::-1].index(name) + 1]  # argparse keeps the last

    runs = os.path.relpath(tmp_path / "fresh", run_all.ROOT)
    assert flag("--runs") == runs and flag("--kept") == os.path.join(runs, "kept")  # not the recorded one
    assert flag("--results") == os.path.relpath(tmp_path / "results", run_all.ROOT)
    commands.clear()
    two_calls = [["--seeds", "0"], ["--seeds", "0", "--fs", "50", "--methods", "lrhnet"]]
    monkeypatch.setattr(run_all, "publish_flags", lambda results: two_calls)
    run_benchmarks(argparse.Namespace(**folders, quick=False))
    calls = [command for command in commands if "benchmarks.publish_cinc2017" in command]
    assert [
        command[command.index("benchmarks.publish_cinc2017") + 1 :][: len(flags)]
        for command, flags in zip(calls, two_calls)
    ] == two_calls  # in the recorded order
    folders_of = [(command[command.index("--runs") + 1], command[command.index("--kept") + 1]) for command in calls]
    assert folders_of == [(os.path.join(runs, f"call{n}"), os.path.join(runs, f"call{n}", "kept")) for n in (1, 2)]


def test_a_recorded_command_can_be_typed_again_with_its_quoted_flags(monkeypatch):
    import shlex
    import sys

    from benchmarks.provenance import REPOSITORY, command_line

    arguments = ["--train-flags", "--augment-invert 0.5", "--data", os.path.join(REPOSITORY, "runs", "d")]
    monkeypatch.setattr(sys, "argv", ["program", *arguments])
    assert shlex.split(command_line())[-4:] == [*arguments[:3], os.path.join("runs", "d")]
