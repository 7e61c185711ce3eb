"""AlberDICE (Matsunaga et al. 2023, "AlberDICE: addressing out-of-distribution joint actions
in offline MARL via alternating stationary distribution correction estimation").

Alternating best response: agent i optimises its own stationary distribution with the
other agents' policies pi_{-i} held fixed, regularised towards the data; its reward carries
a penalty for the others' deviation from the data (Sec. 4, Eq. 8-10, the sampled form of
the KL between pi_{-i} and the data policy of the others):

    e_i(s, a, s') = r + gamma (1 - done) nu_i(s') - nu_i(s)
                    - alpha * sum_{j != i} clip( log pi_j(a_j|o_j) - log mu_j(a_j|o_j) )
    L_i(nu_i, lambda_i) = (1 - gamma) E_{s0}[nu_i(s0)] + E_D[ alpha f*((e_i - lambda_i)/alpha) ] + lambda_i
    w_i = max(0, (f')^-1((e_i - lambda_i)/alpha))
    L_pi_i = - E_D[ w_i log pi_i(a_i | o_i) ]            (only agent k = step mod N moves: alternation)
    L_mu_j = - E_D[ log mu_j(a_j | o_j) ]                (the data policy, by BC)

How we extend the authors' code (matrix games, Bridge, RWARE; discrete only) to SMAC and
MaMuJoCo, and why:
- nu_i(s) reads the global state plus agent i's id, all agents in one batched network.
- The data policy of the others is factored per agent, mu_{-i} = prod_j mu_j(a_j|o_j) (their
  code fits an autoregressive mu(a_{-i}|s, a_i); with up to 20 agents here a factored model
  keeps one batched network).  The log-ratio is clipped to [-clip_log_ratio, clip_log_ratio].
- Policies are extracted by weighted BC with the per-agent ratio w_i, as ComaDICE and
  OptiDICE do (their code uses an information projection on resampled data); for continuous
  actions pi_j and mu_j are tanh Gaussians and log-densities are evaluated at data actions.
- Each agent keeps OptiDICE's normalisation multiplier lambda_i (E_D[w_i] = 1).
Defaults: alpha 1.0 (AlberDICE's matrix-game setting), soft chi-square, Adam 5e-4.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from algorithms.base import Batch, Learner, LearnerSpec, register
from algorithms.fdiv import F_DIVERGENCES, get_f_divergence
from algorithms.networks import AgentMLP, masked_logits


@dataclass
class AlberDICEConfig:
    alpha: float = 1.0               # regularisation weight (AlberDICE public code, matrix games)
    gamma: float = 0.99
    lr: float = 5e-4                 # Adam, the harness's common rate
    hidden: int = 256
    f_divergence: str = "soft_chi2"
    alternate: bool = True           # update one agent's policy per step, round robin (Sec. 4)
    clip_log_ratio: float = 10.0     # guard on log pi_j - log mu_j (numerical)
    grad_clip: float = 1.0

    def validate(self):
        if self.alpha <= 0:
            raise ValueError(f"AlberDICE alpha must be > 0, got {self.alpha}")
        if self.f_divergence not in F_DIVERGENCES:
            raise ValueError(f"unknown f_divergence {self.f_divergence!r}; valid: {', '.join(F_DIVERGENCES)}")


@register
class AlberDICE(Learner):
    name = "AlberDICE"
    Config = AlberDICEConfig

    def __init__(self, spec: LearnerSpec, cfg: AlberDICEConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        self.fdiv = get_f_divergence(cfg.f_divergence)
        self.nu = AgentMLP(spec.state_dim, 1, spec.n_agents, cfg.hidden)
        self.lam = nn.Parameter(torch.zeros(spec.n_agents))
        self.actor = self.make_actor(cfg.hidden)
        self.data_policy = self.make_actor(cfg.hidden)
        self.groups = {"nu": list(self.nu.parameters()) + [self.lam], "actor": list(self.actor.parameters()),
                       "mu": list(self.data_policy.parameters())}
        self.optim = torch.optim.Adam([p for g in self.groups.values() for p in g], lr=cfg.lr)

    def _nu(self, state):
        rep = state.unsqueeze(-2).expand(*state.shape[:-1], self.spec.n_agents, state.shape[-1])
        return self.nu(rep).squeeze(-1)                                        # [B, N]

    def _log_prob(self, net, b):
        if self.spec.discrete:
            logp = torch.log_softmax(masked_logits(net(b.obs), b.avail), -1)
            return logp.gather(-1, b.actions.unsqueeze(-1)).squeeze(-1)
        return net.log_prob(b.obs, b.actions)

    def _update(self, b: Batch) -> dict:
        cfg, N = self.cfg, self.spec.n_agents
        log_pi = self._log_prob(self.actor, b)                                 # [B, N]
        log_mu = self._log_prob(self.data_policy, b)
        with torch.no_grad():
            ratio = (log_pi - log_mu).clamp(-cfg.clip_log_ratio, cfg.clip_log_ratio)
            others = ratio.sum(-1, keepdim=True) - ratio                       # sum over j != i
        nu, nu_next, nu0 = self._nu(b.state), self._nu(b.next_state), self._nu(b.init_state)
        e = b.reward.unsqueeze(-1) + cfg.gamma * (1 - b.done).unsqueeze(-1) * nu_next - nu - cfg.alpha * others
        y = (e - self.lam) / cfg.alpha
        nu_loss = ((1 - cfg.gamma) * nu0.mean(0) + (cfg.alpha * self.fdiv.conjugate(y)).mean(0) + self.lam).sum()
        with torch.no_grad():
            w = self.fdiv.ratio(y)                                             # [B, N]
            if cfg.alternate:
                turn = torch.zeros(N, device=w.device)
                turn[self.n_updates % N] = 1.0
                w = w * turn
        pi_loss = -(w * log_pi).mean()
        mu_loss = -log_mu.mean()
        self.optim.zero_grad(set_to_none=True)
        (nu_loss + pi_loss + mu_loss).backward()
        for params in self.groups.values():
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.optim.step()
        return {"nu_loss": nu_loss.detach(), "pi_loss": pi_loss.detach(), "mu_loss": mu_loss.detach()}
