"""Snakemake script: the MaMuJoCo behaviour learner for one task (ARS for smoke-grade data,
MAPPO for paper-grade data); its checkpoints and replay go to one pickle."""
import pickle

from analysis.logs import log_to
from envs.registry import get_task

p = snakemake.params  # noqa: F821
with log_to(snakemake.log[0]):  # noqa: F821
    task = get_task(snakemake.wildcards.task, "mamujoco")  # noqa: F821
    log = lambda s: print(s, flush=True)  # noqa: E731
    if p.generator == "paper":
        from envs.mappo import MAPPOConfig, train_mappo
        cfg = MAPPOConfig(num_envs=16, rollout_steps=128, eval_episodes=8, epochs=10)
        run = train_mappo(task, p.env_steps, cfg, seed=0, record_episodes=-1, log=log)
        run["kind"] = "mappo"
    else:
        from envs.behaviour import train_ars
        run = train_ars(task, p.iterations, seed=0, log=log)
        run["kind"] = "ars"
    with open(snakemake.output[0], "wb") as f:  # noqa: F821
        pickle.dump(run, f)
