"""Peak host memory of loading the largest dataset for training (SMACv2 20_vs_23, paper size).

    python benchmarks/bench_memory.py [--episodes 1000] [--length 100] [--keep PATH]

Writes a synthetic dataset with 20_vs_23's dimensions (20 agents, obs 556, state 516,
28 actions; SMACv2 data: 1000 trajectories, paper Sec. 6.1; episode length is a parameter:
SMACv2's limit is 200 steps), then, in a fresh process each, loads it into training tensors
(``load_dataset`` + ``device_data``) with float32 and with float16 observations and prints
the peak resident memory (VmHWM) beside the arrays' own size.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from envs.dataset import OfflineDataset, write_dataset
from envs.registry import get_task

CHILD = """
import sys, numpy as np
from envs.dataset import load_dataset
import jax
from harness.data import device_data, sample_batch
def hwm():  # peak resident set of this process (VmHWM is reset by exec, unlike ru_maxrss)
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) * 1024
base = hwm()
ds = load_dataset(sys.argv[1], obs_dtype=None if sys.argv[2] == 'float32' else np.float16)
data = device_data(ds)
b = jax.block_until_ready(sample_batch(data, jax.random.PRNGKey(0), 128))
peak = hwm()
print(f"{sys.argv[2]}: peak {peak / 2**30:.2f} GiB (after imports {base / 2**30:.2f} GiB), obs array "
      f"{data.obs.nbytes / 2**30:.2f} GiB, {data.size} transitions")
"""


def synthetic(task, episodes, length, seed=0) -> OfflineDataset:
    rng = np.random.default_rng(seed)
    T, E, N = episodes * length, episodes, task.n_agents
    # SMAX features are bounded and many are zero (dead or unseen units): quantised values
    # compress like real data, unlike white noise
    obs = (rng.integers(0, 8, size=(T, N, task.obs_dim), dtype=np.int8) * (1 / 8)).astype(np.float32)
    obs[:, :, ::3] = 0.0
    start = np.zeros(T, bool)
    start[::length] = True
    term = np.zeros(T, bool)
    term[length - 1::length] = True
    avail = np.ones((T, N, task.action_dim), bool)
    return OfflineDataset(
        obs=obs, state=rng.random((T, task.state_dim), dtype=np.float32), actions=np.zeros((T, N), np.int64),
        reward=rng.random(T, dtype=np.float32), terminated=term, truncated=np.zeros(T, bool), episode_start=start,
        final_obs=obs[:E].copy(), final_state=rng.random((E, task.state_dim), dtype=np.float32),
        avail=avail, final_avail=avail[:E].copy(),
        meta={"suite": task.suite, "task": task.name, "quality": "medium", "backend": "synthetic",
              "action_type": "discrete", "grade": "synthetic"})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--length", type=int, default=100)
    p.add_argument("--keep", default=None, help="write the dataset here and keep it")
    args = p.parse_args()
    task = get_task("smacv2/zerg_20_vs_23")
    path = args.keep or os.path.join(tempfile.mkdtemp(), "smacv2_20_vs_23.h5")
    if not os.path.exists(path):
        ds = synthetic(task, args.episodes, args.length)
        write_dataset(ds, path)
        print(f"wrote {path}: {ds.n_transitions} transitions, obs {ds.obs.nbytes / 2**30:.2f} GiB as float32, "
              f"file {os.path.getsize(path) / 2**30:.2f} GiB")
        del ds
    for dtype in ("float32", "float16"):
        out = subprocess.run([sys.executable, "-c", CHILD, path, dtype], capture_output=True, text=True)
        print(out.stdout.strip() or out.stderr[-2000:])
    if not args.keep:
        os.remove(path)


if __name__ == "__main__":
    main()
