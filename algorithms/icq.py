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

Defaults: the authors' code for each action type (see ``ICQConfig``): discrete (ICQ-MA,
SMAC) beta_q 1000, beta_pi 0.1, critic rate 1e-4; continuous (the ComaDICE code's MaMuJoCo
ICQ) beta_q 10, beta_pi 100.  The batch-softmax weights are multiplied by the batch size as
ICQ-MA does (offpg_learner.py lines 86, 126); the ComaDICE code's continuous ICQ omits that
factor (agents/continuous/icq.py lines 50-52, 83), and also uses clipped double Q and a
TD(lambda)-style decay (lines 46, 59-70), which we do not (algorithms/README.md).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from algorithms.torch_base import Batch, Learner, LearnerSpec
from algorithms.torch_networks import HyperMixer, LocalQ, masked_logits, soft_update


@dataclass
class ICQConfig:
    # Sources: YiqinYang/ICQ ICQ-MA (SMAC: src/learners/offpg_learner.py, src/config/algs/offpg_smac.yaml,
    # src/config/default.yaml) and vietbt/ComaDICE agents/continuous/icq.py (the paper's MaMuJoCo ICQ).
    # Temperatures left None take the value of the authors' code for the task's action type.
    gamma: float = 0.99           # ICQ-MA default.yaml line 30; ComaDICE runner/icq/continuous.py line 11
    lr: float = 5e-4              # actor: ICQ-MA offpg_smac.yaml line 25; MaMuJoCo: OMIGA configs/config.py
                                  # line 36 (the ComaDICE trainers' lr is main.py's: not traceable)
    critic_lr: float = None       # None: 1e-4 discrete (offpg_smac.yaml line 26), lr continuous (one rate in
                                  # ComaDICE runner/icq/continuous.py line 16)
    hidden: int = 256             # ComaDICE runner/icq/continuous.py line 13 (ICQ-MA: rnn 64, default.yaml line 41)
    tau: float = 0.005            # ComaDICE runner/icq/continuous.py line 12 (ICQ-MA: hard update every 600
                                  # critic steps, offpg_smac.yaml line 21)
    beta_q: float = None          # critic temperature; None: 1000 discrete (offpg_learner.py line 123), 10
                                  # continuous (ComaDICE icq.py line 12, `_alpha`)
    beta_pi: float = None         # actor temperature; None: 0.1 discrete (offpg_learner.py line 83), 100
                                  # continuous (ComaDICE icq.py line 13, `_beta`)
    n_samples: int = 10           # policy samples for E_pi[q] with continuous actions (ours)
    grad_clip: float = 1.0        # ComaDICE runner/icq/continuous.py line 17 (ICQ-MA: 20, default.yaml line 37)
    #: training length in the authors' runs (RunConfig.n_updates)
    TRAINING: ClassVar[str] = ("MaMuJoCo: 25 epochs of |D|/128 updates (ComaDICE run.py line 25); ICQ-MA: "
                               "t_max 10.05M (config/envs/sc2.yaml) of off-policy batches of 32 episodes")

    def resolved(self, discrete: bool) -> "ICQConfig":
        """The temperatures and critic rate of the authors' code for this action type."""
        return dataclasses.replace(
            self, beta_q=self.beta_q if self.beta_q is not None else (1000.0 if discrete else 10.0),
            beta_pi=self.beta_pi if self.beta_pi is not None else (0.1 if discrete else 100.0),
            critic_lr=self.critic_lr if self.critic_lr is not None else (1e-4 if discrete else self.lr))


class ICQ(Learner):
    name = "ICQ"
    Config = ICQConfig

    def __init__(self, spec: LearnerSpec, cfg: ICQConfig, device="cpu"):
        cfg = cfg.resolved(spec.discrete)
        super().__init__(spec, cfg, device)
        self.q = LocalQ(spec.obs_dim, spec.action_dim, spec.n_agents, spec.discrete, cfg.hidden)
        self.mixer = HyperMixer(spec.state_dim, spec.n_agents)
        self.actor = self.make_actor(cfg.hidden)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.mixer_target = copy.deepcopy(self.mixer).requires_grad_(False)
        self.optim = torch.optim.Adam(list(self.q.parameters()) + list(self.mixer.parameters()), lr=cfg.critic_lr)
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
