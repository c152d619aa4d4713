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


def write_nan(folder):
    values = scipy.io.loadmat(folder / "JS20019.mat")["val"].astype(np.float64)
    values[3, 100:110] = np.nan
    scipy.io.savemat(folder / "JS20019.mat", {"val": values}, format="4")


def rename_lead(folder):
    rewrite_header(folder / "JS20019.hea", lambda lines: [lines[0], lines[1].replace(" I", " XYZ")] + lines[2:])


def remove_labels(folder):
    rewrite_header(folder / "JS20019.hea", lambda lines: [line for line in lines if "Dx" not in line])


CASES = [
    (remove_signal_file, MissingSignalFile, "not found"),
    (truncate_mat, TruncatedSignal, "truncated"),
    (drop_one_signal_line, SignalCountMismatch, "11 signals"),
    (write_nan, NonFiniteSignal, "NaN"),
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
