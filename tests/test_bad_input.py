"""Each damaged record raises a typed error naming it when read alone, and becomes a skip with the
same reason when its folder is read. The data folder is never written."""

import os
import shutil

import numpy as np
import pytest
import scipy.io

from data_utils import open_dataset, read_record
from data_utils.errors import (
    MissingSignalFile,
    NoLabels,
    NonFiniteSignal,
    RecordTooShort,
    SignalCountMismatch,
    TruncatedSignal,
    UnknownLead,
)


@pytest.fixture
def challenge_folder(bundled, tmp_path):
    """A copy of the bundled 2021 challenge records, to damage."""
    folder = tmp_path / "challenge"
    shutil.copytree(bundled("cinc2021"), folder)
    return folder


def rewrite_header(path, edit):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def remove_signal_file(folder):
    os.remove(folder / "JS20019.mat")


def truncate_mat(folder):
    data = (folder / "JS20019.mat").read_bytes()
    (folder / "JS20019.mat").write_bytes(data[: len(data) // 3])


def drop_one_signal_line(folder):
    def edit(lines):
        fields = lines[0].split()
        fields[1] = "11"
        return [" ".join(fields)] + lines[1:12] + lines[13:]

    rewrite_header(folder / "JS20019.hea", edit)


def write_nan(folder, start=100, stop=200):
    values = scipy.io.loadmat(folder / "JS20019.mat")["val"].astype(np.float64)
    values[3, start:stop] = np.nan  # 0.2 s at 500 Hz: longer than a repairable gap
    scipy.io.savemat(folder / "JS20019.mat", {"val": values}, format="4")


def rename_lead(folder):
    rewrite_header(folder / "JS20019.hea", lambda lines: [lines[0], lines[1].replace(" I", " XYZ")] + lines[2:])


def remove_labels(folder):
    rewrite_header(folder / "JS20019.hea", lambda lines: [line for line in lines if "Dx" not in line])


CASES = [
    (remove_signal_file, MissingSignalFile, "not found"),
    (truncate_mat, TruncatedSignal, "truncated"),
    (drop_one_signal_line, SignalCountMismatch, "11 signals"),
    (write_nan, NonFiniteSignal, "100 invalid samples in a row"),
    (rename_lead, UnknownLead, "'XYZ'"),
    (remove_labels, NoLabels, "no"),
]


@pytest.mark.parametrize("damage, error, words", CASES, ids=[case[1].__name__ for case in CASES])
def test_single_record_raises_typed_error(challenge_folder, damage, error, words):
    damage(challenge_folder)
    with pytest.raises(error, match=words) as caught:
        read_record(str(challenge_folder / "JS20019"), require_labels=True)
    assert caught.value.record == "JS20019"


@pytest.mark.parametrize("damage, error, words", CASES, ids=[case[1].__name__ for case in CASES])
def test_folder_read_turns_it_into_a_skip(challenge_folder, damage, error, words):
    damage(challenge_folder)
    dataset = open_dataset(str(challenge_folder)).validate(progress=False)
    assert "JS20019" not in dataset.record_ids and len(dataset) == 3
    [skip] = [skip for skip in dataset.skipped if skip.record == "JS20019"]
    assert words in skip.reason


def test_short_gaps_of_invalid_samples_are_interpolated(challenge_folder):
    """WFDB's invalid value (-32768 in format 16) and NaN both read as missing; a gap of at most
    50 ms is filled linearly between its neighbours, a longer one refuses the record."""
    values = scipy.io.loadmat(challenge_folder / "JS20019.mat")["val"].astype(np.float64)
    original = read_record(str(challenge_folder / "JS20019")).signal
    values[0, 1000:1010] = -32768  # 20 ms at 500 Hz
    values[5, 2000:2025] = np.nan  # 50 ms
    scipy.io.savemat(challenge_folder / "JS20019.mat", {"val": values}, format="4")
    repaired = read_record(str(challenge_folder / "JS20019")).signal
    assert np.all(np.isfinite(repaired))
    np.testing.assert_allclose(
        repaired[1000:1010, 0], np.linspace(original[999, 0], original[1010, 0], 12)[1:-1], rtol=1e-5, atol=1e-6
    )
    untouched = np.ones(len(original), bool)
    untouched[1000:1010] = False
    np.testing.assert_array_equal(repaired[untouched, 0], original[untouched, 0])
    values[5, 2000:2026] = np.nan  # 52 ms: one sample too long
    scipy.io.savemat(challenge_folder / "JS20019.mat", {"val": values}, format="4")
    with pytest.raises(NonFiniteSignal, match="26 invalid samples in a row"):
        read_record(str(challenge_folder / "JS20019"))


def test_a_lead_of_invalid_samples_refuses_the_record(challenge_folder):
    values = scipy.io.loadmat(challenge_folder / "JS20019.mat")["val"].astype(np.float64)
    values[7] = -32768
    scipy.io.savemat(challenge_folder / "JS20019.mat", {"val": values}, format="4")
    with pytest.raises(NonFiniteSignal, match="every sample is invalid"):
        read_record(str(challenge_folder / "JS20019"))


def test_truncated_dat(bundled, tmp_path):
    shutil.copytree(bundled("ludb"), tmp_path / "ludb")
    dat = tmp_path / "ludb" / "data" / "2.dat"
    dat.write_bytes(dat.read_bytes()[:50_000])
    with pytest.raises(TruncatedSignal, match="header declares 60000"):
        read_record(str(tmp_path / "ludb" / "data" / "2"))
    dataset = open_dataset(str(tmp_path / "ludb")).validate(progress=False)
    assert dataset.record_ids == ["1", "3"] and dataset.skipped[0].record == "2"


def test_record_shorter_than_a_window(bundled):
    with pytest.raises(RecordTooShort, match="shorter than one window"):
        read_record(bundled("cinc2017/A05493"), min_seconds=10)
    dataset = open_dataset(bundled("cinc2017"), min_seconds=9.5)  # two records last 9.05 and 9.13 s
    assert dataset.record_ids == ["A00592", "A05056"]
    assert sorted(skip.record for skip in dataset.skipped) == ["A05493", "A08050"]


def test_reading_never_writes_the_data_folder(bundled, tmp_path):
    from data_utils.cache import build_cache
    from data_utils.preprocess import Preprocessing

    folder = tmp_path / "data"
    shutil.copytree(bundled("cinc2021"), folder)
    before = {path: os.stat(folder / path).st_mtime_ns for path in os.listdir(folder)}
    dataset = open_dataset(str(folder)).validate(progress=False)
    build_cache(dataset, Preprocessing(), ("I", "II"), cache_dir=str(tmp_path / "cache"), progress=False)
    assert {path: os.stat(folder / path).st_mtime_ns for path in os.listdir(folder)} == before
    with pytest.raises(ValueError, match="inside the data folder"):
        build_cache(dataset, Preprocessing(), ("I",), cache_dir=str(folder / "cache"))


def test_an_unexpected_error_in_one_record_becomes_a_skip_everywhere(bundled, tmp_path, monkeypatch):
    """A failure no check foresaw (here a ZeroDivisionError in the reader) skips that record, with
    the error named, when a folder is indexed, read or cached; the others go on."""
    from data_utils.cache import build_cache
    from data_utils.preprocess import Preprocessing
    from data_utils.readers import base, cinc2017

    real_read_signal = base.read_signal

    def flaky(header):
        if header.record_id == "A05056":
            raise ZeroDivisionError("division by zero")
        return real_read_signal(header)

    monkeypatch.setattr(base, "read_signal", flaky)
    dataset = open_dataset(bundled("cinc2017")).validate(progress=False)
    assert "A05056" not in dataset.record_ids and len(dataset) == 3
    assert [(skip.record, skip.kind) for skip in dataset.skipped] == [("A05056", "UnexpectedRecordError")]
    assert "unexpected ZeroDivisionError: division by zero" in dataset.skipped[0].reason
    cache = build_cache(
        open_dataset(bundled("cinc2017")), Preprocessing(), ("I",), cache_dir=str(tmp_path / "cache"), progress=False
    )
    assert len(cache) == 3 and "A05056" in {skip.record for skip in cache.skipped}
    monkeypatch.setattr(base, "read_signal", real_read_signal)
    monkeypatch.setattr(cinc2017, "RecordRef", lambda *args, **kwargs: 1 / 0)  # indexing fails for every record
    indexed = open_dataset(bundled("cinc2017"))
    assert (
        len(indexed) == 0
        and {skip.kind for skip in indexed.skipped} == {"UnexpectedRecordError"}
        and len(indexed.skipped) == 4
    )


def test_an_unexpected_error_while_preparing_a_record_is_skipped_by_predict(bundled, tmp_path, monkeypatch, capsys):
    from lrhnet import predict

    model = os.path.join(os.path.dirname(__file__), "..", "models", "cinc2017", "liteheart_int8.tflite")
    real_predict = predict.Predictor.predict

    def flaky(self, record):
        if record.record_id == "A05056":
            raise ZeroDivisionError("division by zero")
        return real_predict(self, record)

    monkeypatch.setattr(predict.Predictor, "predict", flaky)
    assert predict.main(["--model", model, "--input", bundled("cinc2017"), "--out", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert "A05056: unexpected ZeroDivisionError: division by zero" in err and "3 records predicted, 1 skipped" in err
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 4


def test_a_changed_source_file_rebuilds_the_cache(bundled, tmp_path):
    from data_utils.cache import build_cache
    from data_utils.preprocess import Preprocessing

    folder = tmp_path / "data"
    shutil.copytree(bundled("cinc2021"), folder)
    first = build_cache(
        open_dataset(str(folder)), Preprocessing(), ("I",), cache_dir=str(tmp_path / "cache"), progress=False
    )
    again = build_cache(
        open_dataset(str(folder)), Preprocessing(), ("I",), cache_dir=str(tmp_path / "cache"), progress=False
    )
    assert again.directory == first.directory  # nothing changed: the cache is reused
    values = scipy.io.loadmat(folder / "JS20019.mat")["val"]
    scipy.io.savemat(folder / "JS20019.mat", {"val": -values}, format="4")  # same size, new content and time
    changed = build_cache(
        open_dataset(str(folder)), Preprocessing(), ("I",), cache_dir=str(tmp_path / "cache"), progress=False
    )
    assert changed.directory != first.directory
    row = changed.record_ids.index("JS20019")
    np.testing.assert_allclose(changed.signal(row).astype(np.float32), -first.signal(row).astype(np.float32), atol=2e-3)


def test_synthetic_caches_key_on_the_generator_version(monkeypatch):
    from data_utils import synthetic
    from data_utils.cache import cache_key
    from data_utils.preprocess import Preprocessing

    dataset = open_dataset("synthetic:n=4,seed=1")
    key = cache_key(dataset, Preprocessing(), ("I",), None)
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", synthetic.GENERATOR_VERSION + 1)
    assert cache_key(dataset, Preprocessing(), ("I",), None) != key


def test_probabilities_do_not_overflow():
    from lrhnet.litert import probabilities

    logits = np.array([[1000.0, -1000.0, 0.0]])
    with np.errstate(over="raise", invalid="raise"):
        np.testing.assert_allclose(probabilities(logits, multilabel=True), [[1.0, 0.0, 0.5]])
        np.testing.assert_allclose(probabilities(logits, multilabel=False), [[1.0, 0.0, 0.0]])


def test_a_record_too_short_for_the_filter_raises_the_typed_error():
    from data_utils.preprocess import Preprocessing

    with pytest.raises(RecordTooShort, match="the band-pass filter needs more than 21"):
        Preprocessing(fs=100).apply(np.ones((21, 1), np.float32), 100, "tiny")
    assert Preprocessing(fs=100).apply(np.random.default_rng(0).normal(size=(22, 1)), 100, "enough").shape == (22, 1)


def test_an_unreadable_header_is_a_skip(bundled, monkeypatch):
    """A header the process may not read (permissions do not stop root, so ``open`` is made to refuse)."""
    from data_utils import wfdb_io

    def refuse(path, *args, **kwargs):
        if str(path).endswith("A05056.hea"):
            raise PermissionError(13, "Permission denied")
        return open(path, *args, **kwargs)

    monkeypatch.setattr(wfdb_io, "open", refuse, raising=False)
    dataset = open_dataset(bundled("cinc2017"))
    assert dataset.record_ids == ["A00592", "A05493", "A08050"]
    assert [(skip.record, skip.reason, skip.kind) for skip in dataset.skipped] == [
        ("A05056", "cannot read header: Permission denied", "HeaderError")
    ]
