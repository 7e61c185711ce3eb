"""The dataset as arrays on the training device; batches are drawn by index inside the program.

Next observations are not duplicated: ``obs_all = concat(obs, final_obs)`` and a
``next_index`` map give each step's successor (see envs/dataset.py).  ``sample_batch`` is a pure
function of the arrays and a key, so the engine draws every member's minibatches inside its
compiled program (``harness/engine.py``), each member from its own key.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from algorithms.base import Batch, BatchError, LearnerSpec
from envs.dataset import OfflineDataset


def spec_from_dataset(ds: OfflineDataset) -> LearnerSpec:
    if ds.discrete:
        return LearnerSpec(ds.n_agents, ds.obs.shape[2], ds.state.shape[1], ds.avail.shape[2], "discrete")
    return LearnerSpec(ds.n_agents, ds.obs.shape[2], ds.state.shape[1], ds.actions.shape[2], "continuous")


class DeviceData(NamedTuple):
    """Every array a batch is gathered from (a pytree: passed into programs, not baked into them)."""
    obs: jax.Array           # [T + E, N, O] steps then final observations (float32 or float16)
    state: jax.Array         # [T + E, S]
    actions: jax.Array       # [T + E, N] int32 or [T + E, N, A]: a zero action after each episode end
    avail: jax.Array | None
    reward: jax.Array        # [T]
    done: jax.Array          # [T] 1.0 where the episode terminated
    next_index: jax.Array    # [T] int32: the row of each step's successor in obs / state
    init_index: jax.Array    # [n_episodes] int32: the episodes' first steps
    is_init: jax.Array       # [T] bool
    episode_end: jax.Array   # [T] 1.0 where the step ends its episode (termination or time limit)
    reward_to_go: jax.Array  # [T] undiscounted, within each episode

    @property
    def size(self) -> int:
        return int(self.reward.shape[0])


def device_data(ds: OfflineDataset, device=None) -> DeviceData:
    """The dataset's arrays on ``device`` (a jax device; default: JAX's default device).  Values
    are checked here, once: no update inside the program can stop to look at them."""
    for name in ("obs", "state", "reward", "final_obs", "final_state"):
        if not np.isfinite(getattr(ds, name)).all():
            raise BatchError(f"dataset '{name}' contains NaN or infinity")
    if not ds.discrete and not np.isfinite(ds.actions).all():
        raise BatchError("dataset 'actions' contains NaN or infinity")
    obs_all = ds.obs_all if ds.obs_all is not None else np.concatenate([ds.obs, ds.final_obs])
    state_all = ds.state_all if ds.state_all is not None else np.concatenate([ds.state, ds.final_state])
    pad = np.zeros((ds.n_episodes,) + ds.actions.shape[1:], ds.actions.dtype)
    actions = np.concatenate([ds.actions, pad]).astype(np.int32 if ds.discrete else np.float32)
    next_index = ds.next_index()
    size = ds.n_transitions
    rtg = np.zeros(size, np.float32)
    for s, e in ds.episode_bounds():
        rtg[s:e] = np.cumsum(ds.reward[s:e][::-1])[::-1]
    put = (lambda a: jax.device_put(np.ascontiguousarray(a), device))
    return DeviceData(
        obs=put(obs_all), state=put(state_all), actions=put(actions),
        avail=put(np.concatenate([ds.avail, ds.final_avail])) if ds.discrete else None,
        reward=put(ds.reward.astype(np.float32)), done=put(ds.terminated.astype(np.float32)),
        next_index=put(next_index.astype(np.int32)),
        init_index=put(np.flatnonzero(ds.episode_start).astype(np.int32)),
        is_init=put(ds.episode_start.astype(bool)),
        # a step's successor lies past the steps (among the final observations) exactly when the
        # step ends its episode, by termination or by a time-limit cut
        episode_end=put((next_index >= size).astype(np.float32)),
        reward_to_go=put(rtg))


def batch_at(data: DeviceData, idx, init_idx) -> Batch:
    """The transitions at rows ``idx`` and the episode-initial steps ``init_idx`` (into obs)."""
    nxt = data.next_index[idx]
    f32 = lambda x: x.astype(jnp.float32)  # observations may be stored in float16 (large datasets)
    return Batch(
        obs=f32(data.obs[idx]), state=f32(data.state[idx]), actions=data.actions[idx],
        reward=data.reward[idx], done=data.done[idx],
        next_obs=f32(data.obs[nxt]), next_state=f32(data.state[nxt]),
        avail=None if data.avail is None else data.avail[idx],
        next_avail=None if data.avail is None else data.avail[nxt],
        reward_to_go=data.reward_to_go[idx],
        init_obs=f32(data.obs[init_idx]), init_state=f32(data.state[init_idx]),
        next_actions=data.actions[nxt], is_init=data.is_init[idx], episode_end=data.episode_end[idx])


def uniform_indices(key, sizes, n: int):
    """``n`` indices uniform in [0, size) for each of ``sizes`` ([len(sizes), n], int32), from one
    call of the generator (64 random bits per index, reduced modulo the size: a bias below
    size / 2^64).  One call, not randint's three: on the CPU each is a loop of kernels."""
    hi, lo = jax.random.bits(key, (2, len(sizes), n), jnp.uint32)
    size = jnp.asarray(sizes, jnp.uint32)[:, None]
    # (hi * 2^32 + lo) mod size, with 2^32 mod size = (2^16 mod size)^2 mod size
    shift = (jnp.uint32(1 << 16) % size) ** 2 % size
    return (((hi % size) * shift + lo % size) % size).astype(jnp.int32)


def sample_batch(data: DeviceData, key, batch_size: int) -> Batch:
    """``batch_size`` transitions drawn uniformly with replacement, and as many initial steps."""
    rows, inits = uniform_indices(key, (data.reward.shape[0], data.init_index.shape[0]), batch_size)
    return batch_at(data, rows, data.init_index[inits])
