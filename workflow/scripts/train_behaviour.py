"""Snakemake script: the MaMuJoCo behaviour learner (ARS) for one task; checkpoints and replay."""
import contextlib
import pickle

from envs.behaviour import train_ars
from envs.registry import get_task

with open(snakemake.log[0], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):  # noqa: F821
    task = get_task(snakemake.wildcards.task, "mamujoco")  # noqa: F821
    run = train_ars(task, snakemake.params.iterations, seed=0, log=lambda s: print(s, flush=True))  # noqa: F821
    with open(snakemake.output[0], "wb") as f:  # noqa: F821
        pickle.dump(run, f)
