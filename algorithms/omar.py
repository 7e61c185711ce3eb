"""OMAR (Pan et al. 2022, "Plan better amid conservatism: offline multi-agent RL with
actor rectification").

Independent conservative critics (CQL per agent, no mixer, each regressed on the team
reward) and decentralised actors whose policy-gradient step is mixed with a zeroth-order
search for a better action under the critic (Sec. 4):

    y_i    = r + gamma (1 - done) q'_i(o'_i, pi'_i(o'_i))
    L_q_i  = (q_i(o_i, a_i) - y_i)^2 + cql_alpha (logsumexp_a q_i(o_i, a) - q_i(o_i, a_i))
    a*_i   = argmax over sampled candidates of q_i(o_i, .)           (the rectifying action)
    L_pi_i = (1 - omar_coe) * (-q_i(o_i, pi_i(o_i))) + omar_coe * ||pi_i(o_i) - a*_i||^2

Continuous: deterministic tanh actors (OMAR builds on MATD3); a*_i from OMAR's
cross-entropy-style iterations: sample around mu (initially pi_i(o_i)) with std sigma,
keep the elite, refit mu / sigma, ``omar_iters`` times.  The conservative logsumexp uses
uniform and policy-neighbourhood samples.
Discrete (our extension: OMAR has no discrete form): a softmax actor; the policy-gradient
term is -E_{a~pi_i}[q_i(o_i, a)]; a*_i is the best of ``omar_num_samples`` actions sampled
from pi_i (available ones only) by q_i, and the rectification term is the cross entropy
-log pi_i(a*_i | o_i).

Defaults (each cited in ``OMARConfig``): omar_coe 0.7, omar_iters 3, 20 samples, 5 elites,
initial sigma 2.0, cql_alpha 1.0, Adam 5e-4, tau 0.005.  Departures: the search starts at the
policy's action (OMAR: mean 0, main.py line 214) and does not keep the previous elites among
the candidates; the critics are independent per agent as OMAR's (the ComaDICE code's MaMuJoCo
OMAR mixes them, agents/continuous/omar.py lines 119-125); the CEM refits its mean and std
every iteration as OMAR's maddpg.py lines 278-280 (the ComaDICE code samples from the initial
mean and std every time, omar.py lines 62 and 80-84).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from algorithms.torch_base import Batch, Learner, LearnerSpec
from algorithms.torch_networks import AgentMLP, LocalQ, masked_logits, soft_update


@dataclass
class OMARConfig:
    # Sources: ling-pan/OMAR (main.py, algorithms/maddpg.py; MPE and HalfCheetah) and vietbt/ComaDICE
    # agents/continuous/omar.py (the paper's MaMuJoCo OMAR).  No SMAC OMAR code is public.
    gamma: float = 0.99           # ComaDICE runner/omar/continuous.py line 11 (OMAR main.py line 194: 0.95, MPE)
    lr: float = 5e-4              # OMIGA configs/config.py line 36 (OMAR main.py line 191: 0.01, MPE; the
                                  # ComaDICE trainers' lr is main.py's, which runs only madice: not traceable)
    hidden: int = 256             # ComaDICE runner/omar/continuous.py line 13 (OMAR main.py line 190: 64)
    tau: float = 0.005            # ComaDICE runner/omar/continuous.py line 12 (OMAR main.py line 192: 0.01)
    cql_alpha: float = 1.0        # OMAR main.py line 206 and maddpg.py lines 489-492 (HalfCheetah: 1.0 medium /
                                  # random, 5.0 expert / medium-replay); ComaDICE omar.py line 152: 1
    omar_coe: float = 0.7         # OMAR maddpg.py line 491 (HalfCheetah medium 0.7; expert 0.5, medium-replay
                                  # 0.9); ComaDICE omar.py line 14: 0.5
    omar_iters: int = 3           # OMAR main.py line 213; ComaDICE omar.py line 16: 2
    omar_num_samples: int = 20    # ComaDICE omar.py line 17 (OMAR main.py line 216: 10)
    omar_num_elites: int = 5      # ComaDICE omar.py line 18 (OMAR main.py line 217: 10, with the previous
                                  # elites kept among the candidates, maddpg.py lines 264-270)
    omar_sigma: float = 2.0       # OMAR main.py line 215; ComaDICE omar.py line 13
    grad_clip: float = 1.0        # ComaDICE runner/omar/continuous.py line 17
    #: training length in the authors' runs (RunConfig.n_updates)
    TRAINING: ClassVar[str] = ("MaMuJoCo: 25 epochs of |D|/128 updates (ComaDICE run.py line 25); OMAR: 1e5 "
                               "steps (main.py line 203); SMAC: no code")


class OMAR(Learner):
    name = "OMAR"
    Config = OMARConfig

    def __init__(self, spec: LearnerSpec, cfg: OMARConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        self.q = LocalQ(spec.obs_dim, spec.action_dim, spec.n_agents, spec.discrete, cfg.hidden)
        self.actor = AgentMLP(spec.obs_dim, spec.action_dim, spec.n_agents, cfg.hidden)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.optim = torch.optim.Adam(self.q.parameters(), lr=cfg.lr)
        self.optim_actor = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)

    def _pi(self, net, obs):  # continuous deterministic policy
        return torch.tanh(net(obs))

    def _rectified_continuous(self, obs):
        cfg = self.cfg
        with torch.no_grad():
            mu = self._pi(self.actor, obs)
            sigma = torch.full_like(mu, cfg.omar_sigma)
            for _ in range(cfg.omar_iters):
                cand = (mu.unsqueeze(0) + sigma.unsqueeze(0) * torch.randn(cfg.omar_num_samples, *mu.shape,
                                                                          device=mu.device)).clamp(-1, 1)
                vals = self.q(obs.unsqueeze(0).expand(cfg.omar_num_samples, *obs.shape), cand)   # [S, B, N]
                elite = vals.topk(cfg.omar_num_elites, dim=0).indices                           # [E, B, N]
                picked = cand.gather(0, elite.unsqueeze(-1).expand(-1, *cand.shape[1:]))
                mu, sigma = picked.mean(0), picked.std(0) + 1e-3
            best = vals.argmax(0)
            return cand.gather(0, best.unsqueeze(0).unsqueeze(-1).expand(1, *cand.shape[1:])).squeeze(0)

    def _update(self, b: Batch) -> dict:
        cfg = self.cfg
        q_data = self.q(b.obs, b.actions)                                          # [B, N]
        with torch.no_grad():
            if self.spec.discrete:
                probs = torch.softmax(masked_logits(self.actor_target(b.next_obs), b.next_avail), -1)
                next_q = (probs * self.q_target.all_actions(b.next_obs)).sum(-1)
            else:
                next_q = self.q_target(b.next_obs, self._pi(self.actor_target, b.next_obs))
            target = b.reward.unsqueeze(-1) + cfg.gamma * (1 - b.done).unsqueeze(-1) * next_q
        td = F.mse_loss(q_data, target)
        if self.spec.discrete:
            lse = torch.logsumexp(masked_logits(self.q.all_actions(b.obs), b.avail), -1)
        else:
            n = cfg.omar_num_samples // 2
            rep = b.obs.unsqueeze(0).expand(n, *b.obs.shape)
            uniform = torch.rand(n, *b.actions.shape, device=b.obs.device) * 2 - 1
            with torch.no_grad():
                near = (self._pi(self.actor, rep) + 0.1 * torch.randn_like(uniform)).clamp(-1, 1)
            lse = torch.logsumexp(torch.cat([self.q(rep, uniform), self.q(rep, near)], 0), 0) - math.log(2 * n)
        penalty = (lse - q_data).mean()
        self.optim.zero_grad(set_to_none=True)
        (td + cfg.cql_alpha * penalty).backward()
        torch.nn.utils.clip_grad_norm_(self.q.parameters(), cfg.grad_clip)
        self.optim.step()

        if self.spec.discrete:
            logits = masked_logits(self.actor(b.obs), b.avail)
            probs = torch.softmax(logits, -1)
            q_all = self.q.all_actions(b.obs).detach()
            pg = -(probs * q_all).sum(-1)
            with torch.no_grad():
                cand = torch.multinomial(probs.flatten(0, 1), cfg.omar_num_samples, replacement=True)
                cand = cand.view(*probs.shape[:-1], -1)                               # [B, N, S]
                best = cand.gather(-1, q_all.gather(-1, cand).argmax(-1, keepdim=True)).squeeze(-1)
            rect = -torch.log_softmax(logits, -1).gather(-1, best.unsqueeze(-1)).squeeze(-1)
        else:
            a = self._pi(self.actor, b.obs)
            pg = -self.q(b.obs, a)
            rect = (a - self._rectified_continuous(b.obs)).pow(2).sum(-1)
        actor_loss = ((1 - cfg.omar_coe) * pg + cfg.omar_coe * rect).mean()
        self.optim_actor.zero_grad(set_to_none=True)
        actor_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.grad_clip)
        self.optim_actor.step()
        soft_update(self.q_target, self.q, cfg.tau)
        soft_update(self.actor_target, self.actor, cfg.tau)
        return {"td_loss": td.detach(), "cql_penalty": penalty.detach(), "actor_loss": actor_loss.detach()}

    @torch.no_grad()
    def act(self, obs, avail=None, deterministic=True):
        if self.spec.discrete:
            logits = masked_logits(self.actor(obs), avail)
            return logits.argmax(-1) if deterministic else torch.distributions.Categorical(logits=logits).sample()
        return self._pi(self.actor, obs)
