"""Snakemake script: the MaMuJoCo behaviour learner (ARS) for one task; checkpoints and replay."""
import pickle

from analysis.logs import log_to
from envs.behaviour import train_ars
from envs.registry import get_task

with log_to(snakemake.log[0]):  # noqa: F821
    task = get_task(snakemake.wildcards.task, "mamujoco")  # noqa: F821
    run = train_ars(task, snakemake.params.iterations, seed=0, log=lambda s: print(s, flush=True))  # noqa: F821
    with open(snakemake.output[0], "wb") as f:  # noqa: F821
        pickle.dump(run, f)
