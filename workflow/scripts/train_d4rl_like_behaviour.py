"""Snakemake script: the D4RL-like (MaMuJoCo) behaviour learner for one task (ARS for smoke-grade
data, MAPPO, set by ``datasets.d4rl_like.mappo``, for paper-grade data), seeded by ``datasets.seed``;
its checkpoints and replay go to one ``run.pt`` (output ``run``: tensors, arrays and numbers, read
back without running code, behaviour/d4rl_like/run_file.py), its learning curve to a CSV (output ``curve``: one
row per evaluation, environment steps and return; analysis/behaviour_curves.py)."""
from analysis.behaviour_curves import run_curve
from behaviour.d4rl_like.run_file import save_behaviour_run
from envs.files import atomic_path
from envs.registry import get_task
from pipeline.logs import log_to

p = snakemake.params
with log_to(snakemake.log[0]):
    task = get_task(snakemake.wildcards.task, snakemake.wildcards.suite, simulators=snakemake.params.simulators)
    log = lambda s: print(s, flush=True)
    if p.generator == "paper":
        import torch

        from behaviour.d4rl_like.mappo import mappo_config, train_mappo
        torch.set_num_threads(max(1, snakemake.threads))  # the rule's threads (1), not every core
        cfg = mappo_config(p.mappo)  # the learner's MaMuJoCo defaults with the profile's fields over them
        from envs.resume import resume_path
        # resumable as the SMAX runs: state saved every behaviour.d4rl_like.mappo.RESUME_EVERY iterations
        # beside the output
        run = train_mappo(task, p.env_steps, cfg, seed=p.seed, record_episodes=-1, log=log,
                          resume_file=resume_path(snakemake.output.run), keep_resume=True)
        run["kind"] = "mappo"
    else:
        from behaviour.d4rl_like.ars import train_ars
        from envs.resume import resume_path
        # resumable: a rerun after a crash continues from the last iteration saved beside the output
        run = train_ars(task, p.iterations, seed=p.seed, log=log,
                        resume_file=resume_path(snakemake.output.run))
        run["kind"] = "ars"
    with atomic_path(snakemake.output.curve) as tmp:
        run_curve(run).to_csv(tmp, index=False)
    save_behaviour_run(run, snakemake.output.run)  # atomically
    from envs.resume import discard_resume, resume_path
    discard_resume(resume_path(snakemake.output.run))  # only once the output is on disk
