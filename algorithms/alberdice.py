"""AlberDICE (Matsunaga et al. 2023, "AlberDICE: addressing out-of-distribution joint actions
in offline MARL via alternating stationary distribution correction estimation").

Alternating best response: agent i optimises its own stationary distribution with the other
agents' policies pi_{-i} held fixed, regularised towards the data.  Its reward carries the
penalty alpha KL(pi_{-i}(.|s) || mu(.|s, a_i)) for the others' deviation from the data, and its
data distribution is the dataset's re-weighted to the others' current policies,
d^D(s, a_i) pi_{-i}(a_{-i}|s), i.e. each row weighted by rho_i = prod_{j != i} pi_j(a_j|o_j) /
mu_j(a_j|o_j) at the data actions (paper Sec. 4; authors' code
pymarl-master/src/learners/alberdice_learner.py lines 115-133):

    KL_i(s)  = sum_{j != i} (1/K) sum_k [ log pi_j(a_j^k|o_j) - log mu_j(a_j^k|o_j) ],  a_j^k ~ pi_j(.|o_j)
               (K = 16 samples, lines 115-117)
    rho_i    = min( prod_{j != i} pi_j(a_j|o_j) / mu_j(a_j|o_j), rho_max ) at the data actions
               (clipped at 100, lines 122-125), self-normalised over the batch
    e_i      = r + gamma (1 - done) nu_i(s') - nu_i(s) - alpha KL_i(s)                  (line 119)
    L_i(nu_i, lambda_i) = (1 - gamma) E_{s0}[nu_i(s0)] + E_D[ rho_i alpha f*((e_i - lambda_i)/alpha) ] + lambda_i
    w_i      = max(0, (f')^-1((e_i - lambda_i)/alpha))
    L_pi_i   = - E_D[ rho_i w_i log pi_i(a_i | o_i) ]      (only agent k = step mod N moves: alternation)
    L_mu_j   = - E_D[ log mu_j(a_j | o_j) ]                 (the data policy, by BC)

The KL term is a penalty (it lowers e_i where the others' policies leave the data) and depends
on the state only; the importance weights rho_i carry the others' current actions into agent
i's problem.  (An earlier form here put -alpha sum_{j != i}(log pi_j - log mu_j) at the *data*
actions into e_i: in expectation +alpha KL(mu || pi), a bonus, with no re-weighting;
``tests/test_alberdice.py`` shows it anti-coordinates where this estimator coordinates.)

What remains simplified against the authors' code, and why:
- The data policy of the others is factored, mu(a_{-i}|s, a_i) ~ prod_j mu_j(a_j|o_j) (their
  code fits an autoregressive mu(a_{-i}|s, a_i), lines 77 and 92; with up to 20 agents a factored
  model keeps one batched network), so KL_i and rho_i ignore the data's correlation between
  a_i and a_{-i}.
- Rows are weighted by rho_i, not resampled in proportion to it (lines 127-128: the same
  expectation, lower variance per batch); the weights are normalised to mean 1 in the batch.
- Policies are extracted by weighted BC with rho_i w_i, as OptiDICE's ``wbc`` option; the
  authors use an I-projection on an e-network (lines 140-162: e_i(s, a_i) regressed on e_i
  with a CQL term of weight 0.1, then max_pi E_pi[e_i] - alpha KL(pi_i || mu_i)).
- alpha is fixed; the authors anneal it geometrically from 5 to 0.001 over training
  (line 59; config/algs/alberdice.yaml lines 14-15).
- The f-divergence is a choice (soft chi-square by default, with a normalisation multiplier
  lambda_i); the authors' nu loss is the KL closed form alpha log E[exp(e_i/alpha)] (lines
  131-133).  Their gradient penalty on nu (coefficient 0.1, default.yaml line 90) is omitted.
- Episode ends: (1 - done) bootstraps; the authors append an absorbing state.
- nu_i(s) reads the global state plus agent i's id, all agents in one batched network; for
  continuous actions pi_j and mu_j are tanh Gaussians (the authors' code is discrete only).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from algorithms.torch_base import Batch, Learner, LearnerSpec
from algorithms.torch_fdiv import get_f_divergence
from algorithms.torch_networks import AgentMLP, masked_logits

REWARD_TO_GO = ("never", "smac", "always")


@dataclass
class AlberDICEConfig:
    # Sources: dematsunaga/alberdice, pymarl-master/src/config/algs/alberdice.yaml (yaml) and
    # config/default.yaml (default), learners/alberdice_learner.py (learner).  The ComaDICE paper
    # does not state the settings of its AlberDICE runs on SMAC / MaMuJoCo (no code for them is
    # public), so these are the AlberDICE authors' own (matrix games, Bridge, warehouse).
    alpha: float = 1.0               # fixed KL weight; authors anneal 5 -> 0.001 (yaml lines 14-15, learner
                                     # line 59): no single value to copy, 1.0 sits inside that range
    gamma: float = 0.99              # default.yaml line 42
    lr: float = 1e-4                 # policies and data policies (yaml line 12); nu (nu_lr, yaml line 13)
    hidden: int = 256                # harness width; authors 128 (default.yaml line 53 rnn_hidden_dim, used
                                     # by their MLP critics and sep_mlp agents)
    f_divergence: str = "soft_chi2"  # authors: KL closed form (learner lines 131-133); see docstring
    alternate: bool = True           # one agent's policy per step, round robin (learner lines 47-53)
    kl_samples: int = 16             # a_{-i} ~ pi_{-i} samples for the KL estimate (learner line 116)
    ratio_max: float = 100.0         # clip of prod_j pi_j/mu_j (other_policy_ratio_max, yaml line 26)
    clip_log_ratio: float = 10.0     # numerical guard on each sampled log pi_j - log mu_j (ours)
    grad_clip: float = 1.0           # harness; authors' AlberDICE steps are unclipped (learner lines 136-171)
    reward_to_go: str = "never"      # no AlberDICE SMAC code exists; "smac" / "always" to measure the
                                     # ComaDICE code's SMAC reward-to-go (runner/utils.py line 22) here
    #: training length in the authors' runs (not a learner setting: RunConfig.n_updates)
    TRAINING: ClassVar[str] = ("t_max 3.1M env steps of batch 32 episodes (default.yaml lines 15, 43); "
                               "warehouse 10.05M (config/envs/warehouse.yaml line 18)")

    def validate(self):
        if self.reward_to_go not in REWARD_TO_GO:
            raise ValueError(f"reward_to_go must be one of {', '.join(REWARD_TO_GO)}, got {self.reward_to_go!r}")


def pick_reward(b: Batch, mode: str, discrete: bool) -> torch.Tensor:
    """The batch's reward, or its undiscounted reward-to-go ("smac": for discrete-action
    tasks only, as the authors' SMAC loaders; "always"; "never")."""
    if mode == "always" or (mode == "smac" and discrete):
        if b.reward_to_go is None:
            raise ValueError("reward_to_go requested but the batch has no reward_to_go")
        return b.reward_to_go
    return b.reward


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

    def _log_prob(self, net, obs, actions, avail):
        if self.spec.discrete:
            logp = torch.log_softmax(masked_logits(net(obs), avail), -1)
            return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return net.log_prob(obs, actions)

    @staticmethod
    def _sum_others(x):
        """[B, N] -> [B, N]: for each agent i, the sum over j != i."""
        return x.sum(-1, keepdim=True) - x

    @torch.no_grad()
    def other_agents(self, b: Batch, log_pi, log_mu):
        """The others' KL penalty KL_i(s) and the row weights rho_i, both [B, N] (see module doc).
        ``log_pi`` / ``log_mu``: log-probabilities of the data actions [B, N]."""
        cfg, K = self.cfg, self.cfg.kl_samples
        if self.spec.discrete:
            logits_pi = masked_logits(self.actor(b.obs), b.avail)
            lp_pi = torch.log_softmax(logits_pi, -1)
            lp_mu = torch.log_softmax(masked_logits(self.data_policy(b.obs), b.avail), -1)
            a = torch.distributions.Categorical(logits=logits_pi).sample((K,))            # [K, B, N]
            sampled = (lp_pi.expand(K, *lp_pi.shape).gather(-1, a.unsqueeze(-1))
                       - lp_mu.expand(K, *lp_mu.shape).gather(-1, a.unsqueeze(-1))).squeeze(-1)
        else:
            rep = b.obs.unsqueeze(0).expand(K, *b.obs.shape)
            a, lp_a = self.actor.sample(rep)                                              # [K, B, N, A]
            sampled = lp_a - self.data_policy.log_prob(rep, a)
        per_agent = sampled.clamp(-cfg.clip_log_ratio, cfg.clip_log_ratio).mean(0)      # ~ KL(pi_j || mu_j)
        kl = self._sum_others(per_agent)
        log_rho = self._sum_others(log_pi - log_mu).clamp(max=math.log(cfg.ratio_max))
        rho = torch.exp(log_rho - log_rho.max(0, keepdim=True).values)                  # overflow-safe
        rho = rho / rho.mean(0, keepdim=True)
        return kl, rho

    def _update(self, b: Batch) -> dict:
        cfg, N = self.cfg, self.spec.n_agents
        log_pi = self._log_prob(self.actor, b.obs, b.actions, b.avail)                  # [B, N]
        log_mu = self._log_prob(self.data_policy, b.obs, b.actions, b.avail)
        kl, rho = self.other_agents(b, log_pi.detach(), log_mu.detach())
        reward = pick_reward(b, cfg.reward_to_go, self.spec.discrete)
        nu, nu_next, nu0 = self._nu(b.state), self._nu(b.next_state), self._nu(b.init_state)
        e = reward.unsqueeze(-1) + cfg.gamma * (1 - b.done).unsqueeze(-1) * nu_next - nu - cfg.alpha * kl
        y = (e - self.lam) / cfg.alpha
        nu_loss = ((1 - cfg.gamma) * nu0.mean(0) + (rho * cfg.alpha * self.fdiv.conjugate(y)).mean(0)
                   + self.lam).sum()
        with torch.no_grad():
            w = self.fdiv.ratio(y) * rho                                       # [B, N]
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
        return {"nu_loss": nu_loss.detach(), "pi_loss": pi_loss.detach(), "mu_loss": mu_loss.detach(),
                "kl_others": kl.mean(), "rho_max": rho.max()}
