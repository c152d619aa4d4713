"""``inspect``, ``predict`` and ``train.py`` over the malformed-input corpus (``tests/malformed_corpus.py``).

The corpus holds 88 kinds: 46 kinds of record across the four formats and unlabelled folders
(good records counted once per folder), 14 kinds of bad model file or ``predict`` argument, and 28
bad ``train.py`` flags, folders, data or stage subsets. For every command: no traceback; each bad record gives
a skip naming the record and its reason (or a typed error when read alone); good records beside
bad ones are still read; and no file under the corpus changes.
"""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest
from malformed_corpus import PREDICT_KINDS, TRAIN_KINDS, build_corpus, kind_count

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODEL = os.path.join(
    ROOT, "models", "cinc2017", "liteheart_int8.tflite"
)  # lead I, any record with lead I can be predicted
DATA_FOLDERS = {
    "challenge": ["--vocabulary", "scored2021"],
    "cinc2017": [],
    "ptbxl": ["--fs", "100"],
    "ludb": [],
    "unlabeled/empty_dx": [],
    "unlabeled/ptbxl_style": [],
}


def tree_digest(root):
    """``{relative path: content hash (or link target, or size and time when unreadable)}`` of every entry under
    ``root``."""
    digest = {}
    for folder, subfolders, files in os.walk(root):
        for name in subfolders + files:
            path = os.path.join(folder, name)
            status = os.lstat(path)
            if stat.S_ISLNK(status.st_mode):
                digest[os.path.relpath(path, root)] = "link:" + os.readlink(path)
            elif stat.S_ISREG(status.st_mode):
                try:
                    with open(path, "rb") as handle:
                        digest[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
                except PermissionError:
                    digest[os.path.relpath(path, root)] = f"unreadable:{status.st_size}:{status.st_mtime_ns}"
            else:
                digest[os.path.relpath(path, root)] = f"mode:{status.st_mode}:{status.st_mtime_ns}"
    return digest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The corpus folder, its kinds, and its digest before any command ran; checks the digest after."""
    root = str(tmp_path_factory.mktemp("corpus"))
    kinds = build_corpus(root)
    before = tree_digest(root)
    yield root, kinds
    assert tree_digest(root) == before, "a command changed a file under the data folder"
    os.chmod(os.path.join(root, "challenge", "unreadable_header.hea"), 0o644)


def no_traceback(text):
    assert "Traceback" not in text, text[-3000:]


def test_the_corpus_holds_at_least_30_kinds(corpus):
    assert kind_count(corpus[1]) == 88


@pytest.mark.parametrize("folder", sorted(DATA_FOLDERS))
def test_inspect_reads_the_good_records_and_names_each_bad_one(corpus, folder, capsys):
    from data_utils.inspect import main

    root, kinds = corpus
    status = main(["--json", os.path.join(root, folder), *DATA_FOLDERS[folder]])
    out, err = capsys.readouterr()
    no_traceback(out + err)
    assert status == 0, err
    summary = json.loads(out)
    mine = [kind for kind in kinds if kind.folder == folder]
    assert summary["records"] == sum(kind.dataset == "read" for kind in mine)
    skipped = {skip["record"]: skip["reason"] for skip in summary["skipped"]}
    for kind in mine:
        if kind.dataset == "skip":
            assert kind.record in skipped and kind.words in skipped[kind.record], (kind.name, skipped.get(kind.record))
        else:
            assert kind.record not in skipped, (kind.name, skipped[kind.record])
    if folder.startswith("unlabeled"):
        assert (
            summary["format"] == "unlabeled" and "no labels: usable for predict, not for training" in summary["notes"]
        )


def test_inspect_says_what_an_unlabeled_folder_is_good_for(corpus, capsys):
    from data_utils.inspect import main

    assert main([os.path.join(corpus[0], "unlabeled")]) == 0
    out = capsys.readouterr().out
    assert (
        "records  3 loaded" in out
        and "no labels: usable for predict, not for training" in out
        and "100 Hz (1), 500 Hz (2)" in out
    )


@pytest.mark.parametrize("folder", ["challenge", "cinc2017", "ptbxl", "ludb", "unlabeled"])
def test_predict_predicts_the_good_records_and_skips_the_bad_with_reasons(corpus, folder, tmp_path, capsys):
    from lrhnet.predict import main

    root, kinds = corpus
    out = str(tmp_path / "predictions.csv")
    status = main(["--model", MODEL, "--input", os.path.join(root, folder), "--out", out])
    captured = capsys.readouterr()
    no_traceback(captured.out + captured.err)
    assert status == 0, captured.err
    with open(out) as handle:
        predicted = {line.split(",")[0] for line in handle.readlines()[1:]}
    for kind in (kind for kind in kinds if kind.folder.split("/")[0] == folder):
        if kind.predict == "read":
            assert kind.file in predicted, (kind.name, captured.err)
        elif kind.predict == "skip":
            assert kind.file not in predicted and f"{kind.file}: " in captured.err and kind.words in captured.err, (
                kind.name,
                captured.err,
            )
        else:
            assert kind.file not in predicted and kind.file not in captured.err, kind.name


def test_each_bad_record_read_alone_raises_a_typed_error_naming_it(corpus):
    """What a skip says is what reading the record alone (and preparing it as predict does) raises."""
    from data_utils import read_record
    from data_utils.errors import RecordError, UnexpectedRecordError
    from data_utils.preprocess import Preprocessing
    from data_utils.readers.challenge import find_headers

    root, kinds = corpus
    headers = {os.path.basename(path)[: -len(".hea")]: path for path in find_headers(root)}
    for kind in (kind for kind in kinds if kind.predict == "skip"):
        with pytest.raises(RecordError) as caught:
            record = read_record(headers[kind.file])
            Preprocessing(fs=100).apply(record.signal, record.fs, record.record_id)
        assert (
            not isinstance(caught.value, UnexpectedRecordError)
            and caught.value.record == kind.file
            and kind.words in caught.value.reason
        ), kind.name


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory):
    """A folder of model files for ``PREDICT_KINDS``: ``{kind: path}``."""
    folder = tmp_path_factory.mktemp("models")
    with open(MODEL + ".json") as handle:
        sidecar = json.load(handle)

    def model(name, content=None, sidecar_content=None):
        path = str(folder / f"{name}.tflite")
        shutil.copy(MODEL, path) if content is None else open(path, "wb").write(content)
        if sidecar_content is not None:
            with open(path + ".json", "w") as handle:
                handle.write(sidecar_content if isinstance(sidecar_content, str) else json.dumps(sidecar_content))
        return path

    return {
        "not_a_model": model("not_a_model", b"TFL3 but not a flatbuffer at all" * 10, sidecar),
        "sidecar_of_another_model": model("other", None, {**sidecar, "leads": ["I", "II"]}),
        "sidecar_not_json": model("garbled", None, "{classes: N A O ~"),
        "sidecar_without_window": model(
            "nowindow", None, {key: value for key, value in sidecar.items() if key != "window"}
        ),
        "sidecar_thresholds_not_numbers": model(
            "thresholds", None, {**sidecar, "multilabel": True, "thresholds": [None, "0.5", 0.5, 0.5]}
        ),
        "sidecar_single_label_threshold_zero": model(
            "divisor", None, {**sidecar, "multilabel": False, "thresholds": [1.0, 0.0, 1.0, 1.0]}
        ),
        "sidecar_band_above_nyquist": model(
            "band", None, {**sidecar, "preprocessing": {**sidecar["preprocessing"], "band": [0.5, 400]}}
        ),
        "model_without_sidecar": model("lonely"),
    }


@pytest.mark.parametrize("kind", sorted(PREDICT_KINDS))
def test_predict_refuses_bad_models_and_arguments_clearly(corpus, bad_models, kind, tmp_path, capsys):
    from lrhnet.predict import main

    root = corpus[0]
    user_file = tmp_path / "thesis.csv"
    user_file.write_text("my own table\n")
    args = {
        "out_inside_input": ["--out", os.path.join(root, "ludb", "p.csv")],
        "out_is_a_user_file": ["--out", str(user_file)],
        "out_beside_a_single_input_record": [
            "--input",
            os.path.join(root, "ludb", "data", "1"),
            "--out",
            os.path.join(root, "ludb", "data", "p.csv"),
        ],
        "stride_zero": ["--stride-seconds", "0"],
        "stride_infinite": ["--stride-seconds", "inf"],
        "input_absent": ["--input", str(tmp_path / "nothing")],
    }.get(kind, [])
    argv = [
        "--model",
        bad_models.get(kind, MODEL),
        "--input",
        os.path.join(root, "ludb"),
        "--out",
        str(tmp_path / "p.csv"),
        *args,
    ]
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse errors
        status = exit.code
    captured = capsys.readouterr()
    no_traceback(captured.out + captured.err)
    assert status == 2 and PREDICT_KINDS[kind] in captured.err, captured.err
    assert user_file.read_text() == "my own table\n" and not os.path.exists(tmp_path / "p.csv")


def test_predict_keeps_an_earlier_predictions_file_when_no_record_can_be_predicted(corpus, tmp_path, capsys):
    from lrhnet.predict import main

    out = str(tmp_path / "p.csv")
    assert main(["--model", MODEL, "--input", os.path.join(corpus[0], "ludb"), "--out", out]) == 0
    earlier = open(out).read()
    assert (
        main(["--model", MODEL, "--input", os.path.join(corpus[0], "ludb", "data", "5"), "--out", out]) == 1
    )  # a record with a stray byte
    assert "none of the 1 records could be predicted" in capsys.readouterr().err and open(out).read() == earlier


def run_train(argv):
    """What ``train.py`` runs, in this process: ``(exit status, message)``; no other exception may escape."""
    from kdpipeline.options import parse_args
    from kdpipeline.runner import run

    try:
        return run(parse_args(argv)), ""
    except SystemExit as exit:
        return (2, "") if isinstance(exit.code, int) else (1, str(exit.code))


@pytest.mark.parametrize("kind", sorted(TRAIN_KINDS))
def test_train_refuses_bad_flags_and_data_before_writing(corpus, kind, tmp_path, capsys, monkeypatch):
    root = corpus[0]
    user_file, user_folder = tmp_path / "thesis.tex", tmp_path / "mine"
    user_file.write_text("\\chapter{Mine}\n")
    (user_folder / "mydata").mkdir(parents=True)
    (user_folder / "mydata" / "notes.txt").write_text("notes\n")
    foreign = tmp_path / "other_tool"
    (foreign / "models").mkdir(parents=True)
    (foreign / "state.json").write_text('{"step": 3}')
    (foreign / "models" / "weights.bin").write_text("mine")
    os.symlink(str(tmp_path / "nowhere"), str(tmp_path / "dangling"))
    places = {
        "user_file": str(user_file),
        "user_folder": str(user_folder),
        "ptbxl": os.path.join(root, "ptbxl"),
        "ludb": os.path.join(root, "ludb"),
        "unlabeled": os.path.join(root, "unlabeled"),
        "empty_dx": os.path.join(root, "unlabeled", "empty_dx"),
        "checkout": ROOT,
        "dangling": str(tmp_path / "dangling"),
        "foreign_state": str(foreign),
        "published_student": os.path.join(ROOT, "models", "cinc2017", "lrhnet.keras"),
    }
    flags, words, *environment = TRAIN_KINDS[kind]
    argv = [flag.format(**places) for flag in flags]
    fresh_out = "--out" not in argv
    if fresh_out:
        argv += ["--out", str(tmp_path / "run")]
    for name, value in (environment[0] if environment else {}).items():
        monkeypatch.setenv(name, value.format(**places))
    status, message = run_train(argv)
    captured = capsys.readouterr()
    no_traceback(captured.out + captured.err + message)
    assert status in (1, 2) and words in captured.err + message, captured.err + message
    if fresh_out:
        assert not os.path.exists(tmp_path / "run"), "nothing is written before every input is checked"
    assert (
        user_file.read_text() == "\\chapter{Mine}\n" and (user_folder / "mydata" / "notes.txt").read_text() == "notes\n"
    )
    assert sorted(os.listdir(user_folder)) == ["mydata"] and sorted(os.listdir(foreign)) == ["models", "state.json"]
    assert (foreign / "models" / "weights.bin").read_text() == "mine" and not os.path.lexists(tmp_path / "nowhere")


def test_train_on_the_ptbxl_corpus_uses_the_good_records_and_reports_the_bad(corpus, tmp_path):
    root, kinds = corpus
    out = str(tmp_path / "run")
    command = [
        sys.executable,
        os.path.join(ROOT, "train.py"),
        "--data",
        os.path.join(root, "ptbxl"),
        "--stages",
        "teacher,student",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--teacher-width",
        "0.125",
        "--window-seconds",
        "5",
        "--out",
        out,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    )
    no_traceback(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(out, "report.json")) as handle:
        data = json.load(handle)["data"]
    mine = [kind for kind in kinds if kind.folder == "ptbxl"]
    assert data["records"] == sum(kind.dataset == "read" for kind in mine) == 14
    assert data["split"] == {"train": 8, "validation": 3, "test": 3}
    skipped = {skip["record"]: skip["reason"] for skip in data["skipped"]}
    assert all(kind.words in skipped[kind.record] for kind in mine if kind.dataset == "skip"), skipped
