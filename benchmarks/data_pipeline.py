"""Data layer on the development data: what each folder yields, cache build cost and pipeline speed.

    python -m benchmarks.data_pipeline --shared ../shared/data --out benchmarks/results/data_pipeline.json

For each dataset folder: records read and skipped (every signal read once). For CinC 2017: the
time and disk size of a fresh cache at 100 Hz, and the records per second of one training epoch
(15 s random crops, batch 64) and one sliding-window evaluation pass over the cache.
"""

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

from benchmarks.provenance import provenance  # noqa: E402
from data_utils import Preprocessing, open_dataset  # noqa: E402
from data_utils.cache import build_cache  # noqa: E402
from data_utils.pipeline import ECGPipeline  # noqa: E402

FOLDERS = ("ludb", "cinc2017/training2017", "cinc2021-samples", "cinc2020-samples", "ptbxl-mini")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", required=True, help="the development data folder")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = {**provenance(), "folders": {}}
    for folder in FOLDERS:
        started = time.time()
        dataset = open_dataset(os.path.join(args.shared, folder), progress=False).validate(progress=False)
        summary = dataset.summary()
        result["folders"][folder] = {
            "format": summary["format"],
            "records": summary["records"],
            "skipped": len(summary["skipped"]),
            "fs": summary["fs"],
            "leads": len(summary["leads"]),
            "classes": len(summary["classes"]),
            "seconds": round(time.time() - started, 2),
        }
    dataset = open_dataset(os.path.join(args.shared, "cinc2017/training2017"))
    with tempfile.TemporaryDirectory() as cache_dir:
        started = time.time()
        cache = build_cache(dataset, Preprocessing(fs=100), ("I",), cache_dir=cache_dir, progress=False)
        build_seconds = time.time() - started
        size = os.path.getsize(os.path.join(cache.directory, "signals.f16"))
        pipeline = ECGPipeline(cache, "I", "I", window_seconds=15)
        rows = np.arange(len(cache))
        timings = {}
        for name, stream in (
            ("train_epoch", pipeline.train(rows, 64, seed=0)),
            ("sliding_evaluation", pipeline.evaluate(rows, 64, crop="sliding")),
        ):
            started = time.time()
            windows = sum(int(labels.shape[0]) for _, labels in stream)
            timings[name] = {
                "windows": windows,
                "seconds": round(time.time() - started, 2),
                "windows_per_second": round(windows / (time.time() - started)),
            }
    result["cinc2017_cache"] = {
        "records": len(cache),
        "build_seconds": round(build_seconds, 1),
        "signals_megabytes": round(size / 1e6, 1),
        **timings,
    }
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
