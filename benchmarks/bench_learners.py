"""Updates per second of every learner at SMAC (5m_vs_6m) and MaMuJoCo (Hopper 3x1) sizes.

    python benchmarks/bench_learners.py [--updates 50] [--threads 1]

Batch 128, hidden 256 (paper defaults), synthetic data of the task's dimensions, the
harness's fast path (batches by index from on-device tensors); BC is the reference.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ as a package, run as a script

from algorithms import available_algorithms, make  # noqa: E402
from algorithms.base import LearnerSpec  # noqa: E402
from benchmarks.bench_updates import synthetic_dataset  # noqa: E402
from harness.data import TensorData  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    specs = {"5m_vs_6m": LearnerSpec(5, 140, 132, 11, "discrete"), "Hopper_3x1": LearnerSpec(3, 9, 11, 1, "continuous")}
    print(f"{'algorithm':<10}" + "".join(f"{k:>16}" for k in specs) + "   (updates/s, threads "
          f"{args.threads})")
    data = {k: TensorData(synthetic_dataset(s, T=5000)) for k, s in specs.items()}
    for name in available_algorithms():
        row = []
        for key, spec in specs.items():
            torch.manual_seed(0)
            learner = make(name, spec, {"hidden": 256})
            for _ in range(3):
                learner.update(data[key].sample(128))
            t = time.perf_counter()
            for _ in range(args.updates):
                learner.update(data[key].sample(128))
            row.append(args.updates / (time.perf_counter() - t))
        print(f"{name:<10}" + "".join(f"{v:>16.1f}" for v in row))


if __name__ == "__main__":
    main()
