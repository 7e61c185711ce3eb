"""CQL (Kumar et al. 2020, "Conservative Q-learning for offline RL"), multi-agent form.

Local critics q_i mixed by the non-negative HyperMixer, TD on the mixed value, and CQL's
conservative penalty on every agent's local critic (the OMIGA authors' multi-agent CQL
applies it per agent):

Discrete (CQL(H), Sec. 3.2, Q-learning with the masked max):

    y     = r + gamma (1 - done) M'_s'[ q'_i(o'_i, argmax_a q_i(o'_i, a)) ]
    L     = (M_s[q_i(o_i, a_i)] - y)^2
            + cql_alpha * mean_i( logsumexp_{a available} q_i(o_i, a) - q_i(o_i, a_i) )
    act:  argmax_{a available} q_i(o_i, a)

Continuous (CQL(H) with a SAC actor, Sec. 4 / App. F): a tanh-Gaussian actor pi_i; the
logsumexp over actions is estimated with n uniform and n policy samples (importance
corrected by their densities):

    y     = r + gamma (1 - done) M'_s'[ q'_i(o', a') - beta log pi_i(a'|o') ],  a' ~ pi_i
    L_q   = (M_s[q_i(o, a)] - y)^2 + cql_alpha * mean_i( logsumexp_k (q_i(o, a_k) - log p(a_k))
                                                       - log 2n - q_i(o, a_i) )
    L_pi  = E[ beta log pi_i(a|o) - M_s[q_i(o, a)] ],  a ~ pi

Defaults: cql_alpha 1.0 (discrete; CQL's SMAC-style setting in OMIGA's baselines) and 1.0
for continuous, entropy weight beta 0.2 fixed (SAC's default without tuning), 10 samples.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from algorithms.torch_base import Batch, Learner, LearnerSpec
from algorithms.torch_networks import HyperMixer, LocalQ, masked_logits, soft_update


@dataclass
class CQLConfig:
    # Sources: vietbt/ComaDICE runner/cql/continuous.py (config lines 10-19), agents/continuous/cql.py
    # (MaMuJoCo).  No SMAC CQL code is public (the paper's SMAC CQL numbers cannot be traced).
    gamma: float = 0.99           # runner/cql/continuous.py line 11
    lr: float = 5e-4              # OMIGA configs/config.py line 36 (see bcq.py: the ComaDICE trainers' lr is
                                  # main.py's, which runs only madice: not traceable)
    hidden: int = 256             # runner/cql/continuous.py line 13
    tau: float = 0.005            # runner/cql/continuous.py line 12
    cql_alpha: float = 1.0        # agents/continuous/cql.py line 91 (weight 1 on logsumexp - Q); CQL paper
                                  # gym: 5.0 / 10.0
    entropy: float = 0.2          # SAC entropy weight (fixed; CQL paper tunes it automatically); the authors'
                                  # actor is not SAC (cql.py line 46: -log pi(a_data) Q(a_data))
    n_samples: int = 10           # agents/continuous/cql.py line 13 (_cql_n_action = 10); CQL App. F: 10
    grad_clip: float = 1.0        # runner/cql/continuous.py line 17
    #: training length in the authors' runs (RunConfig.n_updates)
    TRAINING: ClassVar[str] = "MaMuJoCo: 25 epochs of |D|/128 updates (ComaDICE run.py line 25); SMAC: no code"


class CQL(Learner):
    name = "CQL"
    Config = CQLConfig

    def __init__(self, spec: LearnerSpec, cfg: CQLConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        self.q = LocalQ(spec.obs_dim, spec.action_dim, spec.n_agents, spec.discrete, cfg.hidden)
        self.mixer = HyperMixer(spec.state_dim, spec.n_agents)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.mixer_target = copy.deepcopy(self.mixer).requires_grad_(False)
        self.optim = torch.optim.Adam(list(self.q.parameters()) + list(self.mixer.parameters()), lr=cfg.lr)
        if not spec.discrete:
            self.actor = self.make_actor(cfg.hidden)
            self.optim_actor = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)

    def _penalty_continuous(self, obs, q_data):
        n, A = self.cfg.n_samples, self.spec.action_dim
        rep = obs.unsqueeze(0).expand(n, *obs.shape)
        uniform = torch.rand(n, *obs.shape[:-1], A, device=obs.device) * 2 - 1
        with torch.no_grad():
            pi_a, pi_logp = self.actor.sample(rep)
        q_u = self.q(rep, uniform) - A * math.log(0.5)            # density of U[-1,1]^A is 0.5^A
        q_p = self.q(rep, pi_a) - pi_logp
        lse = torch.logsumexp(torch.cat([q_u, q_p], 0), 0) - math.log(2 * n)
        return (lse - q_data).mean()

    def _update(self, b: Batch) -> dict:
        cfg = self.cfg
        q_data = self.q(b.obs, b.actions)
        q_tot = self.mixer(q_data, b.state)
        with torch.no_grad():
            if self.spec.discrete:
                a_next = masked_logits(self.q.all_actions(b.next_obs), b.next_avail).argmax(-1)  # double DQN
                next_q = self.q_target(b.next_obs, a_next)
            else:
                a_next, logp_next = self.actor.sample(b.next_obs)
                next_q = self.q_target(b.next_obs, a_next) - cfg.entropy * logp_next
            target = b.reward + cfg.gamma * (1 - b.done) * self.mixer_target(next_q, b.next_state)
        td = F.mse_loss(q_tot, target)
        if self.spec.discrete:
            all_q = masked_logits(self.q.all_actions(b.obs), b.avail)
            penalty = (torch.logsumexp(all_q, -1) - q_data).mean()
        else:
            penalty = self._penalty_continuous(b.obs, q_data)
        loss = td + cfg.cql_alpha * penalty
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.optim.param_groups[0]["params"], cfg.grad_clip)
        self.optim.step()
        out = {"td_loss": td.detach(), "cql_penalty": penalty.detach()}
        if not self.spec.discrete:
            a, logp = self.actor.sample(b.obs)
            actor_loss = (cfg.entropy * logp.mean(-1) - self.mixer(self.q(b.obs, a), b.state)).mean()
            self.optim_actor.zero_grad(set_to_none=True)
            actor_loss.backward()
            torch.nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.grad_clip)
            self.optim_actor.step()
            out["actor_loss"] = actor_loss.detach()
        soft_update(self.q_target, self.q, cfg.tau)
        soft_update(self.mixer_target, self.mixer, cfg.tau)
        return out

    @torch.no_grad()
    def act(self, obs, avail=None, deterministic=True):
        if self.spec.discrete:
            return masked_logits(self.q.all_actions(obs), avail).argmax(-1)
        return super().act(obs, avail, deterministic)
