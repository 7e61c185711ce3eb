"""The one training loop every learner uses.

Offline updates on minibatches drawn by index from the on-device dataset, periodic
evaluation in the real simulator (the paper evaluates 100 times over training, 32
episodes each, and reports the last evaluation), a final checkpoint, the evaluation
curve and the final metrics.  A run directory is written so that ``metrics.json``,
the file aggregation counts, appears last and atomically: a run that dies leaves
nothing that would be counted.

Run directory (``results/runs/{suite}/{task}/{quality}/{algorithm}/{variant}/seed{seed}``)::

    config.yaml     the resolved run configuration, hyperparameters included
    curve.csv       step, wall_s, win_rate, return_mean, loss columns (one row per evaluation)
    checkpoint.pt   the learner's final state_dict
    metrics.json    final metrics (schema below), written last
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from algorithms.base import make
from algorithms.data import TensorData
from envs.dataset import file_sha256, load_dataset, obs_nbytes
from envs.registry import get_task
from envs.simulators import backend_version, evaluate, make_vector_env

METRICS_SCHEMA_VERSION = 1


@dataclass
class RunConfig:
    dataset: str                    # path of the HDF5 dataset
    algorithm: str                  # registry name (BC, ComaDICE, ...)
    seed: int = 0
    variant: str = "default"        # names a hyperparameter variant (e.g. alpha0.1) in the run grid
    hyperparameters: dict = field(default_factory=dict)
    n_updates: int = 10_000         # gradient steps
    batch_size: int = 128           # paper: 128
    n_evals: int = 100              # evaluations over training (paper: 100)
    eval_episodes: int = 32         # episodes per evaluation (paper: 32)
    final_eval_episodes: int = 0    # extra evaluation of the last policy with more episodes (0: none)
    device: str = "cpu"
    threads: int = 1                # torch CPU threads
    obs_dtype: str = "auto"         # float32 | float16 | auto (float16 when observations exceed 2 GiB)
    fail: bool = False              # raise before writing metrics (tests of the pipeline's rerun)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def make_policy(learner, device):
    def policy(obs, avail):
        o = torch.tensor(obs, dtype=torch.float32, device=device)
        m = None if avail is None else torch.tensor(avail, dtype=torch.bool, device=device)
        return learner.act(o, m, deterministic=True).cpu().numpy()
    return policy


def train(cfg: RunConfig, out_dir, log=print) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics.json"
    if metrics_path.exists():
        metrics_path.unlink()  # a rerun never leaves an old result next to new files
    torch.set_num_threads(max(1, cfg.threads))
    set_seed(cfg.seed)

    obs_dtype = {"float32": None, "float16": np.float16}.get(cfg.obs_dtype)
    if cfg.obs_dtype == "auto":
        obs_dtype = np.float16 if obs_nbytes(cfg.dataset) > (2 << 30) else None
    elif cfg.obs_dtype not in ("float32", "float16"):
        raise ValueError(f"obs_dtype must be float32, float16 or auto, got {cfg.obs_dtype!r}")
    ds = load_dataset(cfg.dataset, obs_dtype=obs_dtype)
    checksum = file_sha256(cfg.dataset)
    task = get_task(ds.meta["task"], ds.meta["suite"])
    data = TensorData(ds, cfg.device, seed=cfg.seed)
    learner = make(cfg.algorithm, data.spec, cfg.hyperparameters, cfg.device)
    hp = dataclasses.asdict(learner.cfg)

    resolved = {**dataclasses.asdict(cfg), "hyperparameters": hp, "task": task.name, "suite": task.suite,
                "quality": ds.meta["quality"], "dataset_sha256": checksum, "backend": task.backend,
                "backend_version": backend_version(task), "torch": str(torch.__version__)}
    _atomic_write(out_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=False))

    venv = make_vector_env(task, cfg.eval_episodes, seed=10_000 + cfg.seed)
    venv.warm_up()  # simulator compilation stays out of the timed loop
    policy = make_policy(learner, cfg.device)
    eval_every = max(1, cfg.n_updates // max(1, cfg.n_evals))
    curve, t0, train_s = [], time.perf_counter(), 0.0
    last = {}
    step = 0
    while step < cfg.n_updates:
        t_train = time.perf_counter()
        chunk = min(eval_every, cfg.n_updates - step)
        for _ in range(chunk):
            last = learner.update(data.sample(cfg.batch_size))
        step += chunk
        losses = {k: float(v) for k, v in last.items()}  # one host sync per evaluation
        train_s += time.perf_counter() - t_train
        if any(not np.isfinite(v) for v in losses.values()):
            raise FloatingPointError(f"{cfg.algorithm} produced a non-finite loss at step {step}: {losses}")
        res = evaluate(task, policy, cfg.eval_episodes, venv=venv)
        row = {"step": step, "wall_s": round(time.perf_counter() - t0, 3),
               "win_rate": res["win_rate"], "return_mean": res["return_mean"], **losses}
        curve.append(row)
        log(f"[{cfg.algorithm} {task.name} {ds.meta['quality']} seed{cfg.seed}] step {step}: "
            + ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "step"))

    with open(out_dir / "curve.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(curve[0]))
        w.writeheader()
        w.writerows(curve)
    torch.save(learner.state_dict(), out_dir / "checkpoint.pt")

    final = curve[-1]
    metrics = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "suite": task.suite, "task": task.name, "quality": ds.meta["quality"],
        "algorithm": learner.name, "variant": cfg.variant, "seed": cfg.seed,
        "backend": task.backend, "approximation": task.approximation,
        "dataset_sha256": checksum, "dataset_grade": ds.meta.get("grade", "unknown"),
        "n_updates": cfg.n_updates, "eval_episodes": cfg.eval_episodes, "n_evals": len(curve),
        # the paper's statistic: the last evaluation of training
        "win_rate": final["win_rate"], "return_mean": final["return_mean"],
        "updates_per_s": cfg.n_updates / max(train_s, 1e-9),
        "wall_s": time.perf_counter() - t0,
    }
    if cfg.final_eval_episodes:
        fvenv = venv if cfg.final_eval_episodes == cfg.eval_episodes else None  # no second compile
        fres = evaluate(task, policy, cfg.final_eval_episodes, seed=20_000 + cfg.seed, venv=fvenv)
        metrics["final_eval_episodes"] = cfg.final_eval_episodes
        metrics["final_win_rate"] = fres["win_rate"]
        metrics["final_return_mean"] = fres["return_mean"]
    if cfg.fail:
        raise RuntimeError("run configured to fail (fail: true) before writing metrics.json")
    _atomic_write(metrics_path, json.dumps(metrics, indent=2, allow_nan=True))
    return metrics
