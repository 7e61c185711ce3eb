"""Snakemake script: the MAPPO behaviour learner of one SMAX task, sized by ``datasets.mappo.smax``
and seeded by ``datasets.seed``; checkpoints, curve, replay sample.

Resumable: the run's state is saved every ``behaviour.mappo.RESUME_EVERY`` iterations beside the
output (``mappo.pkl.resume``, not a declared output, so a failed job leaves it), and a rerun
continues from it to the same result."""
import pickle

import pandas as pd

from analysis.logs import log_to
from behaviour.mappo import MAPPOConfig, train_mappo
from tasks.files import atomic_path
from tasks.registry import get_task
from tasks.resume import discard_resume, resume_path

w, p = snakemake.wildcards, snakemake.params  # noqa: F821
with log_to(snakemake.log[0]):  # noqa: F821
    task = get_task(w.task, w.suite, simulators=snakemake.config.get("simulators"))  # noqa: F821
    run = train_mappo(task, p.env_steps, MAPPOConfig(**p.mappo), seed=p.seed, record_episodes=p.record,
                      log=lambda s: print(s, flush=True), resume_file=resume_path(snakemake.output.run),  # noqa: F821
                      keep_resume=True)
    with atomic_path(snakemake.output.curve) as tmp:  # noqa: F821
        pd.DataFrame(run["curve"]).to_csv(tmp, index=False)
    with atomic_path(snakemake.output.run) as tmp:  # noqa: F821
        with open(tmp, "wb") as f:
            pickle.dump(run, f)
    discard_resume(resume_path(snakemake.output.run))  # noqa: F821 - only once the output is on disk
    print(f"{run['env_steps']} env steps in {run['wall_s']:.0f} s")
