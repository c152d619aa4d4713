"""Synthetic records against LUDB on simple statistics, and the side-by-side picture of docs/data.md.

    python -m benchmarks.synthetic_realism --ludb ../shared/data/ludb \
        --out benchmarks/results/synthetic_realism.json --figure docs/synthetic_vs_ludb.png

Both sets: 500 Hz, 10 s, 12 leads; LUDB's 200 records against 200 synthetic records (every
condition at its default frequency, seed 0). Each record is band-passed 0.5-40 Hz; beats are found
and measured with ``data_utils.beats`` in the same way for both: QRS width, heart rate, RR
variability (coefficient of variation, RMSSD) and, per lead, the QRS polarity (R - S) / (R + S)
and the T-wave to QRS amplitude ratio of the median beat. The copy of LUDB here is rescaled per
lead (every lead of that development copy spans 1 mV), so absolute amplitudes cannot be
compared; these per-lead ratios do not depend on a lead's gain. For LUDB the cardiologists' QRS
annotations on lead II give a reference width, to show how far our QRS measure sits from an
annotated one. Reported: median and interquartile range over records.
"""

import argparse
import json
import os

import numpy as np  # noqa: E402

from benchmarks.provenance import provenance  # noqa: E402
from data_utils import (  # noqa: E402
    STANDARD_LEADS,
    beats,  # noqa: E402
    open_dataset,
)
from data_utils.preprocess import bandpass  # noqa: E402
from data_utils.readers.ludb import WAVES, ludb_delineation  # noqa: E402


def measures(record):
    """Statistics of one record (dict of floats), or None when fewer than 3 beats are found."""
    signal = bandpass(record.signal.astype(np.float64), record.fs)
    peaks = beats.multilead_r_peaks(signal, record.fs)
    if len(peaks) < 3:
        return None
    beat = beats.median_beat(signal, record.fs, peaks)
    rr = np.diff(peaks) / record.fs
    row = {
        "qrs_width_ms": 1000 * beats.qrs_width(beat, record.fs),
        "heart_rate_bpm": 60 / np.median(rr),
        **beats.rr_variability(rr),
    }
    row.update(
        {
            f"qrs_polarity_{lead}": float(value)
            for lead, value in zip(STANDARD_LEADS, beats.qrs_polarity(beat, record.fs))
        }
    )
    row.update(
        {f"t_to_qrs_{lead}": float(value) for lead, value in zip(STANDARD_LEADS, beats.t_wave_ratio(beat, record.fs))}
    )
    return row


def annotated_qrs_ms(record, fs):
    """Median annotated QRS duration on lead II of a LUDB record, in ms."""
    mask = ludb_delineation(record.path, len(record.signal), ("II",))[:, 0, WAVES.index("QRS")]
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    durations = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return float(1000 * np.median(durations) / fs) if durations.size else None


def summarise(rows):
    keys = rows[0].keys()
    return {
        key: [float(np.percentile([row[key] for row in rows if row.get(key) is not None], q)) for q in (25, 50, 75)]
        for key in keys
    }


def figure(real, synthetic, path, seconds=4.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(12, 2, figsize=(12, 13), sharex=True, sharey="row")
    for column, (title, record) in enumerate(
        (
            (f"LUDB record {real.record_id} ({', '.join(real.labels[:2])})", real),
            (f"synthetic {synthetic.record_id} ({', '.join(synthetic.labels)})", synthetic),
        )
    ):
        n = int(seconds * record.fs)
        t = np.arange(n) / record.fs
        for row, lead in enumerate(STANDARD_LEADS):
            axes[row, column].plot(t, record.signal[:n, row], lw=0.7, color="black")
            axes[row, column].set_ylabel(lead, rotation=0, labelpad=15)
            axes[row, column].grid(alpha=0.3)
        axes[0, column].set_title(title, fontsize=10)
        axes[-1, column].set_xlabel("seconds")
    fig.suptitle(
        "12-lead ECG, unfiltered: LUDB (left; this copy is rescaled to span 1 mV per lead) and synthetic (right, mV)"
    )
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=80)


def markdown(result):
    lines = [
        "# Synthetic records against LUDB",
        "",
        f"Command: `{result['command']}`  ",
        f"Commit {result['commit']}, {result['date']}",
        "",
    ]
    lines += ["| statistic | LUDB median [IQR] | synthetic median [IQR] |", "|---|---|---|"]
    for key, (q1, q2, q3) in result["ludb"].items():
        s1, s2, s3 = result["synthetic"].get(key, [np.nan] * 3)
        lines.append(f"| {key} | {q2:.3g} [{q1:.3g}, {q3:.3g}] | {s2:.3g} [{s1:.3g}, {s3:.3g}] |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ludb", required=True, help="the LUDB folder")
    parser.add_argument("--out", required=True)
    parser.add_argument("--figure", help="PNG path for the side-by-side picture")
    parser.add_argument("--records", type=int, default=200, help="synthetic records")
    args = parser.parse_args()
    ludb = open_dataset(args.ludb)
    synthetic = open_dataset(f"synthetic:n={args.records},fs=500,seconds=10,seed=0")
    rows = {"ludb": [], "synthetic": []}
    failed = {"ludb": [], "synthetic": []}
    for name, dataset in (("ludb", ludb), ("synthetic", synthetic)):
        for _, record in dataset.iter_records(progress=True, desc=name):
            row = measures(record)
            if row is None:
                failed[name].append(record.record_id)
                continue
            if name == "ludb":
                row["annotated_qrs_width_ms"] = annotated_qrs_ms(record, record.fs)
            rows[name].append(row)
    result = {
        **provenance(),
        "records": {name: len(value) for name, value in rows.items()},
        "too_few_beats": failed,
        "ludb": summarise(rows["ludb"]),
        "synthetic": summarise(rows["synthetic"]),
    }
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as handle:
        handle.write(markdown(result))
    print(markdown(result))
    if args.figure:
        normal = next(i for i, ref in enumerate(synthetic.refs) if ref.labels == ("NSR",))
        figure(ludb.read(0), synthetic.read(normal), args.figure)


if __name__ == "__main__":
    main()
