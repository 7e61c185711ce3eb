"""Env steps per second of the behaviour learners beside their simulators' ceilings, in one run.

    python benchmarks/bench_behaviour.py [--env-steps 200000] [--threads 1] [--profile reference]

One line per simulator, ending in the ratio of the two:

    mamujoco Hopper_3x1: learner 8,100 env steps/s, simulator 16,000, ratio 0.51

- MaMuJoCo: ``behaviour.d4rl_like.mappo.train_mappo`` as the pipeline runs it (MAPPO's MaMuJoCo settings
  with the profile's ``datasets.d4rl_like.mappo`` settings, every episode recorded, checkpoint
  evaluations as often per env step as in the profile's run), env steps of training over its
  wall time, after a short warm-up run (imports, lazy initialisation); the ceiling is raw
  ``mujoco.mj_step`` with the env's frame skip over the same number of envs, uniform random
  actions, no resets, no observations (measured before and after the learner, the mean of the two).

- SMAX: ``behaviour.smac_like.mappo.train_smax_mappo`` (JAX MAPPO compiled end to end) with the
  profile's ``datasets.smac_like.mappo`` settings, every curve point's evaluation included; its rate is
  taken between the run's first and last curve points, so the compilation (first chunk) is left
  out.  The ceiling is a jitted ``lax.scan`` of uniformly random valid actions over the same
  number of vmapped SMAX envs, restarting finished episodes as the learner's rollout does
  (measured before and after the learner, the mean of the two).

Run it on an otherwise idle machine: both numbers fall under load, not necessarily together.
"""
import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ as a package, run as a script


def profile_sizes(profile: str, backend: str) -> dict:
    """``datasets.<kind>.mappo`` of ``config/<profile>.yaml`` (smax: smac_like, mamujoco: d4rl_like)."""
    import yaml
    datasets = yaml.safe_load((ROOT / "config" / f"{profile}.yaml").read_text())["datasets"]
    kind = "d4rl_like" if backend == "mamujoco" else "smac_like"
    return dict((datasets.get(kind) or {}).get("mappo") or {})


def mamujoco_ceiling(task, num_envs: int, steps: int, seed: int = 0) -> float:
    """Env steps/s of raw ``mj_step(model, data, nstep=frame_skip)`` over ``num_envs`` copies of
    ``task``'s MuJoCo model, random actions in [-1, 1] (what no learner on them can exceed)."""
    import mujoco

    from envs.mamujoco_backend import make_mamujoco_env
    units = []
    for i in range(num_envs):
        env = make_mamujoco_env(task)
        env.reset(seed=seed + i)
        units.append(env.single_agent_env.unwrapped)
    rng = np.random.default_rng(seed)
    fs, nu = units[0].frame_skip, units[0].model.nu
    t = time.perf_counter()
    for _ in range(steps):
        a = rng.uniform(-1.0, 1.0, (num_envs, nu))
        for i, u in enumerate(units):
            u.data.ctrl[:] = a[i]
            mujoco.mj_step(u.model, u.data, nstep=fs)
    return steps * num_envs / (time.perf_counter() - t)


def bench_mamujoco(task_name: str = "Hopper_3x1", env_steps: int = 200_000, profile: str = "reference",
                   seed: int = 0) -> dict:
    """The MaMuJoCo MAPPO learner's env steps/s beside raw ``mj_step``'s, same task and env count."""
    from behaviour.d4rl_like.mappo import mappo_config, train_mappo
    from envs.registry import get_task

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = get_task(task_name, "mamujoco", simulators={"mamujoco_obs": "authors"})
        sizes = profile_sizes(profile, "mamujoco")
        cfg = mappo_config(sizes)
        E = cfg.num_envs
        # checkpoint evaluations at the pipeline run's rate per env step (30 over its 2M steps: 3 over 200k)
        n_checkpoints = max(2, round(cfg.n_checkpoints * env_steps / sizes.get("env_steps", env_steps)))
        ceiling_steps = max(200, env_steps // (4 * E))
        before = mamujoco_ceiling(task, E, ceiling_steps, seed)
        train_mappo(task, E * cfg.rollout_steps, cfg, seed=seed, n_checkpoints=1, record_episodes=-1,
                    log=lambda s: None)   # warm-up: imports and lazy initialisation out of the timing
        t = time.perf_counter()
        run = train_mappo(task, env_steps, cfg, seed=seed, n_checkpoints=n_checkpoints, record_episodes=-1,
                          log=lambda s: None)
        wall = time.perf_counter() - t
        after = mamujoco_ceiling(task, E, ceiling_steps, seed)
    learner, ceiling = run["env_steps"] / wall, (before + after) / 2
    return {"simulator": "mamujoco", "task": task.name, "num_envs": E, "env_steps": run["env_steps"], "wall_s": wall,
            "learner_steps_per_s": learner, "simulator_steps_per_s": ceiling, "simulator_before": before,
            "simulator_after": after, "ratio": learner / ceiling,
            "final_return": run["curve"][-1]["return_mean"]}


def smax_ceiling(task, num_envs: int, steps: int, seed: int = 0) -> float:
    """Env steps/s of SMAX alone: a jitted ``lax.scan`` of uniformly random valid actions over
    ``num_envs`` vmapped envs, finished episodes restarted (compilation outside the timing)."""
    import jax
    import jax.numpy as jnp

    from envs.smax_backend import smax_functions

    fns, E = smax_functions(task), num_envs

    def run(key, n):
        k0, key = jax.random.split(key)
        state, (_, _, avail) = jax.vmap(fns.reset)(jax.random.split(k0, E))

        def step(carry, _):
            state, avail, key = carry
            key, k_act, k_step, k_reset = jax.random.split(key, 4)
            action = jax.random.categorical(k_act, jnp.where(avail, 0.0, -1e10))
            new, (_, _, avail2), reward, term, trunc, _ = jax.vmap(fns.step)(jax.random.split(k_step, E), state, action)
            done = term | trunc
            fresh, (_, _, avail0) = jax.vmap(fns.reset)(jax.random.split(k_reset, E))
            pick = lambda a, b: jnp.where(done.reshape((E,) + (1,) * (a.ndim - 1)), a, b)
            return (jax.tree_util.tree_map(pick, fresh, new), pick(avail0, avail2), key), reward.sum()

        _, rewards = jax.lax.scan(step, (state, avail, key), None, n)
        return rewards.sum()

    fn = jax.jit(run, static_argnums=1)
    n = max(1, steps // E)
    fn(jax.random.PRNGKey(seed), n).block_until_ready()
    t = time.perf_counter()
    fn(jax.random.PRNGKey(seed + 1), n).block_until_ready()
    return n * E / (time.perf_counter() - t)


def bench_smax(task_name: str = "5m_vs_6m", env_steps: int = 400_000, profile: str = "reference",
               seed: int = 0) -> dict:
    """The SMAX JAX MAPPO learner's env steps/s beside SMAX's own, same task and env count."""
    from behaviour.smac_like.mappo import train_smax_mappo
    from behaviour.smac_like.mappo_config import SMAXMAPPOConfig
    from envs.registry import get_task

    task = get_task(task_name, simulators={"smac_backend": "smax"})
    sizes = {k: v for k, v in profile_sizes(profile, "smax").items() if k not in ("env_steps", "task_env_steps")}
    cfg = SMAXMAPPOConfig(**{**sizes, "n_points": 8})
    before = smax_ceiling(task, cfg.num_envs, env_steps // 4, seed)
    run = train_smax_mappo(task, env_steps, cfg, seed=seed, log=lambda s: None)
    after = smax_ceiling(task, cfg.num_envs, env_steps // 4, seed)
    first, last = run["curve"][1], run["curve"][-1]
    learner = (last["env_steps"] - first["env_steps"]) / (last["wall_s"] - first["wall_s"])
    ceiling = (before + after) / 2
    return {"simulator": "smax", "task": task.name, "num_envs": cfg.num_envs, "env_steps": run["env_steps"],
            "wall_s": run["wall_s"], "learner_steps_per_s": learner, "simulator_steps_per_s": ceiling,
            "simulator_before": before, "simulator_after": after, "ratio": learner / ceiling}


def line(r: dict) -> str:
    return (f"{r['simulator']} {r['task']}: learner {r['learner_steps_per_s']:,.0f} env steps/s, "
            f"simulator {r['simulator_steps_per_s']:,.0f}, ratio {r['ratio']:.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-steps", type=int, default=200_000, help="env steps of each learner run")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the pipeline's behaviour jobs: 1)")
    p.add_argument("--profile", default="reference", help="config profile whose datasets.*.mappo settings are used")
    p.add_argument("--mamujoco-task", default="Hopper_3x1")
    p.add_argument("--smax-task", default="5m_vs_6m")
    p.add_argument("--smax-env-steps", type=int, default=400_000, help="env steps of the SMAX learner run")
    args = p.parse_args()
    from envs.jax_host import configure_jax
    configure_jax(platform="cpu")  # as the SMAX behaviour jobs (workflow/scripts/train_smac_like_behaviour.py)
    import torch
    torch.set_num_threads(args.threads)
    print(line(bench_smax(args.smax_task, args.smax_env_steps, args.profile)), flush=True)
    print(line(bench_mamujoco(args.mamujoco_task, args.env_steps, args.profile)), flush=True)


if __name__ == "__main__":
    main()
