"""Quality levels of datasets from the checkpoints of a behaviour learning run.

- SMACv1 (poor / medium / good, MADT's return bands): ``behaviour.smac_like.datasets``.
- MaMuJoCo (D4RL-style, as the OMIGA datasets): expert = the expert checkpoint, medium = the
  learnt checkpoint whose return is closest to ``MEDIUM_FRACTION`` of the expert's,
  medium-replay = the run's training episodes up to the medium checkpoint, medium-expert =
  medium and expert episodes together (``d4rl_episodes``; one definition for the ARS and the
  MAPPO runs, which differ only in which checkpoint is the expert and how replay is kept).

``dataset_meta`` is the metadata every generator writes with its dataset.
"""
from __future__ import annotations

from envs.registry import TaskSpec
from envs.simulators import backend_version

#: MaMuJoCo's medium checkpoint: the one whose evaluation return is closest to this fraction
#: of the expert's (D4RL's medium policies reach about a third of expert return; the published
#: OMIGA Hopper 3x1 data: medium 724 / expert 2452 = 0.30)
MEDIUM_FRACTION = 0.3


def dataset_meta(task: TaskSpec, quality: str, provenance: dict, grade: str) -> dict:
    """The metadata of a generated dataset: task, backend, layout, ``grade`` (smoke or paper)
    and the generator's ``provenance``."""
    return {"suite": task.suite, "task": task.name, "quality": quality, "backend": task.backend,
            "backend_version": backend_version(task), "action_type": task.action_type,
            "n_agents": task.n_agents, "approximation": task.approximation,
            "obs_layout": task.obs_layout, "grade": grade, "provenance": provenance}


def d4rl_episodes(quality: str, n_episodes: int, checkpoints: list, expert: dict, score, play, replay,
                  medium_fraction: float = MEDIUM_FRACTION):
    """MaMuJoCo episodes of one D4RL-style quality, and the medium checkpoint.

    ``expert`` is one of ``checkpoints`` (each with an ``iteration``; ``score(c)`` its evaluated
    return); medium is the closest to ``medium_fraction`` of the expert's score among the
    learnt checkpoints (iteration > 0) other than the expert, or among all if there are none.
    ``play(checkpoint, n)`` records n episodes of a checkpoint's policy; ``replay(medium)``
    returns the run's training episodes up to the medium checkpoint."""
    target = medium_fraction * score(expert)
    learnt = [c for c in checkpoints if c is not expert and c["iteration"] > 0]
    medium = min(learnt or checkpoints, key=lambda c: abs(score(c) - target))
    if quality == "expert":
        episodes = play(expert, n_episodes)
    elif quality == "medium":
        episodes = play(medium, n_episodes)
    elif quality == "medium-expert":
        episodes = play(medium, n_episodes // 2) + play(expert, n_episodes - n_episodes // 2)
    elif quality == "medium-replay":
        episodes = replay(medium)
    else:
        raise ValueError(f"{quality!r} is not a MaMuJoCo quality level (expert, medium, medium-replay, medium-expert)")
    return episodes, medium
