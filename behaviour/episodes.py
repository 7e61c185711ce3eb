"""Whole episodes recorded from a batched environment, in the form ``envs.dataset.from_episodes`` reads.

An episode is a dict of obs [L+1, N, O], state [L+1, S], actions [L, ...], reward [L],
avail [L+1, N, A] (environments with available-action masks only) and how it ended
(``terminated``, and whatever else its recorder adds: ``win``, ``iteration``).  While it is
played its entries are lists, one item per step; ``episode_arrays`` stacks them.

``EpisodeRecorder`` keeps one open episode per environment of the batch and appends steps to
it one at a time: ``play_episodes`` (datasets from a fixed policy) and ARS's rollouts
(``behaviour.d4rl_like.ars``) use it.  ``RolloutEpisodes`` makes the same episodes out of whole rollouts
(arrays ``[T, E, ...]``, as MAPPO's training loop collects them, ``behaviour.d4rl_like.mappo``): nothing in
the per-step path, the episodes cut out of the arrays once per rollout.
"""
from __future__ import annotations

import numpy as np

from envs.registry import TaskSpec


class EpisodeRecorder:
    """The open episode of each environment of a batch: ``record`` appends a step to some of
    them, ``finish`` closes one, ``restart`` opens a new one where an environment was reset.

    ``open`` (a list of dicts of lists and numbers) is the whole state: a resume file keeps it."""

    def __init__(self, obs, state, avail=None):
        self.with_avail = avail is not None
        self.open = [self._begin(obs, state, avail, i) for i in range(len(obs))]

    def _begin(self, obs, state, avail, i) -> dict:
        return dict(obs=[obs[i]], state=[state[i]], actions=[], reward=[],
                    **({"avail": [avail[i]]} if self.with_avail else {}))

    def record(self, envs, actions, reward, obs, state, avail=None) -> None:
        """One step of the environments ``envs`` (indices): the actions taken, the reward
        received and the observations after it."""
        for i in envs:
            ep = self.open[i]
            ep["actions"].append(actions[i]); ep["reward"].append(reward[i])
            ep["obs"].append(obs[i]); ep["state"].append(state[i])
            if self.with_avail:
                ep["avail"].append(avail[i])

    def finish(self, i: int, **outcome) -> dict:
        """Environment ``i``'s episode, with ``outcome`` (``terminated=...``, ...) added."""
        ep = self.open[i]
        ep.update(outcome)
        return ep

    def restart(self, i: int, obs, state, avail=None) -> None:
        """A new episode for environment ``i`` from its reset observations."""
        self.open[i] = self._begin(obs, state, avail, i)


class RolloutEpisodes:
    """Episodes cut out of whole rollouts: :meth:`add` takes a rollout of ``T`` steps of ``E``
    environments and returns the episodes that ended in it, the same (arrays, dtypes, order) as
    an ``EpisodeRecorder`` fed step by step would give (tests/test_behaviour.py).

    ``open`` is the whole state (a resume file keeps it): per environment the episode under way,
    as lists of array chunks (its first observation, then one chunk per rollout it ran through),
    or ``None`` where an episode ended on the last step added (the next one starts from the next
    rollout's first observation)."""

    def __init__(self, obs, state, avail=None):
        self.with_avail = avail is not None
        self.open = [self._begin(obs, state, avail, i) for i in range(len(obs))]

    def _begin(self, obs, state, avail, i) -> dict:
        return dict(obs=[np.array(obs[i:i + 1])], state=[np.array(state[i:i + 1])], actions=[], reward=[],
                    **({"avail": [np.array(avail[i:i + 1])]} if self.with_avail else {}))

    def add(self, obs, state, avail, actions, reward, next_obs, next_state, next_avail, done) -> list:
        """One rollout: ``obs[t]`` (``state``, ``avail``) what step ``t`` acted on (after any reset),
        ``actions[t]`` and ``reward[t]`` its actions and rewards, ``next_*[t]`` what followed it
        before any reset, ``done[t]`` [E] where an episode ended at step ``t``.

        Returns ``(t, i, build)`` for every episode that ended, ordered by step then environment
        (an ``EpisodeRecorder``'s order); ``build()`` stacks the episode into a dict of arrays (to
        which the caller adds its outcome), so a caller that keeps few builds few.  Call it before
        the rollout's arrays are overwritten: the last chunk is a view of them."""
        T, E = done.shape
        per_step = {"obs": next_obs, "state": next_state, "actions": actions, "reward": reward}
        if self.with_avail:
            per_step["avail"] = next_avail
        ended = []
        for i in range(E):
            if self.open[i] is None:
                self.open[i] = self._begin(obs[0], state[0], None if avail is None else avail[0], i)
            start = 0
            for t in np.flatnonzero(done[:, i]):
                chunks = self.open[i]
                for k, x in per_step.items():
                    chunks[k].append(x[start:t + 1, i])
                ended.append((int(t), i, chunks))
                start = t + 1
                self.open[i] = (self._begin(obs[start], state[start], None if avail is None else avail[start], i)
                                if start < T else None)
            if start < T:
                for k, x in per_step.items():
                    self.open[i][k].append(np.array(x[start:T, i]))
        ended.sort(key=lambda e: (e[0], e[1]))
        return [(t, i, (lambda c=chunks: {k: np.concatenate(v) for k, v in c.items()})) for t, i, chunks in ended]


def episode_arrays(episode: dict) -> dict:
    """The episode with its per-step lists stacked into arrays (other entries as they are)."""
    return {k: np.asarray(v) if isinstance(v, list) else v for k, v in episode.items()}


def play_episodes(task: TaskSpec, venv, act, n_episodes: int, on_reset=None) -> list:
    """Record ``n_episodes`` whole episodes from a batched env: ``act(obs, avail) -> actions``.

    Batches of ``venv.num_envs`` episodes are played until enough have ended (each with
    ``terminated`` and ``win``); ``on_reset()`` runs after every reset of the batch.  Episodes
    still running after ``task.episode_limit + 1`` steps are dropped."""
    E, episodes = venv.num_envs, []
    while len(episodes) < n_episodes:
        obs, state, avail = venv.reset()
        if on_reset is not None:
            on_reset()
        recorder, ended = EpisodeRecorder(obs, state, avail), [None] * E
        active = np.ones(E, bool)
        for _ in range(task.episode_limit + 1):
            a = act(obs, avail)
            r, term, trunc, won = venv.step(a)
            obs, state, avail = venv.observe()
            recorder.record(np.flatnonzero(active), a, r, obs, state, avail)
            for i in np.flatnonzero(active & (term | trunc)):
                ended[i] = recorder.finish(i, terminated=bool(term[i]), win=bool(won[i]))
            active &= ~(term | trunc)
            if not active.any():
                break
        for ep in ended:
            if ep is not None and len(episodes) < n_episodes:
                episodes.append(episode_arrays(ep))
    return episodes
