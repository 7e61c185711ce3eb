"""Snakemake script: a SMAX dataset for one (suite, task, quality): smoke-grade (heuristic with
random actions) or from the task's MAPPO run (checkpoint of that quality, or its replay)."""
import pickle

from analysis.logs import log_to
from tasks.dataset import write_dataset
from tasks.registry import get_task

w = snakemake.wildcards  # noqa: F821 (injected by Snakemake)
with log_to(snakemake.log[0]):  # noqa: F821
    task = get_task(w.task, w.suite, simulators=snakemake.config.get("simulators"))  # noqa: F821
    if snakemake.input:  # noqa: F821
        from behaviour.mappo_datasets import smac_from_mappo
        with open(snakemake.input[0], "rb") as f:  # noqa: F821
            run = pickle.load(f)
        ds = smac_from_mappo(task, w.quality, run, snakemake.params.episodes, seed=snakemake.params.seed,  # noqa: F821
                             fractions=snakemake.params.fractions)  # noqa: F821
    else:
        from behaviour.smax_heuristic import collect_smax
        ds = collect_smax(task, w.quality, snakemake.params.episodes, seed=snakemake.params.seed)  # noqa: F821
    sha = write_dataset(ds, snakemake.output[0])  # noqa: F821
    print(f"{task.id} {w.quality}: {ds.n_episodes} episodes, {ds.n_transitions} steps, "
          f"mean return {ds.episode_returns().mean():.3f}, provenance {ds.meta['provenance']}, sha256 {sha}")
