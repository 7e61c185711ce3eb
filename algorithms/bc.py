"""BC: behavioural cloning of each agent's actions (the simplest baseline of Tables 1-3).

    max_pi_i  E_D[ log pi_i(a_i | o_i) ]      for every agent i (shared weights, agent ids)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from algorithms.base import Batch, Learner, LearnerSpec, register


@dataclass
class BCConfig:
    lr: float = 5e-4        # Adam learning rate (same as ComaDICE's, public code default)
    hidden: int = 256       # hidden width (paper appendix: 256 for every network)
    grad_clip: float = 1.0  # max grad norm (public code)

    def validate(self):
        if self.lr <= 0:
            raise ValueError(f"BC lr must be > 0, got {self.lr}")


@register
class BC(Learner):
    name = "BC"
    Config = BCConfig

    def __init__(self, spec: LearnerSpec, cfg: BCConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        self.actor = self.make_actor(cfg.hidden)
        self.optim = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)

    def _update(self, b: Batch) -> dict:
        loss = -self.actor_log_prob(b.obs, b.actions, b.avail).mean()
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.actor.parameters(), self.cfg.grad_clip)
        self.optim.step()
        return {"pi_loss": loss.detach()}
