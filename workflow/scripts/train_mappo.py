"""Snakemake script: the MAPPO behaviour learner of one SMAX task; checkpoints, curve, replay sample.

Resumable: the run's state is saved every ``behaviour.mappo.RESUME_EVERY`` iterations beside the
output (``mappo.pkl.resume``, not a declared output, so a failed job leaves it), and a rerun
continues from it to the same result."""
import pickle

import pandas as pd

from analysis.logs import log_to
from tasks.files import atomic_path
from behaviour.mappo import train_mappo
from tasks.registry import get_task
from tasks.resume import discard_resume, resume_path

w = snakemake.wildcards  # noqa: F821
with log_to(snakemake.log[0]):  # noqa: F821
    task = get_task(w.task, w.suite)
    run = train_mappo(task, snakemake.params.env_steps, seed=0, record_episodes=snakemake.params.record,  # noqa: F821
                      log=lambda s: print(s, flush=True), resume_file=resume_path(snakemake.output.run),  # noqa: F821
                      keep_resume=True)
    with atomic_path(snakemake.output.curve) as tmp:  # noqa: F821
        pd.DataFrame(run["curve"]).to_csv(tmp, index=False)
    with atomic_path(snakemake.output.run) as tmp:  # noqa: F821
        with open(tmp, "wb") as f:
            pickle.dump(run, f)
    discard_resume(resume_path(snakemake.output.run))  # noqa: F821 - only once the output is on disk
    print(f"{run['env_steps']} env steps in {run['wall_s']:.0f} s")
