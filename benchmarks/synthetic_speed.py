"""How fast the synthetic generator is: seconds to make N records on one core.

    python -m benchmarks.synthetic_speed --out benchmarks/results/synthetic_speed.json

Times ``data_utils.synthetic.generate`` (numpy, single-threaded BLAS) for 20,000 ten-second
records at 100 Hz and 2,000 at 500 Hz, every condition at its default frequency, best of
``--repeats`` runs. The load average at the start is recorded: other jobs on the machine slow it.
"""

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from benchmarks.provenance import provenance  # noqa: E402
from data_utils.synthetic import generate  # noqa: E402

CASES = ({"n": 20000, "fs": 100, "seconds": 10.0}, {"n": 2000, "fs": 500, "seconds": 10.0})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    result = {**provenance(), "load_average": os.getloadavg(), "cases": []}
    for case in CASES:
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            signals, _ = generate(case["n"], fs=case["fs"], seconds=case["seconds"], seed=0)
            times.append(time.perf_counter() - started)
        result["cases"].append(
            {**case, "seconds_to_generate": round(min(times), 2), "gigabytes": round(signals.nbytes / 1e9, 2)}
        )
        print(json.dumps(result["cases"][-1]), flush=True)
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()
