"""Snakemake script: one D4RL-like (MaMuJoCo) quality level from the behaviour learner's run
(``run.pt``, ARS or MAPPO, read by behaviour/d4rl_like/run_file.py with the restricted loader: a
crafted file is refused, never run)."""
from behaviour.d4rl_like.datasets import mamujoco_from_run
from behaviour.d4rl_like.run_file import load_behaviour_run
from envs.dataset import write_dataset
from envs.registry import get_task
from pipeline.logs import log_to

w = snakemake.wildcards
with log_to(snakemake.log[0]):
    task = get_task(w.task, w.suite, simulators=snakemake.params.simulators)
    run = load_behaviour_run(snakemake.input[0])
    ds = mamujoco_from_run(task, w.quality, run, snakemake.params.episodes, seed=snakemake.params.seed)
    sha = write_dataset(ds, snakemake.output[0])
    print(f"{task.id} {w.quality}: {ds.n_episodes} episodes, {ds.n_transitions} steps, "
          f"mean return {ds.episode_returns().mean():.1f}, provenance {ds.meta['provenance']}, sha256 {sha}")
