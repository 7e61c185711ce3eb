"""Smoke-grade SMAX behaviour data: SMAX's own heuristic micromanagement with random actions.

The heuristic (attack the closest enemy in range, else advance) drives our units, each agent
replacing its action by a uniformly random available one with a quality-dependent probability
``SMAX_EPSILON``: lower epsilon, better play (poor < medium < good in return).  The datasets are
labelled ``grade="smoke"``; the paper-grade SMAC data come from MAPPO runs
(``behaviour.smac_like.datasets``).
"""
from __future__ import annotations

import numpy as np

from behaviour.episodes import play_episodes
from behaviour.qualities import dataset_meta
from envs.dataset import OfflineDataset, from_episodes
from envs.registry import TaskSpec, check_quality

#: probability of a random action instead of the heuristic one, per SMAC quality
SMAX_EPSILON = {"poor": 0.9, "medium": 0.5, "good": 0.1}


def collect_smax(task: TaskSpec, quality: str, n_episodes: int, seed: int = 0, batch: int = 64) -> OfflineDataset:
    """Episodes of the epsilon-heuristic behaviour policy on SMAX, ``batch`` at a time."""
    from envs.simulators import make_vector_env
    from envs.smax_backend import SMAXHeuristicAllies  # SMAX's own heuristic: this generator is SMAX's

    check_quality(task, quality)
    if task.backend != "smax":
        raise ValueError(f"{task.id}: the smoke generator plays SMAX's heuristic, not a {task.backend!r} task "
                         "(datasets.generator: paper, or import the published data)")
    eps = SMAX_EPSILON[quality]
    venv = make_vector_env(task, batch, seed)
    allies = SMAXHeuristicAllies(venv, seed)
    episodes = play_episodes(task, venv, lambda obs, avail: allies(eps), n_episodes, on_reset=allies.reset)
    wins = [e["win"] for e in episodes]
    prov = {"behaviour": "smax-heuristic-epsilon", "epsilon": eps, "seed": seed,
            "episodes": n_episodes, "win_rate": float(np.mean(wins))}
    return from_episodes(episodes, dataset_meta(task, quality, prov, grade="smoke"))
