"""The eager PyTorch learner base, kept while the learners move to the compiled engine
(``algorithms/base.py``).  What every learner shares: the spec, the batch, the interface and the config checks.
(The registry is the package's ``__init__``: this module knows no learner.)

    learner = make(name, spec, hyperparameters, device)
    metrics = learner.update(batch)      # one gradient step; dict of detached 0-d tensors
    actions = learner.act(obs, avail, deterministic=True)

``update`` returns tensors, not floats, so that no step forces a host synchronisation;
the training loop turns them into numbers only when it logs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from algorithms.base import LearnerSpec, config_from  # noqa: F401 - re-exported while learners move
from algorithms.torch_networks import AgentMLP, TanhGaussianHead, masked_logits


@dataclass
class Batch:
    """A minibatch of transitions, every tensor on the training device.

    obs [B, N, O], state [B, S], actions [B, N] (long) or [B, N, A] (float),
    avail [B, N, A] (bool, discrete only), reward [B], done [B] (1.0 where the episode
    *terminated* at this step: no bootstrap; a time-limit cut is not done),
    next_* the successor step (next_actions: the action the data took there; zeros after
    an episode's last step, where only a truncation bootstraps), reward_to_go [B] (undiscounted, for the code variant),
    init_obs / init_state: a separate sample of episode-initial steps (the s_0 ~ p_0
    term of the DICE objectives); is_init marks the rows of the batch that are themselves
    initial steps (the authors' ComaDICE code uses those instead); episode_end marks every
    episode's last step, a time-limit cut included (the authors' SMAC code stops the
    bootstrap there).
    """

    obs: torch.Tensor
    state: torch.Tensor
    actions: torch.Tensor
    reward: torch.Tensor
    done: torch.Tensor
    next_obs: torch.Tensor
    next_state: torch.Tensor
    avail: Optional[torch.Tensor] = None
    next_avail: Optional[torch.Tensor] = None
    reward_to_go: Optional[torch.Tensor] = None
    init_obs: Optional[torch.Tensor] = None
    init_state: Optional[torch.Tensor] = None
    next_actions: Optional[torch.Tensor] = None  # the data's next joint action (zeros after an episode's end)
    is_init: Optional[torch.Tensor] = None       # [B] bool: the row is an episode's first step
    episode_end: Optional[torch.Tensor] = None   # [B] 1.0 where the row is its episode's last step (terminated or cut)


class BatchError(ValueError):
    pass


def check_batch(spec: LearnerSpec, batch: Batch, values: bool = False) -> None:
    """Shapes always (free); finiteness when ``values`` (costs a host sync)."""
    B = batch.reward.shape[0] if batch.reward.dim() == 1 else None
    if B is None:
        raise BatchError(f"reward must be [B], got shape {tuple(batch.reward.shape)}")
    N, O, S = spec.n_agents, spec.obs_dim, spec.state_dim
    expect = {"obs": (B, N, O), "next_obs": (B, N, O), "state": (B, S), "next_state": (B, S), "done": (B,)}
    expect["actions"] = (B, N) if spec.discrete else (B, N, spec.action_dim)
    if spec.discrete:
        expect["avail"] = (B, N, spec.action_dim)
        expect["next_avail"] = (B, N, spec.action_dim)
    for key, shape in expect.items():
        t = getattr(batch, key)
        if t is None:
            raise BatchError(f"batch has no '{key}' (expected shape {shape})")
        if tuple(t.shape) != shape:
            raise BatchError(f"batch '{key}' has shape {tuple(t.shape)}, expected {shape} "
                             f"(agents={N}, obs_dim={O}, state_dim={S}, action_dim={spec.action_dim})")
    if values:
        for key in ("obs", "state", "reward", "next_obs", "next_state"):
            if not torch.isfinite(getattr(batch, key)).all():
                raise BatchError(f"batch '{key}' contains NaN or infinity")
        if not spec.discrete and not torch.isfinite(batch.actions).all():
            raise BatchError("batch 'actions' contains NaN or infinity")


class Learner(nn.Module):
    """Base class: holds the spec and device, checks batches, and acts with ``self.actor``.

    Subclasses define ``Config`` (a dataclass of documented hyperparameters), build their
    networks in ``__init__`` (calling ``super().__init__``), implement ``_update`` and,
    unless they use the shared actor below, ``act``.
    """

    Config = None
    name = "base"
    #: how many first updates also check batch values for NaN (a host sync each)
    value_checks = 1

    def __init__(self, spec: LearnerSpec, cfg, device="cpu"):
        super().__init__()
        self.spec, self.cfg, self.device = spec, cfg, torch.device(device)
        self.n_updates = 0

    # -- the shared policy network ------------------------------------------------------
    def make_actor(self, hidden: int) -> nn.Module:
        s = self.spec
        if s.discrete:
            return AgentMLP(s.obs_dim, s.action_dim, s.n_agents, hidden)
        return TanhGaussianHead(s.obs_dim, s.action_dim, s.n_agents, hidden)

    def actor_log_prob(self, obs, actions, avail=None) -> torch.Tensor:
        """log pi_i(a_i | o_i) for every agent: [B, N]."""
        if self.spec.discrete:
            logp = torch.log_softmax(masked_logits(self.actor(obs), avail), dim=-1)
            return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return self.actor.log_prob(obs, actions)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, avail: Optional[torch.Tensor] = None, deterministic: bool = True):
        """Decentralised actions for [E, N, O] observations: [E, N] ints or [E, N, A] floats."""
        if self.spec.discrete:
            logits = masked_logits(self.actor(obs), avail)
            if deterministic:
                return logits.argmax(-1)
            return torch.distributions.Categorical(logits=logits).sample()
        return self.actor.sample(obs, deterministic)[0]

    # -- the update ---------------------------------------------------------------------
    def update(self, batch: Batch) -> dict:
        check_batch(self.spec, batch, values=self.n_updates < self.value_checks)
        self.n_updates += 1
        return self._update(batch)

    def _update(self, batch: Batch) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError
