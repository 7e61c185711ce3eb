"""ICQ (Yang et al. 2021, "Believe what you see: implicit constraint approach for offline
multi-agent RL"), with value decomposition over agents.

Only actions in the data are ever evaluated.  The critic's target replaces the max over
next actions by an expectation under the implicitly constrained policy
pi*(a'|s') ~ mu(a'|s') exp(Q(s', a') / beta), estimated on the batch with the data's next
joint actions (Sec. 4.1, Eq. 8, with the normaliser Z(s') estimated by the batch mean):

    Q_tot(s, a) = M_s[q_i(o_i, a_i)]
    w_k   = softmax_k( Q'_tot(s'_k, a'_k) / beta_q ) * B           (k over the batch)
    y_k   = r_k + gamma (1 - done_k) w_k Q'_tot(s'_k, a'_k)
    L_q   = mean_k (Q_tot(s_k, a_k) - y_k)^2

The actor (Sec. 4.2, decomposed): advantage-weighted regression of each agent's policy,
with the advantage of its local critic against its policy's expected value and weights
normalised over the batch:

    A_i   = q_i(o_i, a_i) - E_{a~pi_i}[ q_i(o_i, a) ]
    L_pi  = - mean_k softmax_k( A_i / beta_pi ) * B * log pi_i(a_i | o_i)

Defaults (ICQ's SMAC settings): beta_q 1000 ("lambda" of the critic, the public code's
default), beta_pi 0.1, Adam 5e-4, target update tau 0.005.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from algorithms.base import Batch, Learner, LearnerSpec, register
from algorithms.networks import HyperMixer, LocalQ, masked_logits, soft_update


@dataclass
class ICQConfig:
    gamma: float = 0.99
    lr: float = 5e-4              # Adam, the harness's common rate
    hidden: int = 256
    tau: float = 0.005
    beta_q: float = 1000.0        # critic temperature (ICQ public code's default)
    beta_pi: float = 0.1          # actor temperature (ICQ, Sec. 5 SMAC settings)
    n_samples: int = 10           # policy samples for E_pi[q] with continuous actions
    grad_clip: float = 1.0

    def validate(self):
        if self.beta_q <= 0 or self.beta_pi <= 0:
            raise ValueError("ICQ temperatures beta_q and beta_pi must be > 0")


@register
class ICQ(Learner):
    name = "ICQ"
    Config = ICQConfig

    def __init__(self, spec: LearnerSpec, cfg: ICQConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        self.q = LocalQ(spec.obs_dim, spec.action_dim, spec.n_agents, spec.discrete, cfg.hidden)
        self.mixer = HyperMixer(spec.state_dim, spec.n_agents)
        self.actor = self.make_actor(cfg.hidden)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.mixer_target = copy.deepcopy(self.mixer).requires_grad_(False)
        self.optim = torch.optim.Adam(list(self.q.parameters()) + list(self.mixer.parameters()), lr=cfg.lr)
        self.optim_actor = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)

    def _expected_q(self, obs, avail):
        """E_{a ~ pi_i}[q_i(o_i, a)] per agent: [B, N]."""
        if self.spec.discrete:
            probs = torch.softmax(masked_logits(self.actor(obs), avail), -1)
            return (probs * self.q.all_actions(obs)).sum(-1)
        rep = obs.unsqueeze(0).expand(self.cfg.n_samples, *obs.shape)
        a, _ = self.actor.sample(rep)
        return self.q(rep, a).mean(0)

    def _update(self, b: Batch) -> dict:
        cfg = self.cfg
        B = b.reward.shape[0]
        q_data = self.q(b.obs, b.actions)
        q_tot = self.mixer(q_data, b.state)
        with torch.no_grad():
            next_tot = self.mixer_target(self.q_target(b.next_obs, b.next_actions), b.next_state)
            w = torch.softmax(next_tot / cfg.beta_q, 0) * B
            target = b.reward + cfg.gamma * (1 - b.done) * w * next_tot
        q_loss = F.mse_loss(q_tot, target)
        self.optim.zero_grad(set_to_none=True)
        q_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.optim.param_groups[0]["params"], cfg.grad_clip)
        self.optim.step()

        with torch.no_grad():
            adv = q_data.detach() - self._expected_q(b.obs, b.avail)            # [B, N]
            weight = torch.softmax(adv / cfg.beta_pi, 0) * B
        pi_loss = -(weight * self.actor_log_prob(b.obs, b.actions, b.avail)).mean()
        self.optim_actor.zero_grad(set_to_none=True)
        pi_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.grad_clip)
        self.optim_actor.step()
        soft_update(self.q_target, self.q, cfg.tau)
        soft_update(self.mixer_target, self.mixer, cfg.tau)
        return {"q_loss": q_loss.detach(), "pi_loss": pi_loss.detach()}
