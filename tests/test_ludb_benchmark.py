"""The LUDB benchmarks train with train.py's defaults (cosine, early stopping, online augmentation,
KD without T^2) and resume by fold and seed; checked with training replaced by a recorder."""

import numpy as np
import pytest

from benchmarks import liteheart_ablation, lrhnet_distillation
from benchmarks.run_log import Results
from benchmarks.settings import TRAIN_DEFAULTS
from data_utils import STANDARD_LEADS, Preprocessing, open_dataset
from data_utils.augment import Augmentation
from data_utils.cache import build_cache
from liteheart.semi_supervised import SemiSupervisedDistiller
from lrhnet.terms import LogitDistillation


@pytest.fixture
def ludb_setting(bundled, tmp_path, monkeypatch):
    """The three bundled LUDB records as one fold; ``train_and_score`` records its arguments instead of training."""
    cache = build_cache(
        open_dataset(bundled("ludb")), Preprocessing(fs=100), STANDARD_LEADS, cache_dir=str(tmp_path), progress=False
    )
    splits = [{"train": np.array([0, 1]), "validation": np.array([2]), "test": np.array([2])}]
    calls = []

    def recorder(
        results, network, pipeline, split, classes, multilabel, epochs, seed, view, name, leads, extra=None, **fit
    ):
        calls.append({"name": name, "leads": leads, "pipeline": pipeline, "epochs": epochs, **fit})
        results.add(model=name, leads=leads, seed=seed, params=0, test={"macro_auroc": 0.5}, **(extra or {}))
        return network

    for module in (lrhnet_distillation, liteheart_ablation):
        monkeypatch.setattr(module, "ludb_folds", lambda *args, **kwargs: (cache, splits))
        monkeypatch.setattr(module, "train_and_score", recorder)
    return calls


def header():
    return {"setting": "ludb", "command": "test", "commit": "test", "date": "today"}


def lrhnet_args(**changes):
    args = dict(data="ludb", folds=1, quick=False, seeds=[0], epochs=lrhnet_distillation.LUDB_EPOCHS)
    return type("Args", (), {**args, **changes})


def test_ludb_lrhnet_rows_train_with_the_current_defaults(ludb_setting, tmp_path):
    results = Results(str(tmp_path / "ludb.json"), header())
    lrhnet_distillation.run_ludb(lrhnet_args(), results)
    names = [(call["name"], call["leads"]) for call in ludb_setting]
    assert names == lrhnet_distillation.ludb_rows() and len(set(names)) == 13
    for call in ludb_setting:
        assert call["epochs"] == 40 and call["schedule"] == "cosine" and call["patience"] == 10
        assert call["pipeline"].augmentation is not None
        for term in call.get("terms", []):
            assert isinstance(term, LogitDistillation) and not term.scale_t2 and term.temperature == 7.0
        if "terms" in call:
            assert call["supervised_weight"] == pytest.approx(0.3)
            assert sum(term.weight for term in call["terms"]) == pytest.approx(0.7)
    assert sum("terms" in call for call in ludb_setting) == 9  # KD, assistant and MLKD on 3 lead sets


def test_ludb_lrhnet_skips_a_finished_fold_and_retrains_a_partial_one_whole(ludb_setting, tmp_path):
    path = str(tmp_path / "ludb.json")
    lrhnet_distillation.run_ludb(lrhnet_args(seeds=[0, 1]), Results(path, header()))
    assert len(ludb_setting) == 26
    ludb_setting.clear()
    lrhnet_distillation.run_ludb(lrhnet_args(seeds=[0, 1]), Results(path, header(), resume=True))
    assert ludb_setting == []
    partial = Results(path, header(), resume=True)
    partial.runs = [run for run in partial.runs if not (run["seed"] == 1 and run["model"] == "student_mlkd")]
    lrhnet_distillation.run_ludb(lrhnet_args(seeds=[0, 1]), partial)
    assert [call["name"] for call in ludb_setting][0] == "teacher" and len(ludb_setting) == 13
    assert len(partial.runs) == 26


def test_ludb_liteheart_variants_drop_t2_and_weak_augmentation(ludb_setting, tmp_path):
    args = type(
        "Args", (), dict(data="ludb", quick=False, seeds=[0], epochs=40, fractions=[1.0], variants=["kd", "liteheart"])
    )
    results = Results(str(tmp_path / "lh.json"), header(), key=("model", "setting", "seed", "fold"))
    liteheart_ablation.run_ludb(args, results)
    calls = {call["name"]: call for call in ludb_setting}
    assert list(calls) == ["teacher", "kd", "liteheart"]
    for call in calls.values():
        assert call["schedule"] == TRAIN_DEFAULTS["schedule"] and call["patience"] == TRAIN_DEFAULTS["patience"]
    assert not calls["kd"]["terms"][0].scale_t2
    assert not any(getattr(term, "scale_t2", False) for term in calls["liteheart"]["terms"])
    assert calls["liteheart"]["distiller_class"] is SemiSupervisedDistiller
    assert calls["liteheart"]["distiller_options"] == {"fs": 100.0, "weak_augmentation": False}


@pytest.mark.parametrize("module", [lrhnet_distillation, liteheart_ablation])
def test_an_existing_out_is_kept_unless_resumed_with_the_same_recipe(module, tmp_path, monkeypatch, capsys):
    import json
    import sys

    out = tmp_path / "ludb.json"
    ran = []
    monkeypatch.setattr(Results, "complete", lambda self, run, args: ran.append(args.epochs) or self.write())
    call = ["benchmark", "ludb", "--data", "ludb", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", call)
    module.main()  # a new file, its recipe in the header
    written = out.read_text()
    recipe = json.loads(written)["recipe"]
    assert recipe["epochs"] == module.LUDB_EPOCHS and recipe["augmentation"] == json.loads(
        json.dumps(Augmentation().as_dict())
    )
    for flags, message in (
        ([], "exists: pass --resume to add to its rows"),
        (["--resume", "--epochs", "7"], "was recorded with recipe"),
        (["--resume", "--quick"], "was recorded with recipe"),  # quick rows never join full ones
    ):
        monkeypatch.setattr(sys, "argv", call + flags)
        with pytest.raises(SystemExit):
            module.main()
        assert message in capsys.readouterr().err and out.read_text() == written
    monkeypatch.setattr(sys, "argv", call + ["--resume"])
    module.main()  # the same recipe: resumed
    assert ran == [module.LUDB_EPOCHS] * 2
    for text, message in (('{"runs": []}', "made before results files recorded their recipe"), ("{", "not a readable")):
        legacy = tmp_path / "legacy.json"
        legacy.write_text(text)
        monkeypatch.setattr(sys, "argv", [*call[:-1], str(legacy), "--resume"])
        with pytest.raises(SystemExit):
            module.main()
        assert message in capsys.readouterr().err and legacy.read_text() == text
