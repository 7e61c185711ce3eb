"""The dataset as tensors on the training device; batches are drawn by index.

Next observations are not duplicated: ``obs_all = concat(obs, final_obs)`` and a
``next_index`` map give each step's successor (see envs/dataset.py).
"""
from __future__ import annotations

import numpy as np
import torch

from algorithms.base import LearnerSpec
from algorithms.torch_base import Batch
from envs.dataset import OfflineDataset


def spec_from_dataset(ds: OfflineDataset) -> LearnerSpec:
    if ds.discrete:
        return LearnerSpec(ds.n_agents, ds.obs.shape[2], ds.state.shape[1], ds.avail.shape[2], "discrete")
    return LearnerSpec(ds.n_agents, ds.obs.shape[2], ds.state.shape[1], ds.actions.shape[2], "continuous")


class TensorData:
    def __init__(self, ds: OfflineDataset, device="cpu", seed: int = 0):
        dev = torch.device(device)
        # torch.from_numpy shares memory with the numpy buffer on the CPU
        t = lambda a, dtype=None: torch.from_numpy(np.ascontiguousarray(a)).to(device=dev, dtype=dtype)
        self.spec = spec_from_dataset(ds)
        self.size = ds.n_transitions
        # one buffer of steps then final observations; no copy when the loader made it
        obs_all = ds.obs_all if ds.obs_all is not None else np.concatenate([ds.obs, ds.final_obs])
        state_all = ds.state_all if ds.state_all is not None else np.concatenate([ds.state, ds.final_state])
        self.obs = t(obs_all)
        self.state = t(state_all)
        # actions of every step, then a zero action per episode end (the next action of a final step)
        pad = np.zeros((ds.n_episodes,) + ds.actions.shape[1:], ds.actions.dtype)
        self.actions = t(np.concatenate([ds.actions, pad]), torch.long if ds.discrete else torch.float32)
        self.avail = t(np.concatenate([ds.avail, ds.final_avail])) if ds.discrete else None
        self.reward = t(ds.reward)
        self.done = t(ds.terminated.astype(np.float32))
        self.next_index = t(ds.next_index())
        self.init_index = t(np.flatnonzero(ds.episode_start))
        self.is_init = t(ds.episode_start.astype(bool))
        # a step's successor lies past the steps (among the final observations) exactly when
        # the step ends its episode, by termination or by a time-limit cut
        self.episode_end = (self.next_index >= self.size).float()
        # undiscounted reward-to-go within each episode (for the public code's SMAC variant)
        rtg = np.zeros(self.size, np.float32)
        for s, e in ds.episode_bounds():
            rtg[s:e] = np.cumsum(ds.reward[s:e][::-1])[::-1]
        self.reward_to_go = t(rtg)
        self.generator = torch.Generator(device=dev)
        self.generator.manual_seed(seed)
        self.device = dev

    def batch_at(self, idx: torch.Tensor, init_idx: torch.Tensor = None) -> Batch:
        nxt = self.next_index[idx]
        if init_idx is None:
            init_idx = self.init_index[torch.randint(len(self.init_index), idx.shape, device=self.device,
                                                     generator=self.generator)]
        f32 = lambda x: x.float()  # observations may be stored in float16 (large datasets)
        return Batch(
            obs=f32(self.obs[idx]), state=f32(self.state[idx]), actions=self.actions[idx],
            reward=self.reward[idx], done=self.done[idx],
            next_obs=f32(self.obs[nxt]), next_state=f32(self.state[nxt]),
            avail=None if self.avail is None else self.avail[idx],
            next_avail=None if self.avail is None else self.avail[nxt],
            reward_to_go=self.reward_to_go[idx],
            init_obs=f32(self.obs[init_idx]), init_state=f32(self.state[init_idx]),
            next_actions=self.actions[nxt], is_init=self.is_init[idx], episode_end=self.episode_end[idx],
        )

    def sample(self, batch_size: int) -> Batch:
        idx = torch.randint(self.size, (batch_size,), device=self.device, generator=self.generator)
        return self.batch_at(idx)
