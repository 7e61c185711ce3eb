"""Each rule's resources (runtime, memory) from measured costs, and the memory a setting needs
(judged before any job); no torch or jax.

Measured costs (this project's CPUs; README "Speed"):
- MAPPO behaviour run on SMAX: 300k env steps took 3-11 minutes per task on one core;
- ComaDICE: about 30-50 updates/s at 5m_vs_6m / Hopper sizes on one core (the baselines are
  cheaper or similar); a GPU is faster, so CPU figures are upper bounds;
- SMAX evaluation of 32 episodes, batched: 0.06 s; a MaMuJoCo episode is up to 1000 steps of
  a Python-level simulator (about 3,000-5,000 steps/s), so evaluations dominate there.
"""
from __future__ import annotations

import math

from envs.suites import get_suite

#: upper estimates used to size cluster jobs (slower than measured, to leave headroom)
UPDATES_PER_S = 20.0                  # one core; ComaDICE measured 30-50
MAPPO_STEPS_PER_MIN = 300_000 / 15    # 300k steps: 3-11 min measured
SMAX_EVAL_S_PER_EPISODE = 0.06 / 32 * 10   # batched; x10 for larger maps and the first JIT compile
MAMUJOCO_STEPS_PER_S = 2_000.0
#: transitions per dataset, to turn epochs into updates before the dataset exists (a suite not
#: listed: the largest, every figure here being an upper estimate)
TRANSITIONS = {"smacv1": 60_000, "smacv2": 70_000, "mamujoco": 200_000}


# ---------------------------------------------------------------------------------------
# resources (minutes, MB): Snakemake's standard ``runtime`` and ``mem_mb``


def _on_mujoco(suite: str) -> bool:
    """Whether a suite's tasks run on MuJoCo physics (episodes of up to 1000 Python-level
    steps, datasets of continuous actions), not on SMAX (batched, cheap episodes)."""
    return get_suite(suite).backends[0] == "mamujoco"


def _minutes(seconds: float, floor: int = 10) -> int:
    return max(floor, int(math.ceil(seconds * 1.5 / 60)))   # 50% headroom


def train_updates(config: dict, suite: str, task: str) -> int:
    """Updates one run makes (an estimate when the length is in epochs of a future dataset)."""
    from pipeline.grid import training_length  # lazy: grid imports the task registry

    length = training_length(config, suite, task)
    if "n_updates" in length:
        return int(length["n_updates"])
    transitions = TRANSITIONS.get(suite, max(TRANSITIONS.values()))
    return int(length["epochs"] * transitions / config["train"]["batch_size"])


def train_runtime(config: dict, suite: str, task: str) -> int:
    """Minutes for one training run: updates at UPDATES_PER_S plus every evaluation."""
    t = config["train"]
    episodes = t["n_evals"] * t["eval_episodes"] + t.get("final_eval_episodes", 0)
    if _on_mujoco(suite):
        eval_s = episodes * 1000 / MAMUJOCO_STEPS_PER_S
    else:
        eval_s = episodes * SMAX_EVAL_S_PER_EPISODE
    return _minutes(train_updates(config, suite, task) / UPDATES_PER_S + eval_s)


def train_mem_mb(suite: str, task: str) -> int:
    """The dataset lives in memory (and on the GPU); SMACv2 20_vs_23 is the largest."""
    if "20_vs" in task:
        return 16_000
    return 8_000 if _on_mujoco(suite) or "10_vs" in task else 4_000


def smac_like_env_steps(config: dict, task: str = None) -> int:
    """Env steps of a SMAC-like MAPPO behaviour run of ``task``: ``datasets.smac_like.mappo.task_env_steps[task]``,
    else ``datasets.smac_like.mappo.env_steps``, else 1M."""
    mappo = (config["datasets"].get("smac_like") or {}).get("mappo") or {}
    per_task = mappo.get("task_env_steps") or {}
    if task is not None and task in per_task:
        return int(per_task[task])
    return int(mappo.get("env_steps", 1_000_000))


def d4rl_like_env_steps(config: dict) -> int:
    """Env steps of a D4RL-like MAPPO behaviour run: ``datasets.d4rl_like.mappo.env_steps``, else 1M."""
    return int(((config["datasets"].get("d4rl_like") or {}).get("mappo") or {}).get("env_steps", 1_000_000))


def behaviour_runtime(config: dict, suite: str, task: str = None) -> int:
    """Minutes for a behaviour run: MAPPO env steps (MaMuJoCo twice as slow), or ARS."""
    d = config["datasets"]
    if d.get("generator", "smoke") == "paper":
        steps = smac_like_env_steps(config, task) if not _on_mujoco(suite) else d4rl_like_env_steps(config)
        return _minutes(steps / MAPPO_STEPS_PER_MIN * 60 * (2 if _on_mujoco(suite) else 1), floor=30)
    return _minutes(d["d4rl_like"]["ars_iterations"] * 30, floor=30)   # ARS: about 30 s per iteration


def dataset_runtime(config: dict, suite: str) -> int:
    """Minutes to roll out a dataset's episodes from a behaviour policy."""
    d = config["datasets"]
    if _on_mujoco(suite):
        return _minutes(d["d4rl_like"]["episodes"] * 4 * 1000 / MAMUJOCO_STEPS_PER_S, floor=30)
    return _minutes(d["smac_like"]["episodes"] * SMAX_EVAL_S_PER_EPISODE * 20, floor=30)


# -- memory a setting needs, judged before any job (pipeline.config_checks memory_problems) ------

#: the SMAX learner's update holds its rollout more than once (the epochs' minibatch gathers, the
#: gradients' activations): XLA asked 107,770,509,272 bytes for 4096 x 4096 steps of 5m_vs_6m, 1.3
#: times the rollout as counted here in one buffer alone
SMAX_ROLLOUT_COPIES = 2


def smax_rollout_step_bytes(task, hidden: int, agent_id: bool = True) -> int:
    """Bytes one env step of a SMAX MAPPO rollout keeps until the update (behaviour/smac_like/mappo_learner.py
    ``_env_step``): per agent the actor's input (observation, one-hot id) and recurrent state in
    float32, the available actions, action, log-prob, reward, value, advantage and target, start
    and done flags; the world state once."""
    n, obs = task.n_agents, task.obs_dim + (task.n_agents if agent_id else 0)
    per_agent = 4 * (obs + hidden) + task.action_dim + 4 * 6 + 2
    return n * per_agent + 4 * task.state_dim + 8


def smax_rollout_bytes(task, num_envs: int, rollout_steps: int, hidden: int, agent_id: bool = True) -> int:
    """Memory a SMAX MAPPO update needs for ``num_envs x rollout_steps`` steps of ``task``."""
    return SMAX_ROLLOUT_COPIES * num_envs * rollout_steps * smax_rollout_step_bytes(task, hidden, agent_id)


def smax_episode_bytes(task) -> int:
    """Bytes one recorded SMAX episode of ``task`` takes at its longest (``episode_limit`` steps):
    per step every agent's float32 observation, available actions and int64 action, the float32
    state and reward (behaviour/smac_like/mappo_learner.py ``episodes_from_rollout``, behaviour/episodes.py);
    a dataset's episodes are all held in memory until it is written."""
    n = task.n_agents
    step = n * (4 * task.obs_dim + task.action_dim + 8) + 4 * task.state_dim + 4
    return (task.episode_limit + 1) * step
