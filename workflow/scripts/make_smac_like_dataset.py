"""Snakemake script: a SMAC-like dataset for one (suite, task, quality): smoke-grade (SMAX's heuristic
with random actions, ``behaviour.smac_like.heuristic``) or from the task's MAPPO run
(``behaviour.smac_like.datasets``: SMACv1 return bands, SMACv2 replay sample)."""
from envs.dataset import write_dataset
from envs.jax_host import configure_jax
from envs.registry import get_task
from pipeline.logs import log_to

configure_jax(platform="cpu")  # before JAX is imported (below): SMAX data are made on the CPU, compilations cached
w = snakemake.wildcards
with log_to(snakemake.log[0]):
    task = get_task(w.task, w.suite, simulators=snakemake.params.simulators)
    if snakemake.input:
        from behaviour.smac_like.datasets import smax_from_run
        from behaviour.smac_like.run_file import load_run
        from envs.suites import get_suite
        from pipeline.costs import smac_like_env_steps

        # the run this dataset must be made from, as the smac_like_behaviour rule configures it; read
        # from the config rather than this rule's params, so that the check reruns no existing dataset
        cfg = snakemake.config["datasets"]
        expect = {"config": {k: v for k, v in (cfg["smac_like"].get("mappo") or {}).items()
                             if k not in ("env_steps", "task_env_steps")},
                  "env_steps": smac_like_env_steps(snakemake.config, w.task), "seed": cfg["seed"],
                  "record_episodes": cfg["smac_like"]["episodes"] if get_suite(w.suite).replay_sample else 0}
        run = load_run(snakemake.input[0], task=task, expect=expect)
        try:
            ds = smax_from_run(task, w.quality, run, snakemake.params.episodes, seed=snakemake.params.seed)
        except ValueError as exc:  # name the file: a run of other code cannot make this dataset
            raise ValueError(f"{snakemake.input[0]}: {exc}") from exc
    else:
        from behaviour.smac_like.heuristic import collect_smax
        ds = collect_smax(task, w.quality, snakemake.params.episodes, seed=snakemake.params.seed)
    sha = write_dataset(ds, snakemake.output[0])
    print(f"{task.id} {w.quality}: {ds.n_episodes} episodes, {ds.n_transitions} steps, "
          f"mean return {ds.episode_returns().mean():.3f}, provenance {ds.meta['provenance']}, sha256 {sha}")
