"""Training speed of each network and of the Distiller: float32 against mixed bfloat16 and XLA, side by side.

    python -m benchmarks.training_speed --out benchmarks/results/training_speed.json

Keras ``fit`` on random in-memory batches (``--batch-size`` 64 windows of 10 s at 100 Hz, so the
input pipeline costs nothing), through the ``Distiller`` as ``train.py`` trains: the 12-lead
SE-ResNet teacher (width ``--teacher-width``), the LRH-Net and LiteHeart students on lead I alone,
and LRH-Net + KD (the frozen teacher's forward pass and the student's training step). Each case
runs in a fresh process (the precision policy is global), ``--warmup`` steps first, then the
samples per second over ``--steps`` steps, best of ``--repeats``. Variants: ``float32``;
``mixed_bfloat16`` (bfloat16 compute, float32 weights); ``xla`` (``jit_compile=True``).

The share of the CPU's peak: training FLOPs per sample taken as 3 x 2 x the forward pass's
multiply-accumulates (forward, then backward at about twice its cost; plus the teacher's forward
pass for KD), against cores x clock x FLOPs per cycle per core. That last figure is an assumption
recorded in the results (``--flops-per-cycle``, default 64: two 512-bit float32 FMA units; CPUs
that split AVX-512 into two 256-bit halves reach half of it, and bfloat16 dot products twice).
Nothing else should run on the machine meanwhile: the load average at the start is recorded.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from benchmarks.provenance import REPOSITORY, provenance
from data_utils.files import atomic_write

NETWORKS = ("teacher", "lrhnet", "liteheart", "lrhnet_kd")
VARIANTS = ("float32", "mixed_bfloat16", "xla")
CLASSES = 5
WINDOW = 1000  # 10 s at 100 Hz


def build(network, teacher_width):
    """``(Distiller, input dict, networks whose forward passes a step makes)`` for ``network``."""
    from liteheart import LiteHeartStudent
    from lrhnet import Distiller, LogitDistillation, LRHNet, SEResNet1D

    if network == "teacher":
        teacher = SEResNet1D(12, CLASSES, width=teacher_width)
        return Distiller(teacher, [], student_view="teacher"), {"teacher": teacher}
    student = LiteHeartStudent(CLASSES) if network == "liteheart" else LRHNet(1, CLASSES)
    if network != "lrhnet_kd":
        return Distiller(student, []), {"student": student}
    teacher = SEResNet1D(12, CLASSES, width=teacher_width)
    teacher(teacher.example_inputs(WINDOW))
    teacher.steps_trained.assign(1)  # trained as far as the Distiller can tell: its weights are random
    return Distiller(student, teacher, [LogitDistillation(0.7, 7.0)]), {"student": student, "teacher": teacher}


def measure(network, variant, args):
    """Samples per second of one case, in this process: ``{"samples_per_second", "macs"}``."""
    import tensorflow as tf
    import tf_keras as keras

    from lrhnet.efficiency import multiply_accumulates

    keras.utils.set_random_seed(0)
    if variant == "mixed_bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    distiller, networks = build(network, args.teacher_width)
    macs = {name: multiply_accumulates(part, WINDOW) for name, part in networks.items()}
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(args.batch_size, WINDOW, 12)).astype("float32")
    labels = (rng.random((args.batch_size, CLASSES)) < 0.3).astype("float32")
    batch = ({"teacher": signal, "student": signal[:, :, :1]}, labels)
    data = tf.data.Dataset.from_tensors(batch).repeat()
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=variant == "xla")
    distiller.fit(data, steps_per_epoch=args.warmup, epochs=1, verbose=0)
    rates = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        distiller.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)
        rates.append(args.steps * args.batch_size / (time.perf_counter() - started))
    return {"samples_per_second": round(max(rates), 1), "macs": macs}


def training_flops(macs):
    """FLOPs of one training sample: 3 x 2 x the trained network's MACs, plus 2 x a frozen teacher's."""
    trained = macs.get("student", macs.get("teacher"))
    frozen = macs.get("teacher", 0) if "student" in macs else 0
    return 6 * trained + 2 * frozen


def peak_flops(flops_per_cycle):
    """``(FLOP/s, clock MHz)``: cores x the clock /proc/cpuinfo reports x ``flops_per_cycle``."""
    with open("/proc/cpuinfo") as handle:
        clocks = [float(line.split(":")[1]) for line in handle if line.startswith("cpu MHz")]
    megahertz = max(clocks) if clocks else float("nan")
    return os.cpu_count() * megahertz * 1e6 * flops_per_cycle, megahertz


def run_case(network, variant, args):
    """One case in a fresh process; its result, or ``{"error": last line of its stderr}``."""
    command = [sys.executable, "-m", "benchmarks.training_speed", "--case", network, variant]
    command += ["--batch-size", str(args.batch_size), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    command += ["--repeats", str(args.repeats), "--teacher-width", str(args.teacher_width)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    finished = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY, env=env)
    if finished.returncode != 0:
        lines = [line for line in finished.stderr.strip().splitlines() if line.strip()]
        return {"error": lines[-1] if lines else f"exit status {finished.returncode}"}
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="results JSON path")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first, compiling (default: 3)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--teacher-width", type=float, default=0.5)
    parser.add_argument("--flops-per-cycle", type=float, default=64.0, help="float32 FLOPs per cycle per core")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=NETWORKS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--case", nargs=2, metavar=("NETWORK", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(*args.case, args)))
        return
    if not args.out or not args.out.endswith(".json"):
        parser.error("--out must name a .json file")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        parser.error(f"--out {args.out}: its folder does not exist")
    for name in ("batch_size", "steps", "warmup", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    peak, megahertz = peak_flops(args.flops_per_cycle)
    result = {**provenance(), "load_average": os.getloadavg(), "clock_mhz": megahertz, "peak_flops": peak}
    result.update(flops_per_cycle=args.flops_per_cycle, batch_size=args.batch_size, window=WINDOW, cases=[])
    for network in args.networks:
        for variant in args.variants:
            case = {"network": network, "variant": variant, **run_case(network, variant, args)}
            if "samples_per_second" in case:
                case["share_of_peak"] = case["samples_per_second"] * training_flops(case["macs"]) / peak
            result["cases"].append(case)
            print(json.dumps(case), flush=True)
            atomic_write(args.out, json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
