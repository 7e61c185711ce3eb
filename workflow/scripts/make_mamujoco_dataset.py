"""Snakemake script: one MaMuJoCo quality level from the behaviour learner's run (``run.pt``,
read by behaviour/runs.py with the restricted loader: a crafted file is refused, never run)."""
from behaviour.ars import mamujoco_from_ars
from behaviour.mappo_datasets import mamujoco_from_mappo
from behaviour.runs import load_behaviour_run
from envs.dataset import write_dataset
from envs.registry import get_task
from pipeline.logs import log_to

w = snakemake.wildcards
with log_to(snakemake.log[0]):
    task = get_task(w.task, w.suite, simulators=snakemake.params.simulators)
    run = load_behaviour_run(snakemake.input[0])
    make = mamujoco_from_mappo if run.get("kind") == "mappo" else mamujoco_from_ars
    ds = make(task, w.quality, run, snakemake.params.episodes, seed=snakemake.params.seed)
    sha = write_dataset(ds, snakemake.output[0])
    print(f"{task.id} {w.quality}: {ds.n_episodes} episodes, {ds.n_transitions} steps, "
          f"mean return {ds.episode_returns().mean():.1f}, provenance {ds.meta['provenance']}, sha256 {sha}")
