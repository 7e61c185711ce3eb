"""ComaDICE's formulations beside BC at a meaningful scale (a measurement, not a speed test).

    python benchmarks/compare_formulations.py --out /tmp/formulations --jobs 2
    python benchmarks/compare_formulations.py --mamujoco-obs local --out /tmp/local \
        --cells Hopper_3x1:expert,Hopper_3x1:medium-replay --methods BC,OMIGA,AlberDICE,ComaDICE-authors

The same episodes in both MaMuJoCo observation layouts (before / after the layout change): run the
local command first, copy its ``behaviour/`` folder into the second --out, then run without
``--mamujoco-obs``: the datasets are played by the local-observation policy and written with the
authors' observation rebuilt from the recorded states (``behaviour/d4rl_like/datasets.py``).

Makes paper-generator datasets (a MAPPO run per task, as the `paper` and `mini` profiles do)
for Hopper 3x1 expert / medium / medium-replay and SMACv2 protoss_5_vs_5 medium, then trains
BC and ComaDICE in each formulation (authors, paper, sound) on every cell for several seeds
with the training loop of the pipeline, and prints one row per (cell, method): mean +- std of
the last evaluation, the mean BC weight and the mean nu_tot at the end, and how many runs
diverged.  Every run directory is kept under --out (curve.csv holds the diagnostics).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METHODS = {
    "BC": ("BC", {}),
    "ComaDICE-authors": ("ComaDICE", {"formulation": "authors"}),
    "ComaDICE-paper": ("ComaDICE", {"formulation": "paper"}),
    "ComaDICE-sound": ("ComaDICE", {"formulation": "sound"}),
    "OMIGA": ("OMIGA", {}),
    "AlberDICE": ("AlberDICE", {}),
}
DEFAULT_METHODS = "BC,ComaDICE-authors,ComaDICE-paper,ComaDICE-sound"
CELLS = [("mamujoco", "Hopper_3x1", "expert"), ("mamujoco", "Hopper_3x1", "medium"),
         ("mamujoco", "Hopper_3x1", "medium-replay"), ("smacv2", "protoss_5_vs_5", "medium")]


def mappo_sizes(suite: str) -> dict:
    """The MAPPO run sizes the pipeline uses for ``suite`` (``datasets.<kind>.mappo`` of config/config.yaml)."""
    import yaml
    with open(Path(__file__).resolve().parents[1] / "config" / "config.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)["datasets"]["d4rl_like" if suite == "mamujoco" else "smac_like"]["mappo"]


def behaviour(out: Path, suite: str, task_name: str, env_steps: int, simulators: dict) -> Path:
    import torch
    torch.set_num_threads(1)
    from envs.registry import get_task
    path = out / "behaviour" / f"{task_name}.{'pt' if suite == 'mamujoco' else 'npz'}"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    task = get_task(task_name, suite, simulators=simulators)
    from behaviour.d4rl_like.mappo import mappo_config, train_mappo
    t0 = time.time()
    if suite == "mamujoco":  # as workflow/scripts/train_d4rl_like_behaviour.py
        run = train_mappo(task, env_steps, mappo_config(mappo_sizes(suite)), seed=0, record_episodes=-1,
                          log=lambda s: None)
        run["kind"] = "mappo"
    else:  # as workflow/scripts/train_smac_like_behaviour.py (SMACv2: a replay sample of the whole run)
        from envs.jax_host import configure_jax
        configure_jax(platform="cpu")
        from behaviour.smac_like.mappo import train_smax_mappo
        from behaviour.smac_like.mappo_config import SMAXMAPPOConfig
        from behaviour.smac_like.run_file import save_run
        sizes = {k: v for k, v in mappo_sizes(suite).items() if k not in ("env_steps", "task_env_steps")}
        run = train_smax_mappo(task, env_steps, SMAXMAPPOConfig(**sizes), seed=0, record_episodes=500,
                               log=lambda s: None)
        save_run(run, path)
        print(f"behaviour {task_name}: {env_steps} steps in {time.time() - t0:.0f} s", flush=True)
        return path
    from behaviour.d4rl_like.run_file import save_behaviour_run
    save_behaviour_run(run, path)
    print(f"behaviour {task_name}: {env_steps} steps in {time.time() - t0:.0f} s", flush=True)
    return path


def dataset(out: Path, suite: str, task_name: str, quality: str, simulators: dict) -> str:
    from envs.jax_host import configure_jax
    configure_jax(platform="cpu")  # as workflow/scripts/make_smac_like_dataset.py
    from behaviour.d4rl_like.datasets import mamujoco_from_mappo
    from behaviour.smac_like.datasets import smax_from_run
    from behaviour.smac_like.run_file import load_run
    from envs.dataset import write_dataset
    from envs.registry import get_task
    path = out / "datasets" / suite / task_name / f"{quality}.h5"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        task = get_task(task_name, suite, simulators=simulators)
        if suite == "mamujoco":
            from behaviour.d4rl_like.run_file import load_behaviour_run
            run = load_behaviour_run(out / "behaviour" / f"{task_name}.pt")
        else:
            run = load_run(out / "behaviour" / f"{task_name}.npz")
        make = mamujoco_from_mappo if suite == "mamujoco" else smax_from_run
        ds = make(task, quality, run, 50 if suite == "mamujoco" else 500, seed=0)
        write_dataset(ds, path)
        print(f"dataset {task_name} {quality}: {ds.n_episodes} episodes, {ds.n_transitions} steps, "
              f"mean return {ds.episode_returns().mean():.3f}", flush=True)
    return str(path)


def one_run(args) -> dict:
    out, cell, method, seed, n_updates, n_evals, simulators = args
    from harness.train import RunConfig, train
    suite, task_name, quality = cell
    algo, hp = METHODS[method]
    run_dir = out / "runs" / suite / task_name / quality / method / f"seed{seed}"
    if (run_dir / "metrics.json").exists():
        metrics = json.loads((run_dir / "metrics.json").read_text())
    else:
        cfg = RunConfig(dataset=str(out / "datasets" / suite / task_name / f"{quality}.h5"), algorithm=algo,
                        seed=seed, hyperparameters=hp, n_updates=n_updates, n_evals=n_evals, eval_episodes=32,
                        device="cpu", threads=1, task=f"{suite}/{task_name}", quality=quality,
                        simulators=simulators)
        metrics = train(cfg, run_dir, log=lambda s: None)
    import pandas as pd
    last = pd.read_csv(run_dir / "curve.csv").iloc[-1].to_dict()
    print(f"{task_name} {quality} {method} seed{seed}: {metrics['status']} return {metrics['return_mean']} "
          f"win {metrics['win_rate']}", flush=True)
    return {"suite": suite, "task": task_name, "quality": quality, "method": method, "seed": seed,
            "status": metrics["status"], "return_mean": metrics["return_mean"], "win_rate": metrics["win_rate"],
            "bc_weight_mean": last.get("bc_weight_mean"), "nu_tot_mean": last.get("nu_tot_mean")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/formulations")
    ap.add_argument("--env-steps", type=int, default=300_000, help="MAPPO steps per task (mini profile: 1M)")
    ap.add_argument("--updates", type=int, default=3000)
    ap.add_argument("--evals", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma-separated, of {', '.join(METHODS)}")
    ap.add_argument("--cells", default=None, help="comma-separated task:quality (default: all four)")
    ap.add_argument("--mamujoco-obs", default="authors", choices=("authors", "local"),
                    help="MaMuJoCo's observation layout (the config's simulators.mamujoco_obs)")
    args = ap.parse_args()
    simulators = {"mamujoco_obs": args.mamujoco_obs}
    global CELLS
    if args.cells:
        wanted = [c.split(":") for c in args.cells.split(",")]
        CELLS = [c for c in CELLS if [c[1], c[2]] in wanted]
    out = Path(args.out)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.time()
    tasks = sorted({(s, t) for s, t, _ in CELLS})
    with ProcessPoolExecutor(args.jobs) as pool:
        list(pool.map(behaviour, [out] * len(tasks), *zip(*tasks, strict=False), [args.env_steps] * len(tasks),
                      [simulators] * len(tasks)))
        list(pool.map(dataset, [out] * len(CELLS), *zip(*CELLS, strict=False), [simulators] * len(CELLS)))
        print(f"data ready after {time.time() - t0:.0f} s", flush=True)
        jobs = [(out, cell, m, seed, args.updates, args.evals, simulators)
                for seed in range(args.seeds) for m in args.methods.split(",") for cell in CELLS]
        rows = list(pool.map(one_run, jobs))
    import pandas as pd
    df = pd.DataFrame(rows)
    df.to_csv(out / "runs.csv", index=False)
    score = df["win_rate"].where(df["suite"] != "mamujoco", df["return_mean"])
    df["score"] = score.where(df["suite"] == "mamujoco", 100 * score)
    g = df.groupby(["task", "quality", "method"], sort=False)
    table = g.agg(score_mean=("score", "mean"), score_std=("score", "std"), bc_weight=("bc_weight_mean", "mean"),
                  nu_tot=("nu_tot_mean", "mean"), runs=("seed", "count"),
                  diverged=("status", lambda s: int((s == "diverged").sum())))
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(table.round(3))
    table.to_csv(out / "summary.csv")
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
