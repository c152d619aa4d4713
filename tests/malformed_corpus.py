"""A malformed-input corpus, generated here (never downloaded): ``python tests/malformed_corpus.py OUT``.

``build_corpus(root)`` writes five data folders under ``root`` (``challenge``, ``cinc2017``,
``ptbxl``, ``ludb`` in their formats, and ``unlabeled``), each with good records beside damaged
ones, and returns one ``Kind`` per thing that is wrong (or merely unusual) with what every
command must make of it. The good signal is the bundled real record ``tests/data/cinc2021/JS20019``
(12 leads, 500 Hz, 10 s), decimated, tiled or cut as a kind needs. The ``predict`` and
``train.py`` kinds (model files and flag combinations) are built by the tests from ``PREDICT_KINDS``
and ``TRAIN_KINDS``.
"""

import csv
import dataclasses
import os
import sys

import numpy as np
import scipy.io
import scipy.signal

BASE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "cinc2021", "JS20019.mat")
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
SINUS, AF = "426783006", "164889003"  # scored SNOMED codes: sinus rhythm, atrial fibrillation
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # permissions do not stop root from reading


@dataclasses.dataclass
class Kind:
    """One malformed (or unusual) input and what must happen to it.

    ``folder``: the data folder; ``record``: the id its dataset reader gives (``file``: the header
    name ``predict`` reports, when it differs); ``dataset`` / ``predict``: ``"read"`` or ``"skip"``
    (a skip names the record and a reason holding ``words``); ``predict`` None: the file is not a
    record ``predict`` looks at.
    """

    name: str
    folder: str
    record: str
    dataset: str
    predict: str = None
    words: str = ""
    file: str = None

    def __post_init__(self):
        self.file = self.file or self.record
        self.predict = self.predict if self.predict is not None else self.dataset


def base_signal(fs=500):
    """Digital values (12, T) of the base record at ``fs`` Hz (500, 1000, 100 or 50), 10 s."""
    values = scipy.io.loadmat(BASE)["val"].astype(np.int64)
    if fs == 1000:
        return np.repeat(values, 2, axis=1)
    return values if fs == 500 else scipy.signal.resample_poly(values, 1, 500 // fs, axis=1).round().astype(np.int64)


def signal_lines(file_name, n_signals, fmt="16", leads=LEADS, gain="1000"):
    return [f"{file_name} {fmt} {gain}/mV 16 0 0 0 0 {lead}" for lead in leads[:n_signals]]


def write_challenge(
    folder, name, values, fs=500, dx=SINUS, leads=LEADS, header_lines=None, comments=None, crlf=False, encoding="utf-8"
):
    """A challenge-format record: ``name.hea`` and ``name.mat`` (MATLAB v4, variable ``val``)."""
    os.makedirs(folder, exist_ok=True)
    if values is not None:
        scipy.io.savemat(os.path.join(folder, name + ".mat"), {"val": values}, format="4")
    n_signals, n_samples = (len(leads), 0) if values is None else values.shape
    lines = header_lines or [
        f"{name} {n_signals} {fs} {n_samples}",
        *signal_lines(name + ".mat", n_signals, "16+24", leads),
    ]
    lines += comments if comments is not None else ["#Age: 61", "#Sex: Female", f"#Dx: {dx}", "#Rx: Unknown"]
    with open(os.path.join(folder, name + ".hea"), "wb") as handle:
        handle.write(("\r\n" if crlf else "\n").join(lines).encode(encoding) + b"\n")


def write_format16(folder, name, values, fs, leads=LEADS, n_samples=None):
    """A WFDB format-16 record: ``name.hea`` and ``name.dat`` (interleaved little-endian int16)."""
    os.makedirs(folder, exist_ok=True)
    values.T.astype("<i2").tofile(os.path.join(folder, name + ".dat"))
    header = [
        f"{name} {len(values)} {fs} {values.shape[1] if n_samples is None else n_samples}",
        *signal_lines(name + ".dat", len(values), leads=leads),
    ]
    with open(os.path.join(folder, name + ".hea"), "w") as handle:
        handle.write("\n".join(header) + "\n")


def challenge_folder(root):
    """The challenge-format folder (read with ``--vocabulary scored2021``) and its kinds."""
    folder = os.path.join(root, "challenge")
    kinds = []

    def add(name, dataset, words="", predict=None, **record):
        write_challenge(folder, name, **record)
        kinds.append(Kind(name, "challenge", name, dataset, predict, words))

    values = base_signal()
    for i in range(3):
        add(f"good{i}", "read", values=values, dx=SINUS if i else AF)
    add("missing_signal_file", "skip", "not found", values=values)
    os.remove(os.path.join(folder, "missing_signal_file.mat"))
    add("truncated_mat", "skip", "truncated", values=values)
    with open(os.path.join(folder, "truncated_mat.mat"), "r+b") as handle:
        handle.truncate(os.path.getsize(handle.name) // 3)
    add("empty_mat", "skip", "truncated", values=values)
    open(os.path.join(folder, "empty_mat.mat"), "wb").close()
    add("empty_header", "skip", "no record line", values=values)
    open(os.path.join(folder, "empty_header.hea"), "wb").close()
    add(
        "length_mismatch",
        "skip",
        "header declares 6000 samples",
        values=values,
        header_lines=["length_mismatch 12 500 6000", *signal_lines("length_mismatch.mat", 12, "16+24")],
    )
    add(
        "wrong_signal_count",
        "skip",
        "11 signals",
        values=values,
        header_lines=["wrong_signal_count 11 500 5000", *signal_lines("wrong_signal_count.mat", 11, "16+24")],
    )
    add(
        "no_signals_declared",
        "skip",
        "declares 0 signals",
        values=values,
        header_lines=["no_signals_declared 0 500 5000"],
    )
    add(
        "bad_rate_field",
        "skip",
        "malformed record line",
        values=values,
        header_lines=["bad_rate_field 12 fast 5000", *signal_lines("bad_rate_field.mat", 12, "16+24")],
    )
    add("duplicate_lead", "skip", "appears twice", values=values, leads=("I", "I", *LEADS[2:]))
    add("unknown_lead", "skip", "unknown lead name 'X7'", values=values, leads=("X7", *LEADS[1:]))
    add("mat_without_val", "skip", "no variable 'val'", values=values)
    scipy.io.savemat(os.path.join(folder, "mat_without_val.mat"), {"x": values}, format="4")
    for name, lead, span, fill, dataset, words in [
        ("nan_long", 3, (100, 400), np.nan, "skip", "300 invalid samples in a row"),
        ("nan_short_gap", 3, (100, 110), np.nan, "read", ""),
        ("plus_inf", 2, (100, 400), np.inf, "skip", "invalid samples in a row"),
        ("minus_inf", 4, (700, 1000), -np.inf, "skip", "invalid samples in a row"),
        ("invalid_sample_lead", 7, (0, 5000), -32768, "skip", "every sample is invalid"),
    ]:
        damaged = values.astype(np.float64)
        damaged[lead, span[0] : span[1]] = fill
        add(name, dataset, words, values=damaged)
    add("one_sample", "read", "band-pass filter needs", values=values[:, :1], predict="skip")
    add("ten_minutes", "read", values=np.tile(base_signal(100), (1, 60)), fs=100)
    add("rate_1khz", "read", values=base_signal(1000), fs=1000)
    add("rate_50hz", "read", values=base_signal(50), fs=50)
    add(
        "non_utf8_header",
        "read",
        values=values,
        comments=["#Age: 61", "#Sex: Female", f"#Dx: {SINUS}", "#Hospital: Universit\xe4tsklinik M\xfcnchen"],
        encoding="latin-1",
    )
    add("crlf_header", "read", values=values, crlf=True)
    add("impossible_ages", "read", values=values, comments=["#Age: 999", "#Sex: Unknown", f"#Dx: {SINUS}"])
    add(
        "dx_outside_vocabulary",
        "skip",
        "no Dx code among the 26 classes",
        values=values,
        dx="999999999,12345",
        predict="read",
    )
    add("unreadable_header", "read" if IS_ROOT else "skip", "" if IS_ROOT else "cannot read header", values=values)
    os.chmod(os.path.join(folder, "unreadable_header.hea"), 0)
    os.symlink("symlink_loop.hea", os.path.join(folder, "symlink_loop.hea"))  # a link to itself
    os.symlink(".", os.path.join(folder, "loop_folder"))  # a folder that contains itself
    kinds.append(Kind("symlink_loop", "challenge", "symlink_loop", "skip", words="cannot read header"))
    return kinds


def cinc2017_folder(root):
    """A CinC 2017 folder (single-lead AliveCor records, REFERENCE.csv) and its kinds."""
    folder = os.path.join(root, "cinc2017")
    lead = scipy.signal.resample_poly(base_signal()[:1], 3, 5, axis=1).round().astype(np.int64)
    lead = np.tile(lead, (1, 3))  # 30 s at 300 Hz
    reference = {"A00001": "N", "A00002": "A", "A00003": "O", "A00004": "X", "A00005": "N", "A09999": "N"}
    for name in ("A00001", "A00002", "A00003", "A00004", "A00005", "A00006"):
        write_challenge(folder, name, lead, fs=300, leads=("ECG",), comments=[])
    with open(os.path.join(folder, "A00005.mat"), "r+b") as handle:
        handle.truncate(200)
    with open(os.path.join(folder, "REFERENCE.csv"), "w") as handle:
        handle.write("".join(f"{name},{label}\n" for name, label in reference.items()))
    return [
        *(Kind(f"good_{name}", "cinc2017", name, "read") for name in ("A00001", "A00002", "A00003")),
        Kind("unknown_reference_label", "cinc2017", "A00004", "skip", "read", "unknown label 'X'"),
        Kind("truncated_single_lead", "cinc2017", "A00005", "skip", words="truncated"),
        Kind("not_in_reference", "cinc2017", "A00006", "skip", "read", "not in REFERENCE.csv"),
        Kind("reference_names_absent_record", "cinc2017", "A09999", "skip", "absent", "no header file"),
    ]


def ptbxl_folder(root):
    """A PTB-XL folder: its database (real column names), 100 Hz format-16 records, and its kinds.

    Good records lie in folds 1-8 (eight), 9 (three) and 10 (three), so that ``train.py`` can split it.
    """
    folder = os.path.join(root, "ptbxl")
    os.makedirs(folder, exist_ok=True)
    bundled = os.path.join(os.path.dirname(BASE), "..", "ptbxl")
    with (
        open(os.path.join(bundled, "scp_statements.csv"), "rb") as source,
        open(os.path.join(folder, "scp_statements.csv"), "wb") as target,
    ):
        target.write(source.read())
    with open(os.path.join(bundled, "ptbxl_database.csv")) as handle:
        columns = handle.readline().strip().split(",")
    values = base_signal(100)
    rows, kinds = [], []
    codes = ["{'NORM': 100.0, 'SR': 0.0}", "{'IMI': 100.0, 'SR': 0.0}", "{'NDT': 100.0}", "{'LVH': 50.0, 'SR': 0.0}"]
    folds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 10, 10, 10]
    damaged = {
        15: "no_file",
        16: "malformed_scp_codes",
        17: "bad_fold",
        18: "truncated_dat",
        19: "dat_longer_than_header",
        20: "rhythm_only",
        21: "invalid_sample_run",
    }
    for ecg_id in range(1, 22):
        name = f"{ecg_id:05d}_lr"
        kind = damaged.get(ecg_id, "good")
        row = {column: "" for column in columns}
        row.update(
            ecg_id=str(ecg_id),
            age="300" if ecg_id == 2 else "63.0",
            sex=str(ecg_id % 2),
            strat_fold=str(folds[ecg_id - 1] if ecg_id <= 14 else 1),
            scp_codes=codes[ecg_id % len(codes)],
            filename_lr=f"records100/00000/{name}",
            filename_hr=f"records500/00000/{ecg_id:05d}_hr",
        )
        signal = values.copy()
        if kind == "invalid_sample_run":
            signal[0, 200:400] = -32768
        if kind != "no_file":
            write_format16(
                os.path.join(folder, "records100", "00000"),
                name,
                signal,
                100,
                n_samples=900 if kind == "dat_longer_than_header" else None,
            )
        if kind == "truncated_dat":
            with open(os.path.join(folder, "records100", "00000", name + ".dat"), "r+b") as handle:
                handle.truncate(5000)
        row["scp_codes"] = {"malformed_scp_codes": "{'NORM': 100.0", "rhythm_only": "{'SR': 0.0}"}.get(
            kind, row["scp_codes"]
        )
        row["strat_fold"] = "eleven" if kind == "bad_fold" else row["strat_fold"]
        rows.append(row)
        words = {
            "no_file": "neither",
            "malformed_scp_codes": "is not a dictionary",
            "bad_fold": "strat_fold 'eleven'",
            "truncated_dat": "header declares",
            "dat_longer_than_header": "header declares",
            "rhythm_only": "no statement of this label set",
            "invalid_sample_run": "200 invalid samples",
        }.get(kind, "")
        predict = {"no_file": None, "malformed_scp_codes": "read", "bad_fold": "read", "rhythm_only": "read"}.get(
            kind, "skip" if words else "read"
        )
        kinds.append(
            Kind(
                f"ptbxl_{kind}" if kind != "good" else f"ptbxl_good_{ecg_id}",
                "ptbxl",
                str(ecg_id),
                "skip" if words else "read",
                predict or "absent",
                words,
                file=name,
            )
        )
    with open(os.path.join(folder, "ptbxl_database.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return kinds


def ludb_folder(root):
    """A LUDB folder (``ludb.csv`` and ``data/N.hea`` + ``.dat``) and its kinds."""
    folder = os.path.join(root, "ludb")
    data = os.path.join(folder, "data")
    values = base_signal()
    for name in ("1", "2", "3", "4", "5"):
        write_format16(data, name, values, 500, leads=tuple(lead.lower() for lead in LEADS))
    with open(os.path.join(data, "5.dat"), "ab") as handle:
        handle.write(b"\x00")  # one byte too many: no whole number of samples
    diagnosis = (
        "Rhythms,Electric axis of the heart,Conduction abnormalities,Extrasystolies,Hypertrophies,Cardiac "
        "pacing,Ischemia,Non-specific repolarization abnormalities,Other states"
    )
    with open(os.path.join(folder, "ludb.csv"), "w", newline="") as handle:
        handle.write(f"ID,Sex,Age,{diagnosis}\n")
        handle.write('1,F,51,"Sinus rhythm\n",Normal,,,,,,,\n')
        handle.write(
            "2,M,>89,Atrial fibrillation,Left axis deviation,,,,,,,\n3,M,40,,,,,,,,,\n5,F,22,Sinus rhythm,,,,,,,,\n"
        )
    return [
        Kind("ludb_good_1", "ludb", "1", "read"),
        Kind("ludb_good_2", "ludb", "2", "read"),
        Kind("ludb_row_without_diagnosis", "ludb", "3", "skip", "read", "no diagnosis"),
        Kind("ludb_record_not_in_table", "ludb", "4", "skip", "read", "no diagnosis"),
        Kind("ludb_dat_with_stray_byte", "ludb", "5", "skip", words="odd number of bytes"),
    ]


def unlabeled_folders(root):
    """Records without labels: challenge headers with an empty ``#Dx``, and PTB-XL-style records
    without ``ptbxl_database.csv``. Both are usable for predict, not for training."""
    values = base_signal()
    for name in ("U1", "U2"):
        write_challenge(os.path.join(root, "unlabeled", "empty_dx"), name, values, comments=["#Age: 40", "#Dx: "])
    write_format16(
        os.path.join(root, "unlabeled", "ptbxl_style", "records100", "00000"), "00001_lr", base_signal(100), 100
    )
    return [Kind("empty_dx", "unlabeled/empty_dx", name, "read") for name in ("U1", "U2")] + [
        Kind("ptbxl_style_without_database", "unlabeled/ptbxl_style", "00001_lr", "read")
    ]


# Model files and flag combinations the tests build from the corpus (name: what must be said;
# ``TRAIN_KINDS``: (flags, words[, environment])).
PREDICT_KINDS = {
    "not_a_model": "cannot be loaded as a model",
    "sidecar_of_another_model": "the sidecar belongs to another model",
    "sidecar_not_json": "not a readable JSON sidecar",
    "sidecar_without_window": "field 'window' is missing",
    "sidecar_thresholds_not_numbers": "field 'thresholds' must be null or one finite number per class",
    "sidecar_single_label_threshold_zero": "of a single-label model divide its probabilities: each must be above 0",
    "sidecar_band_above_nyquist": "`band` must satisfy 0 < low < high < fs/2",
    "model_without_sidecar": "no sidecar",
    "out_inside_input": "lies inside the data folder",
    "out_beside_a_single_input_record": "lies inside the data folder",
    "out_is_a_user_file": "is not a predictions file",
    "stride_zero": "--stride-seconds must be a positive number",
    "stride_infinite": "--stride-seconds must be a positive number",
    "input_absent": "no ECG record found",
}
TRAIN_KINDS = {
    "fs_one": (["--fs", "1"], "below 25 Hz"),
    "fs_twenty": (["--fs", "20"], "below 25 Hz"),
    "window_too_short": (["--window-seconds", "0.001"], "under 64 samples, the shortest window"),
    "out_is_a_file": (["--out", "{user_file}"], "is a file, not a folder"),
    "out_is_a_user_folder": (["--out", "{user_folder}"], "it is not a train.py run folder"),
    "out_inside_data": (["--data", "{ptbxl}", "--out", "{ptbxl}/run"], "lies inside the data folder"),
    "cache_inside_data": (["--data", "{ptbxl}", "--cache-dir", "{ptbxl}/cache"], "lies inside the data folder"),
    "unlabeled_data": (["--data", "{unlabeled}"], "no labels: usable for predict, not for training"),
    "unlabeled_data_named_format": (
        ["--data", "challenge:{empty_dx}"],
        "no labels: usable for predict, not for training",
    ),
    "teacher_not_a_network": (
        ["--teacher-from", "{user_file}", "--stages", "student,distill"],
        "is not a saved Keras network",
    ),
    "mlkd_without_kd": (["--kd-weight", "0", "--stages", "student,mlkd"], "leave mlkd out"),
    "distill_without_a_teacher": (["--stages", "student,distill"], "the distill stage reads the teacher"),
    "export_without_a_student": (["--stages", "export"], "the export stage reads a trained student"),
    "negative_int8_tolerance": (["--int8-tolerance", "-1"], "--int8-tolerance must be non-negative"),
    "labeled_fraction_zero": (
        ["--labeled-fraction", "0", "--method", "liteheart"],
        "--labeled-fraction must lie in (0, 1]",
    ),
    "fs_not_a_number": (["--fs", "nan"], "--fs must be a finite number"),
    "window_infinite": (["--window-seconds", "inf"], "--window-seconds must be a finite number"),
    "out_links_to_nothing": (["--out", "{dangling}"], "is a link to nothing"),
    "out_under_a_file": (["--out", "{user_file}/run"], "is a file, so the folder cannot be made"),
    "out_with_a_foreign_state_json": (["--out", "{foreign_state}"], "is not the state of a train.py run"),
    "resume_with_a_foreign_state_json": (
        ["--out", "{foreign_state}", "--resume"],
        "is not the state of a train.py run",
    ),
    "cache_default_inside_data": (
        ["--data", "{ptbxl}"],
        "lies inside the data folder",
        {"ECG_KD_CACHE": "{ptbxl}/cache"},
    ),
    "ptbxl_without_statements": (["--data", "ptbxl:{ludb}"], "the ptbxl tables cannot be read"),
    "teacher_of_another_shape": (
        ["--data", "synthetic:n=60,seed=1", "--teacher-from", "{published_student}", "--stages", "distill"],
        "reads 1 leads and gives 4 classes",
    ),
    "int8_tolerance_without_int8": (["--int8-tolerance", "0.01", "--quantize", "none"], "--quantize none makes none"),
    "too_few_records": (["--data", "{ludb}"], "only 2 usable records"),
    "two_synthetic_records": (["--data", "synthetic:n=2"], "only 2 usable records"),
    "out_is_the_checkout": (["--out", "{checkout}"], "it is not a train.py run folder"),
}


def build_corpus(root):
    """Write every data folder under ``root``; returns the list of ``Kind`` (data kinds only)."""
    return (
        challenge_folder(root)
        + cinc2017_folder(root)
        + ptbxl_folder(root)
        + ludb_folder(root)
        + unlabeled_folders(root)
    )


def kind_count(kinds):
    """Distinct kinds: data kinds (good records counted once per folder) plus predict and train kinds."""
    data = {kind.name for kind in kinds if "good" not in kind.name} | {
        f"good records ({kind.folder})" for kind in kinds if "good" in kind.name
    }
    return len(data) + len(PREDICT_KINDS) + len(TRAIN_KINDS)


if __name__ == "__main__":
    if len(sys.argv) != 2 or os.path.exists(sys.argv[1]):
        sys.exit("usage: python tests/malformed_corpus.py NEW_FOLDER  (the folder must not exist yet)")
    made = build_corpus(sys.argv[1])
    for kind in made:
        print(f"{kind.folder:24s} {kind.record:22s} {kind.name:32s} dataset {kind.dataset:5s} predict {kind.predict}")
    print(f"{kind_count(made)} kinds")
