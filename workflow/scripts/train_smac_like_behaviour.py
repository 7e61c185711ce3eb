"""Snakemake script: the MAPPO behaviour learner of one SMAC-like task on SMAX (``behaviour.smac_like.mappo``,
JAX), set by ``datasets.smac_like.mappo`` and seeded by ``datasets.seed``; checkpoints, curve and the
replay sample go to one ``.npz`` (arrays and a JSON header, no pickle).

Resumable: the run's state is saved at every curve point beside the output
(``mappo_run.npz.resume``, not a declared output, so a failed job leaves it), and a rerun
continues from it to the same result."""
from envs.jax_host import configure_jax

configure_jax(platform="cpu")  # before anything imports JAX: SMAX's MAPPO runs on the CPU, compilations cached

import pandas as pd  # noqa: E402

from behaviour.smac_like.mappo import train_smax_mappo  # noqa: E402
from behaviour.smac_like.mappo_config import SMAXMAPPOConfig  # noqa: E402
from behaviour.smac_like.run_file import save_run  # noqa: E402
from envs.files import atomic_path  # noqa: E402
from envs.registry import get_task  # noqa: E402
from envs.resume import discard_resume, resume_path  # noqa: E402
from pipeline.logs import log_to  # noqa: E402

w, p = snakemake.wildcards, snakemake.params
with log_to(snakemake.log[0]):
    task = get_task(w.task, w.suite, simulators=snakemake.params.simulators)
    if task.backend != "smax":
        raise NotImplementedError(
            f"{task.id}: paper-grade behaviour runs are built for SMAX (behaviour/smac_like/mappo.py); on "
            f"the {task.backend} backend import the published datasets instead (README, 'Importing')")
    settings = {k: v for k, v in p.mappo.items() if k not in ("env_steps", "task_env_steps")}
    run = train_smax_mappo(task, p.env_steps, SMAXMAPPOConfig(**settings), seed=p.seed, record_episodes=p.record,
                           log=lambda s: print(s, flush=True), resume_file=resume_path(snakemake.output.run),
                           keep_resume=True)
    with atomic_path(snakemake.output.curve) as tmp:
        pd.DataFrame(run["curve"]).to_csv(tmp, index=False)
    save_run(run, snakemake.output.run)
    discard_resume(resume_path(snakemake.output.run))  # only once the output is on disk
    print(f"{run['env_steps']} env steps in {run['wall_s']:.0f} s ({run['env_steps'] / run['wall_s']:.0f} env steps/s)")
