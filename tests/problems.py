"""Small offline problems whose answer is known, for learning tests of every learner.

``matrix_game``: a one-step cooperative game for 2 agents with 3 actions.
    reward(0, 0) = 1 (the best joint action), reward(1, 1) = 0.3, every other pair 0.
    The data mix the best joint action (20%) with a good-enough one (30%) and two
    miscoordinated pairs (0, 1), (1, 0) (25% each).  Each agent's most frequent action
    is 1, so behavioural cloning plays (1, 1) and earns 0.3; a learner that reasons
    about rewards plays (0, 0) and earns 1.

``bandit``: a one-step continuous cooperative bandit for 2 agents, one action each.
    reward(a) = 1 - (a_1 - 0.5)^2 - (a_2 + 0.5)^2 (best: a = (0.5, -0.5), reward 1).
    Behaviour actions are uniform in [-1, 1]: BC imitates their mean, about (0, 0),
    and earns about 0.5; a learner that reasons about rewards moves toward the optimum.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from algorithms.base import Draws
from envs.dataset import OfflineDataset
from harness.data import device_data
from harness.engine import fit as fit_updates

MATRIX_REWARD = np.array([[1.0, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.0]], np.float32)
MATRIX_MIX = {(0, 0): 0.20, (1, 1): 0.30, (0, 1): 0.25, (1, 0): 0.25}


def _one_step(obs, actions, reward, avail=None, action_type="discrete"):
    T, N = actions.shape[:2]
    state = obs.reshape(T, -1)
    return OfflineDataset(
        obs=obs, state=state, actions=actions, reward=reward,
        terminated=np.ones(T, bool), truncated=np.zeros(T, bool), episode_start=np.ones(T, bool),
        final_obs=obs.copy(), final_state=state.copy(),
        avail=avail, final_avail=None if avail is None else avail.copy(),
        meta={"suite": "test", "task": "test", "quality": "mixed", "backend": "none", "action_type": action_type},
    )


def matrix_game(n: int = 1000, seed: int = 0) -> OfflineDataset:
    rng = np.random.default_rng(seed)
    pairs = list(MATRIX_MIX)
    idx = rng.choice(len(pairs), size=n, p=list(MATRIX_MIX.values()))
    actions = np.array([pairs[i] for i in idx], np.int64)
    reward = MATRIX_REWARD[actions[:, 0], actions[:, 1]]
    obs = np.ones((n, 2, 2), np.float32)  # a single state
    avail = np.ones((n, 2, 3), bool)
    return _one_step(obs, actions, reward, avail)


def matrix_game_value(learner, params) -> float:
    """Reward of the learner's deterministic joint action in the matrix game."""
    a = np.asarray(learner.act(params, jnp.ones((1, 2, 2)), jnp.ones((1, 2, 3), bool), deterministic=True))[0]
    return float(MATRIX_REWARD[a[0], a[1]])


def bandit_reward(actions: np.ndarray) -> np.ndarray:
    return (1 - (actions[..., 0, 0] - 0.5) ** 2 - (actions[..., 1, 0] + 0.5) ** 2).astype(np.float32)


def bandit(n: int = 2000, seed: int = 0) -> OfflineDataset:
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, size=(n, 2, 1)).astype(np.float32)
    obs = np.ones((n, 2, 2), np.float32)
    return _one_step(obs, actions, bandit_reward(actions), None, "continuous")


def bandit_value(learner, params) -> float:
    # BCQ's policy samples candidates even when deterministic: it needs draws
    a = np.asarray(learner.act(params, jnp.ones((1, 2, 2)), None, Draws(jax.random.PRNGKey(0)), deterministic=True))
    return float(bandit_reward(a)[0])


def fit(learner, ds: OfflineDataset, steps: int, batch_size: int = 128, seed: int = 0):
    """The learner's TrainState after ``steps`` updates on ``ds`` from seed ``seed``'s weights."""
    state = learner.init(jax.random.PRNGKey(seed))
    return fit_updates(learner, device_data(ds), state, steps, batch_size)
