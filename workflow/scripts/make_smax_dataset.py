"""Snakemake script: a SMAX dataset for one (suite, task, quality): smoke-grade (heuristic with
random actions) or from the task's MAPPO run (``behaviour.smax_datasets``: SMACv1 return bands,
SMACv2 replay sample)."""
from analysis.logs import log_to
from envs.dataset import write_dataset
from envs.registry import get_task

w = snakemake.wildcards
with log_to(snakemake.log[0]):
    task = get_task(w.task, w.suite, simulators=snakemake.params.simulators)
    if snakemake.input:
        from behaviour.smax_datasets import smax_from_run
        from behaviour.smax_mappo import load_run
        run = load_run(snakemake.input[0])
        try:
            ds = smax_from_run(task, w.quality, run, snakemake.params.episodes, seed=snakemake.params.seed)
        except ValueError as exc:  # name the file: a run of other code cannot make this dataset
            raise ValueError(f"{snakemake.input[0]}: {exc}") from exc
    else:
        from behaviour.smax_heuristic import collect_smax
        ds = collect_smax(task, w.quality, snakemake.params.episodes, seed=snakemake.params.seed)
    sha = write_dataset(ds, snakemake.output[0])
    print(f"{task.id} {w.quality}: {ds.n_episodes} episodes, {ds.n_transitions} steps, "
          f"mean return {ds.episode_returns().mean():.3f}, provenance {ds.meta['provenance']}, sha256 {sha}")
