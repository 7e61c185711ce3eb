"""Snakemake script: the MAPPO behaviour learner of one SMAX task; checkpoints, curve, replay sample."""
import pickle

import pandas as pd

from analysis.logs import log_to
from envs.mappo import train_mappo
from envs.registry import get_task

w = snakemake.wildcards  # noqa: F821
with log_to(snakemake.log[0]):  # noqa: F821
    task = get_task(w.task, w.suite)
    run = train_mappo(task, snakemake.params.env_steps, seed=0, record_episodes=snakemake.params.record,  # noqa: F821
                      log=lambda s: print(s, flush=True))
    pd.DataFrame(run["curve"]).to_csv(snakemake.output.curve, index=False)  # noqa: F821
    with open(snakemake.output.run, "wb") as f:  # noqa: F821
        pickle.dump(run, f)
    print(f"{run['env_steps']} env steps in {run['wall_s']:.0f} s")
