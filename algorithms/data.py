"""The dataset as tensors on the training device; batches are drawn by index.

Next observations are not duplicated: ``obs_all = concat(obs, final_obs)`` and a
``next_index`` map give each step's successor (see envs/dataset.py).
"""
from __future__ import annotations

import numpy as np
import torch

from algorithms.base import Batch, LearnerSpec
from envs.dataset import OfflineDataset


def spec_from_dataset(ds: OfflineDataset) -> LearnerSpec:
    if ds.discrete:
        return LearnerSpec(ds.n_agents, ds.obs.shape[2], ds.state.shape[1], ds.avail.shape[2], "discrete")
    return LearnerSpec(ds.n_agents, ds.obs.shape[2], ds.state.shape[1], ds.actions.shape[2], "continuous")


class TensorData:
    def __init__(self, ds: OfflineDataset, device="cpu", seed: int = 0):
        dev = torch.device(device)
        t = lambda a, dtype=None: torch.as_tensor(np.ascontiguousarray(a), device=dev, dtype=dtype)
        self.spec = spec_from_dataset(ds)
        self.size = ds.n_transitions
        self.obs = t(np.concatenate([ds.obs, ds.final_obs]))
        self.state = t(np.concatenate([ds.state, ds.final_state]))
        self.actions = t(ds.actions, torch.long if ds.discrete else torch.float32)
        self.avail = t(np.concatenate([ds.avail, ds.final_avail])) if ds.discrete else None
        self.reward = t(ds.reward)
        self.done = t(ds.terminated.astype(np.float32))
        self.next_index = t(ds.next_index())
        self.init_index = t(np.flatnonzero(ds.episode_start))
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
        return Batch(
            obs=self.obs[idx], state=self.state[idx], actions=self.actions[idx],
            reward=self.reward[idx], done=self.done[idx],
            next_obs=self.obs[nxt], next_state=self.state[nxt],
            avail=None if self.avail is None else self.avail[idx],
            next_avail=None if self.avail is None else self.avail[nxt],
            reward_to_go=self.reward_to_go[idx],
            init_obs=self.obs[init_idx], init_state=self.state[init_idx],
        )

    def sample(self, batch_size: int) -> Batch:
        idx = torch.randint(self.size, (batch_size,), device=self.device, generator=self.generator)
        return self.batch_at(idx)
