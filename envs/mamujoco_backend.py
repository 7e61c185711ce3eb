"""Gymnasium-Robotics MaMuJoCo backend (mamujoco_v1, MuJoCo v5 physics).

The paper's datasets were made on MaMuJoCo over MuJoCo v2 ("Hopper-v2"); the v2
environments need the retired mujoco-py, so this harness runs the v5 physics that
Gymnasium-Robotics 1.4 ships.  Returns are therefore comparable in kind, not to the
decimal, with the paper's Table 3.

MaMuJoCo has no vector env: ``MaMuJoCoVectorEnv`` steps ``num_envs`` copies in a loop
and batches their arrays.  Per-agent observations of different sizes (Hopper 3x1:
8/9/8) are zero padded to the task's ``obs_dim``.  The 1000-step time limit is a
truncation (bootstrap), never a termination.
"""
from __future__ import annotations

import warnings

import numpy as np

from envs.registry import TaskSpec


def make_mamujoco_env(task: TaskSpec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gymnasium_robotics import mamujoco_v1
    kw = task.backend_kwargs
    return mamujoco_v1.parallel_env(kw["scenario"], kw["agent_conf"], agent_obsk=kw["agent_obsk"],
                                    max_episode_steps=task.episode_limit)


def gymnasium_robotics_version() -> str:
    from importlib.metadata import version
    return f"gymnasium-robotics {version('gymnasium-robotics')}, mujoco {version('mujoco')}"


class MaMuJoCoVectorEnv:
    """``num_envs`` MaMuJoCo episodes stepped in lockstep.

    ``reset()`` and ``observe()`` give obs [E, N, O] and state [E, S]; ``step(actions
    [E, N, A])`` gives reward [E], terminated [E], truncated [E].  Finished episodes
    stay finished (their entries are frozen) until the next ``reset()``.
    """

    def __init__(self, task: TaskSpec, num_envs: int, seed: int = 0):
        self.task = task
        self.num_envs = num_envs
        self.envs = [make_mamujoco_env(task) for _ in range(num_envs)]
        self.agents = list(self.envs[0].possible_agents)
        self.n_agents = len(self.agents)
        self.seed = seed
        self._episode = 0
        self.obs = np.zeros((num_envs, self.n_agents, task.obs_dim), np.float32)
        self.state = np.zeros((num_envs, task.state_dim), np.float32)
        self.done = np.zeros(num_envs, bool)

    def _store(self, i, obs_dict, env):
        for j, a in enumerate(self.agents):
            o = np.asarray(obs_dict[a], np.float32)
            self.obs[i, j, : o.shape[0]] = o
            self.obs[i, j, o.shape[0]:] = 0.0
        self.state[i] = env.state()

    def reset(self):
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=self.seed * 100_003 + self._episode * self.num_envs + i)
            self._store(i, obs, env)
        self._episode += 1
        self.done[:] = False
        return self.observe()

    def observe(self):
        return self.obs.copy(), self.state.copy(), None

    def step(self, actions: np.ndarray):
        actions = np.clip(np.asarray(actions, np.float32), -1.0, 1.0)
        reward = np.zeros(self.num_envs, np.float32)
        term = np.zeros(self.num_envs, bool)
        trunc = np.zeros(self.num_envs, bool)
        for i, env in enumerate(self.envs):
            if self.done[i]:
                continue
            act = {a: actions[i, j] for j, a in enumerate(self.agents)}
            obs, r, te, tr, _ = env.step(act)
            reward[i] = r[self.agents[0]]
            term[i] = bool(te[self.agents[0]])
            trunc[i] = bool(tr[self.agents[0]]) and not term[i]
            self._store(i, obs, env)
            self.done[i] = term[i] or trunc[i]
        return reward, term, trunc, np.zeros(self.num_envs, bool)

    def reset_done(self, done: np.ndarray):
        """Start a new episode in the envs where ``done`` (for online learners' rollouts)."""
        for i in np.flatnonzero(done):
            obs, _ = self.envs[i].reset(seed=int(self.seed * 100_003 + 7919 * self._episode + i))
            self._store(i, obs, self.envs[i])
            self.done[i] = False
        self._episode += 1

    def warm_up(self):
        pass


def evaluate_mamujoco(task: TaskSpec, policy, n_episodes: int, seed: int, venv=None):
    """Average undiscounted return of ``policy(obs, None) -> actions [E, N, A]``."""
    venv = venv or MaMuJoCoVectorEnv(task, n_episodes, seed)
    obs, state, _ = venv.reset()
    active = np.ones(n_episodes, bool)
    returns = np.zeros(n_episodes)
    lengths = np.zeros(n_episodes, int)
    for _ in range(task.episode_limit):
        r, term, trunc, _ = venv.step(policy(obs, None))
        returns += r * active
        lengths += active
        active &= ~(term | trunc)
        if not active.any():
            break
        obs, state, _ = venv.observe()
    return {"return_mean": float(returns.mean()), "returns": returns, "lengths": lengths,
            "win_rate": float("nan"), "wins": None}
