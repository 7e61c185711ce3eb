"""Snakemake script: a smoke-grade SMAX dataset for one (suite, task, quality)."""

from analysis.logs import log_to
from envs.behaviour import collect_smax
from envs.dataset import write_dataset
from envs.registry import get_task

w = snakemake.wildcards  # noqa: F821 (injected by Snakemake)
with log_to(snakemake.log[0]):  # noqa: F821
    task = get_task(w.task, w.suite)
    ds = collect_smax(task, w.quality, snakemake.params.episodes, seed=0)  # noqa: F821
    sha = write_dataset(ds, snakemake.output[0])  # noqa: F821
    print(f"{task.id} {w.quality}: {ds.n_episodes} episodes, {ds.n_transitions} steps, "
          f"mean return {ds.episode_returns().mean():.3f}, sha256 {sha}")
