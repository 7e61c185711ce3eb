"""OMIGA (Wang et al. 2023, "Offline multi-agent RL with implicit global-to-local value
regularization"), the state of the art ComaDICE compares against.

Local q_i(o_i, a_i) and v_i(o_i), mixed linearly by state-dependent non-negative weights
w(s) and bias b(s) (Sec. 4.2): Q_tot = w^T q + b, V_tot = w^T v + b.  The global
regularised objective becomes implicit local ones (Sec. 4.3, Eqs. 9-12):

    L_q  = E[ (w^T q(o, a) + b - r - gamma (1 - done) V'_tot(s'))^2 ]           (q and w, b)
    z_i  = w_i (q_i(o_i, a_i) - v_i(o_i)) / alpha                                  (w, q fixed)
    L_v  = E[ sum_i exp(z_i) - z_i ]          (minimised when E[exp(z_i)] = 1: v_i is the
                                               local soft value of q_i under the data)
    L_pi = - E[ sum_i min(exp(z_i), w_max) log pi_i(a_i | o_i) ]

Defaults from the authors' code: alpha 10, exp clipped at 100 (w_max), z clipped at 10
inside the value loss for stability, Adam 5e-4 (the harness's common rate; OMIGA uses
3e-4 for MaMuJoCo), target tau 0.005.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from algorithms.base import Batch, Learner, LearnerSpec, register
from algorithms.networks import AgentMLP, HyperMixer, LocalQ, soft_update


@dataclass
class OMIGAConfig:
    alpha: float = 10.0         # regularisation temperature (OMIGA public code default)
    gamma: float = 0.99
    lr: float = 5e-4            # Adam, the harness's common rate
    hidden: int = 256
    tau: float = 0.005
    max_weight: float = 100.0   # clip of exp(z) in the policy weights (OMIGA code)
    max_z: float = 10.0         # clip of z inside the value loss (numerical guard)
    grad_clip: float = 1.0

    def validate(self):
        if self.alpha <= 0:
            raise ValueError(f"OMIGA alpha must be > 0, got {self.alpha}")


@register
class OMIGA(Learner):
    name = "OMIGA"
    Config = OMIGAConfig

    def __init__(self, spec: LearnerSpec, cfg: OMIGAConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        self.q = LocalQ(spec.obs_dim, spec.action_dim, spec.n_agents, spec.discrete, cfg.hidden)
        self.v = AgentMLP(spec.obs_dim, 1, spec.n_agents, cfg.hidden)
        self.mixer = HyperMixer(spec.state_dim, spec.n_agents)
        self.actor = self.make_actor(cfg.hidden)
        self.v_target = copy.deepcopy(self.v).requires_grad_(False)
        self.mixer_target = copy.deepcopy(self.mixer).requires_grad_(False)
        self.groups = {"q": list(self.q.parameters()) + list(self.mixer.parameters()),
                       "v": list(self.v.parameters()), "actor": list(self.actor.parameters())}
        self.optim = torch.optim.Adam([p for g in self.groups.values() for p in g], lr=cfg.lr)

    def _update(self, b: Batch) -> dict:
        cfg = self.cfg
        q = self.q(b.obs, b.actions)                                   # [B, N]
        v = self.v(b.obs).squeeze(-1)
        w, bias = self.mixer.hyper(b.state)
        with torch.no_grad():
            next_v = self.mixer_target(self.v_target(b.next_obs).squeeze(-1), b.next_state)
            target = b.reward + cfg.gamma * (1 - b.done) * next_v
        q_loss = F.mse_loss((w * q).sum(-1) + bias, target)

        z = w.detach() * (q.detach() - v) / cfg.alpha
        zc = z.clamp(max=cfg.max_z)
        v_loss = (torch.exp(zc) - zc).sum(-1).mean()

        with torch.no_grad():
            weight = torch.exp(z.detach()).clamp(max=cfg.max_weight)
        pi_loss = -(weight * self.actor_log_prob(b.obs, b.actions, b.avail)).sum(-1).mean()

        self.optim.zero_grad(set_to_none=True)
        (q_loss + v_loss + pi_loss).backward()   # disjoint parameters: one pass, three steps
        for params in self.groups.values():
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.optim.step()
        soft_update(self.v_target, self.v, cfg.tau)
        soft_update(self.mixer_target, self.mixer, cfg.tau)
        return {"q_loss": q_loss.detach(), "v_loss": v_loss.detach(), "pi_loss": pi_loss.detach()}
