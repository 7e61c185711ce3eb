"""Snakemake script: a SMAX dataset for one (suite, task, quality): smoke-grade (heuristic with
random actions) or from the task's MAPPO run (``behaviour.smax_datasets``: SMACv1 return bands,
SMACv2 replay sample)."""
from envs.dataset import write_dataset
from envs.registry import get_task
from pipeline.logs import log_to

w = snakemake.wildcards
with log_to(snakemake.log[0]):
    task = get_task(w.task, w.suite, simulators=snakemake.params.simulators)
    if snakemake.input:
        from behaviour.smax_datasets import smax_from_run
        from behaviour.smax_mappo import load_run
        from envs.suites import get_suite
        from pipeline.costs import smax_env_steps

        # the run this dataset must be made from, as the mappo_behaviour rule configures it; read from
        # the config rather than this rule's params, so that the check reruns no existing dataset
        cfg = snakemake.config["datasets"]
        expect = {"config": {k: v for k, v in ((cfg.get("mappo") or {}).get("smax") or {}).items()
                             if k not in ("env_steps", "task_env_steps")},
                  "env_steps": smax_env_steps(snakemake.config, w.task), "seed": cfg["seed"],
                  "record_episodes": cfg["smax_episodes"] if get_suite(w.suite).replay_sample else 0}
        run = load_run(snakemake.input[0], task=task, expect=expect)
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
