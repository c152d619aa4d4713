"""Readers on real records: signals in mV, standard lead order, labels, demographics, formats."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import wfdb

from data_utils import STANDARD_LEADS, open_dataset, read_record
from data_utils.readers import detect_format
from data_utils.readers.ludb import WAVES, ludb_delineation
from data_utils.readers.ptbxl import LABEL_SETS


@pytest.mark.parametrize(
    "name, fmt, records, leads",
    [
        ("ludb", "ludb", 3, 12),
        ("cinc2017", "cinc2017", 4, 1),
        ("cinc2020", "challenge", 3, 12),
        ("cinc2021", "challenge", 4, 12),
        ("ptbxl", "ptbxl", 4, 12),
    ],
)
def test_every_bundled_format_reads(bundled, name, fmt, records, leads):
    dataset = open_dataset(bundled(name)).validate(progress=False)
    assert dataset.format == fmt == detect_format(bundled(name))
    assert len(dataset) == records and dataset.skipped == []
    record = dataset.read(0)
    assert record.signal.dtype == np.float32 and record.signal.shape[1] == leads
    assert record.leads == STANDARD_LEADS[:leads]
    assert record.labels and set(record.labels) <= set(dataset.classes)
    assert 0.05 < np.abs(record.signal).max() < 20, "signal should be in millivolts"


@pytest.mark.parametrize(
    "path",
    [
        "cinc2021/HR06009",
        "cinc2020/Q0001",
        "cinc2020/HR00599",
        "ludb/data/2",
        "ptbxl/records500/00000/00003_hr",
        "cinc2017/A00592",
    ],
)
def test_signal_matches_wfdb_physical_values(bundled, path):
    base = bundled(path)
    expected = wfdb.rdrecord(base).p_signal
    record = read_record(base)
    names = [name.lower() for name in wfdb.rdheader(base).sig_name]
    for column, lead in enumerate(record.leads):
        source = names.index(lead.lower()) if lead.lower() in names else 0
        np.testing.assert_allclose(record.signal[:, column], expected[:, source], atol=1e-5)


def test_header_that_wfdb_rejects_still_loads(bundled):
    with pytest.raises(Exception):
        wfdb.rdheader(bundled("cinc2020/E00009"))
    record = read_record(bundled("cinc2020/E00009"))
    assert record.signal.shape == (5000, 12)
    assert record.age == 76 and record.sex == "M"
    assert record.labels == ("428750005", "39732003", "427084000")


def test_lead_order_and_case_are_normalised(bundled, tmp_path):
    source = bundled("ludb/data/1")
    lines = open(source + ".hea").read().splitlines()
    signal_lines = lines[1:13]
    # Reverse the signal lines (and their columns in the data) and upper-case the names.
    shutil.copy(source + ".hea", tmp_path / "1.hea")
    data = np.fromfile(source + ".dat", dtype="<i2").reshape(-1, 12)[:, ::-1]
    data.astype("<i2").tofile(tmp_path / "1.dat")
    reordered = [line.rsplit(" ", 1)[0] + " " + line.rsplit(" ", 1)[1].upper() for line in reversed(signal_lines)]
    (tmp_path / "1.hea").write_text("\n".join([lines[0]] + reordered + lines[13:]) + "\n")
    original, shuffled = read_record(source), read_record(str(tmp_path / "1"))
    assert shuffled.leads == STANDARD_LEADS
    np.testing.assert_array_equal(original.signal, shuffled.signal)


def test_challenge_vocabularies(bundled):
    all_codes = open_dataset(bundled("cinc2021"))
    scored = open_dataset(bundled("cinc2021"), vocabulary="scored2021")
    lrhnet = open_dataset(bundled("cinc2021"), vocabulary="scored2020")
    assert len(scored.classes) == 26 and len(lrhnet.classes) == 24
    assert "713427006|59118001" in lrhnet.classes and "6374002" not in lrhnet.classes
    assert len(all_codes) == 4 and len(scored) == 3
    assert scored.skipped[0].record == "E07505" and "no Dx code" in scored.skipped[0].reason
    js = scored.refs[scored.record_ids.index("JS20019")]
    assert set(js.labels) == {"164934002", "427084000", "284470004|63593006"}  # PAC is written as its merged group
    assert js.age == 70 and js.sex == "M"


def test_ptbxl_label_sets_folds_and_missing_rate(bundled, caplog):
    sizes = {name: len(open_dataset(bundled("ptbxl"), label_set=name, fs=500).classes) for name in LABEL_SETS}
    assert sizes == {"all": 71, "diagnostic": 44, "subdiagnostic": 23, "superdiagnostic": 5, "form": 19, "rhythm": 12}
    dataset = open_dataset(bundled("ptbxl"), label_set="superdiagnostic", fs=100)
    assert dict(zip(dataset.record_ids, (ref.fold for ref in dataset.refs))) == {"1": 3, "2": 2, "3": 5, "8": 9}
    assert dataset.refs[dataset.record_ids.index("8")].labels == ("MI",)
    assert dataset.notes and "resampled to 100 Hz" in dataset.notes[0] and "resampled" in caplog.text
    record = dataset.read(0)
    assert record.fs == 100 and record.signal.shape == (1000, 12)
    assert record.age == 56 and record.sex == "F"


def test_cinc2017_is_single_label_lead_one(bundled):
    dataset = open_dataset(bundled("cinc2017"))
    assert not dataset.multilabel and dataset.classes == ("N", "A", "O", "~")
    assert dataset.label_matrix().sum(axis=1).tolist() == [1.0] * 4
    assert dataset.read(0).leads == ("I",) and dataset.read(0).fs == 300


def test_ludb_vocabulary_and_delineation_masks(bundled):
    dataset = open_dataset(bundled("ludb"))
    record = dataset.read(0)
    assert record.age == 51 and record.sex == "F" and "Sinus bradycardia" in record.labels
    masks = ludb_delineation(record.path, record.signal.shape[0])
    assert masks.shape == (5000, 12, len(WAVES)) and masks.dtype == bool
    qrs = masks[:, 1, WAVES.index("QRS")]
    # QRS complexes are short and bursty: 4-20 % of the time, the QRS signal energy far above the rest.
    assert 0.04 < qrs.mean() < 0.2
    lead_two = record.signal[:, 1] - np.median(record.signal[:, 1])
    assert np.mean(lead_two[qrs] ** 2) > 4 * np.mean(lead_two[~masks[:, 1].any(axis=1)] ** 2)


def run_inspect(*args):
    return subprocess.run(
        [sys.executable, "-m", "data_utils.inspect", *args],
        capture_output=True,
        text=True,
        cwd=os.path.join(os.path.dirname(__file__), ".."),
    )


def test_inspect_json_is_one_object(bundled):
    result = run_inspect("--json", bundled("cinc2021"), "--vocabulary", "scored2021")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == {"format", "records", "skipped", "fs", "leads", "classes", "notes"}
    assert summary["records"] == 3 and summary["skipped"][0]["record"] == "E07505"
    assert summary["fs"] == [500.0] and len(summary["leads"]) == 12


def test_inspect_fails_with_one_line_on_an_empty_folder(tmp_path):
    result = run_inspect(str(tmp_path))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "no ECG found" in result.stderr


@pytest.mark.parametrize(
    "name", ["ludb", "cinc2017/training2017", "cinc2021-samples", "cinc2020-samples", "ptbxl-mini"]
)
def test_inspect_reads_all_shared_data_with_nothing_skipped(shared, name):
    result = run_inspect("--json", shared(name))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["skipped"] == [] and summary["records"] > 0
