"""The D4RL-like suites' datasets (MaMuJoCo) from a behaviour run's checkpoints and replay.

D4RL-style levels (``behaviour.qualities.d4rl_episodes``): expert = the expert checkpoint, medium =
the learnt checkpoint whose return is closest to ``MEDIUM_FRACTION`` of the expert's,
medium-replay = the run's training episodes up to the medium checkpoint, medium-expert = medium
and expert episodes together.

- ``mamujoco_from_mappo``: from a MAPPO run (``behaviour.d4rl_like.mappo``), the best checkpoint
  the expert, in the observation layout the task is configured with; ``grade="paper"``.
- ``mamujoco_from_ars``: from an ARS run (``behaviour.d4rl_like.ars``), the final policy the
  expert, every rollout of the run the replay; ``grade="smoke"``.
- ``mamujoco_from_run``: either, by the run's ``kind``.
"""
from __future__ import annotations

import numpy as np

from behaviour.d4rl_like.ars import play_linear_policies
from behaviour.episodes import episode_arrays, play_episodes
from behaviour.qualities import MEDIUM_FRACTION, d4rl_episodes, dataset_meta
from envs.dataset import OfflineDataset, from_episodes
from envs.registry import TaskSpec, check_quality, with_obs_layout


def run_obs_layout(task: TaskSpec, run: dict) -> str:
    """The MaMuJoCo observation layout a MAPPO run acted on: recorded as ``obs_layout`` or, for
    runs that predate the option, read off its actor's input width (obs + one-hot id)."""
    if run.get("obs_layout"):
        return run["obs_layout"]
    weight = next(v for k, v in run["checkpoints"][0]["state_dict"].items() if k.startswith("actor.") and v.dim() == 2)
    width = int(weight.shape[1]) - task.n_agents
    for layout in ("authors", "local"):
        if with_obs_layout(task, layout).obs_dim == width:
            return layout
    raise ValueError(f"the MAPPO run of {task.id} acts on {width}-wide observations, neither layout of the task")


def in_task_layout(task: TaskSpec, episodes: list, acted_on: str) -> list:
    """Episodes recorded while the behaviour policy saw ``acted_on`` observations, with the obs the
    task is configured with: the authors' layout is a function of the state, so it is rebuilt
    from the recorded states; local observations cannot be rebuilt from states."""
    if task.obs_layout == acted_on:
        return episodes
    if task.obs_layout != "authors":
        raise ValueError(f"{task.id} is configured with '{task.obs_layout}' observations but the behaviour "
                         f"run recorded '{acted_on}' ones, from which they cannot be rebuilt; retrain it with "
                         f"the config's simulators.mamujoco_obs: {task.obs_layout}")
    from envs.mamujoco_backend import authors_observation
    return [{**e, "obs": authors_observation(np.asarray(e["state"]), task.n_agents)} for e in episodes]


def mamujoco_from_mappo(task: TaskSpec, quality: str, run: dict, n_episodes: int, seed: int = 0,
                        medium_fraction: float = MEDIUM_FRACTION) -> OfflineDataset:
    """D4RL-style MaMuJoCo qualities from a MAPPO run: expert = the best checkpoint, medium =
    the checkpoint closest to ``medium_fraction`` of its return, medium-replay = every
    training episode up to the medium checkpoint, medium-expert = medium and expert episodes
    together (D4RL; the OMIGA datasets follow it).  The policies act stochastically, as D4RL's."""
    import torch

    from behaviour.d4rl_like.mappo_networks import MAPPOAgent
    from envs.simulators import make_vector_env

    check_quality(task, quality)
    checkpoints = run["checkpoints"]
    expert = max(checkpoints, key=lambda c: c["return_mean"])
    torch.manual_seed(seed)
    # the behaviour policy acts on the observations it was trained on; the data get the task's
    acted_on = run_obs_layout(task, run)
    play_task = with_obs_layout(task, acted_on)

    def play(ck, n):
        agent = MAPPOAgent.from_config(play_task, run["config"])
        agent.load_state_dict(ck["state_dict"])
        return play_episodes(play_task, make_vector_env(play_task, n, seed + 17), agent.act, n)

    def replay(medium):
        episodes = [e for e in run["episodes"] if e["iteration"] <= medium["iteration"]]
        if not episodes:
            raise ValueError(f"the MAPPO run of {task.id} recorded no episodes before its medium checkpoint")
        return episodes

    episodes, medium = d4rl_episodes(quality, n_episodes, checkpoints, expert, lambda c: c["return_mean"], play,
                                     replay, medium_fraction)
    episodes = in_task_layout(task, [episode_arrays(e) for e in episodes], acted_on)
    prov = {"behaviour": "mappo", "seed": seed, "behaviour_obs_layout": acted_on,
            "expert_iteration": expert["iteration"], "expert_return": expert["return_mean"],
            "medium_iteration": medium["iteration"], "medium_return": medium["return_mean"],
            "medium_fraction": medium_fraction, "episodes": len(episodes), "run_env_steps": run["env_steps"]}
    return from_episodes(episodes, dataset_meta(task, quality, prov, grade="paper"))


def mamujoco_from_ars(task: TaskSpec, quality: str, run: dict, n_episodes: int, seed: int = 0,
                      action_noise: float = 0.05) -> OfflineDataset:
    """One D4RL-style quality level from an ARS run (see the module doc), the policies acting
    with Gaussian noise ``action_noise`` on their actions."""
    from envs.simulators import make_vector_env

    check_quality(task, quality)
    ckpts = run["checkpoints"]
    final = ckpts[-1]
    rng = np.random.default_rng(seed)

    def play(ck, n):
        venv = make_vector_env(task, n, seed + 17)
        W = np.repeat(ck["weights"][None], n, 0)
        return play_linear_policies(task, venv, W, ck["mean"], ck["std"], action_noise, rng, record=True)[2]

    def replay(medium):  # every rollout of the learning run up to the medium checkpoint
        return [t for r in run["rollouts"][: max(1, medium["iteration"])] for t in r]

    episodes, medium = d4rl_episodes(quality, n_episodes, ckpts, final, lambda c: c["return"], play, replay,
                                     MEDIUM_FRACTION)
    episodes = [episode_arrays(e) for e in episodes]
    prov = {"behaviour": "ars-v2t", "seed": seed, "final_return": final["return"],
            "medium_iteration": medium["iteration"], "medium_return": medium["return"],
            "action_noise": action_noise, "episodes": len(episodes)}
    return from_episodes(episodes, dataset_meta(task, quality, prov, grade="smoke"))


def mamujoco_from_run(task: TaskSpec, quality: str, run: dict, n_episodes: int, seed: int = 0) -> OfflineDataset:
    """One quality level from a run of ``behaviour.d4rl_like.run_file`` (its ``kind``: mappo or ars)."""
    make = mamujoco_from_mappo if run.get("kind") == "mappo" else mamujoco_from_ars
    return make(task, quality, run, n_episodes, seed=seed)
