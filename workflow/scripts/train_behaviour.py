"""Snakemake script: the MaMuJoCo behaviour learner for one task (ARS for smoke-grade data,
MAPPO for paper-grade data); its checkpoints and replay go to one pickle."""
import pickle

from analysis.logs import log_to
from tasks.files import atomic_path
from tasks.registry import get_task

p = snakemake.params  # noqa: F821
with log_to(snakemake.log[0]):  # noqa: F821
    task = get_task(snakemake.wildcards.task, "mamujoco")  # noqa: F821
    log = lambda s: print(s, flush=True)  # noqa: E731
    if p.generator == "paper":
        from behaviour.mappo import MAPPOConfig, train_mappo
        cfg = MAPPOConfig(num_envs=16, rollout_steps=128, eval_episodes=8, epochs=10)
        from tasks.resume import resume_path
        # resumable as the SMAX runs: state saved every behaviour.mappo.RESUME_EVERY iterations beside the output
        run = train_mappo(task, p.env_steps, cfg, seed=0, record_episodes=-1, log=log,
                          resume_file=resume_path(snakemake.output[0]), keep_resume=True)  # noqa: F821
        run["kind"] = "mappo"
    else:
        from behaviour.datasets import train_ars
        from tasks.resume import resume_path
        # resumable: a rerun after a crash continues from the last iteration saved beside the output
        run = train_ars(task, p.iterations, seed=0, log=log,
                        resume_file=resume_path(snakemake.output[0]))  # noqa: F821
        run["kind"] = "ars"
    with atomic_path(snakemake.output[0]) as tmp:  # noqa: F821
        with open(tmp, "wb") as f:
            pickle.dump(run, f)
    from tasks.resume import discard_resume, resume_path
    discard_resume(resume_path(snakemake.output[0]))  # noqa: F821 - only once the output is on disk
