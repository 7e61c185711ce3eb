"""BCQ (Fujimoto et al. 2019, "Off-policy deep RL without exploration"), multi-agent form.

Local critics q_i, mixed by the non-negative HyperMixer (as the OMIGA authors' multi-agent
baselines: value decomposition over agents), trained by TD on the mixed value.

Discrete actions (BCQ-discrete, Fujimoto et al. 2019b, "Benchmarking batch deep RL
algorithms"): an imitation head G_i(a | o_i) per agent restricts the argmax:

    A_i(o) = { a : avail(a) and G_i(a|o) / max_a' G_i(a'|o) > tau }
    y   = r + gamma (1 - done) M'_s'[ q'_i(o'_i, argmax_{a in A_i(o')} q_i(o'_i, a)) ]
    L   = (M_s[q_i(o_i, a_i)] - y)^2 + CE(G_i(. | o_i), a_i)
    act: argmax_{a in A_i(o)} q_i(o, a)

Continuous actions (BCQ): a conditional VAE per agent (shared weights) models the data's
actions, a perturbation actor xi adds at most Phi to a decoded action, and actions are
chosen among n decoded-and-perturbed candidates by q_i:

    L_vae = ||a - D(o, z)||^2 + 0.5 KL(N(mu, sigma) || N(0, 1)),   z ~ E(o, a)
    y     = r + gamma (1 - done) M'_s'[ max_k q'_i(o', a'_k) ],    a'_k = xi'(o', D(o', z_k))
    L_q   = (M_s[q_i(o, a)] - y)^2
    L_xi  = -M_s[ q_i(o, xi(o, D(o, z))) ]

Defaults: tau 0.3 (BCQ-discrete), Phi 0.05, 10 candidates, lambda-free target (the clipped
double-Q of BCQ, lambda 0.75 -- BCQ paper Eq. 13 and the ComaDICE code's MaMuJoCo BCQ,
agents/continuous/bcq.py line 77 -- is omitted: one critic per agent, mixed), Adam 5e-4
(the harness's common rate), hidden 256, tau_target 0.005.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from algorithms.torch_base import Batch, Learner, LearnerSpec
from algorithms.torch_networks import AgentMLP, HyperMixer, LocalQ, masked_logits, soft_update


@dataclass
class BCQConfig:
    # Sources: vietbt/ComaDICE runner/bcq/continuous.py (config, lines 10-20) and agents/continuous/bcq.py,
    # utils.py (MaMuJoCo; the same config as OMIGA's configs/config.py).  No SMAC BCQ code is public
    # (the paper's SMAC BCQ numbers cannot be traced to a setting).
    gamma: float = 0.99          # runner/bcq/continuous.py line 11
    lr: float = 5e-4             # OMIGA configs/config.py line 36; the ComaDICE trainers take lr from main.py
                                 # (--lr 1e-4, line 94) but main.py only runs madice (line 76): not traceable
    hidden: int = 256            # runner/bcq/continuous.py line 13 (critic, perturbation actor); their VAE
                                 # uses 64 (line 15, vae_hidden_sizes); BCQ paper: 750 for the VAE
    tau: float = 0.005           # runner/bcq/continuous.py line 12; BCQ paper 0.005
    threshold: float = 0.3       # BCQ-discrete action-filter threshold (Fujimoto et al. 2019b)
    phi: float = 0.05            # agents/continuous/utils.py line 25; BCQ paper Sec. 4
    n_candidates: int = 10       # target: agents/continuous/bcq.py line 69 (10); acting: line 136 uses 100
    grad_clip: float = 1.0       # runner/bcq/continuous.py line 18
    #: training length in the authors' runs (RunConfig.n_updates)
    TRAINING: ClassVar[str] = "MaMuJoCo: 25 epochs of |D|/128 updates (ComaDICE run.py line 25); SMAC: no code"


class BCQ(Learner):
    name = "BCQ"
    Config = BCQConfig

    def __init__(self, spec: LearnerSpec, cfg: BCQConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        N, O, A, H = spec.n_agents, spec.obs_dim, spec.action_dim, cfg.hidden
        self.q = LocalQ(O, A, N, spec.discrete, H)
        self.mixer = HyperMixer(spec.state_dim, N)
        if spec.discrete:
            self.imitation = AgentMLP(O, A, N, H)
            params = list(self.imitation.parameters())
        else:
            self.latent = 2 * A
            self.encoder = AgentMLP(O + A, 2 * self.latent, N, H)
            self.decoder = AgentMLP(O + self.latent, A, N, H)
            self.perturb = AgentMLP(O + A, A, N, H)
            self.perturb_target = copy.deepcopy(self.perturb).requires_grad_(False)
            params = list(self.encoder.parameters()) + list(self.decoder.parameters())
            self.optim_actor = torch.optim.Adam(self.perturb.parameters(), lr=cfg.lr)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.mixer_target = copy.deepcopy(self.mixer).requires_grad_(False)
        self.optim = torch.optim.Adam(list(self.q.parameters()) + list(self.mixer.parameters()) + params, lr=cfg.lr)

    # -- discrete ------------------------------------------------------------------------
    def _allowed(self, obs, avail):
        probs = torch.softmax(masked_logits(self.imitation(obs), avail), -1)
        return (probs / probs.max(-1, keepdim=True).values > self.cfg.threshold) & avail

    # -- continuous ----------------------------------------------------------------------
    def _decode(self, obs, z=None):
        if z is None:
            z = torch.randn(*obs.shape[:-1], self.latent, device=obs.device).clamp(-0.5, 0.5)
        return torch.tanh(self.decoder(torch.cat([obs, z], -1)))

    def _perturbed(self, net, obs, a):
        return (a + self.cfg.phi * torch.tanh(net(torch.cat([obs, a], -1)))).clamp(-1, 1)

    def _best_candidate(self, q_net, perturb_net, obs):
        """Per agent, the best of n decoded-and-perturbed actions: actions [..., N, A], values [..., N]."""
        n = self.cfg.n_candidates
        rep = obs.unsqueeze(0).expand(n, *obs.shape)
        cand = self._perturbed(perturb_net, rep, self._decode(rep))
        vals = q_net(rep, cand)                                   # [n, ..., N]
        best = vals.argmax(0)
        idx = best.unsqueeze(0).unsqueeze(-1).expand(1, *cand.shape[1:])
        return cand.gather(0, idx).squeeze(0), vals.max(0).values

    def _update(self, b: Batch) -> dict:
        cfg = self.cfg
        q_tot = self.mixer(self.q(b.obs, b.actions), b.state)
        with torch.no_grad():
            if self.spec.discrete:
                allowed = self._allowed(b.next_obs, b.next_avail)
                a_next = masked_logits(self.q.all_actions(b.next_obs), allowed).argmax(-1)
                next_q = self.q_target(b.next_obs, a_next)
            else:
                _, next_q = self._best_candidate(self.q_target, self.perturb_target, b.next_obs)
            target = b.reward + cfg.gamma * (1 - b.done) * self.mixer_target(next_q, b.next_state)
        q_loss = F.mse_loss(q_tot, target)
        if self.spec.discrete:
            gen_loss = F.cross_entropy(masked_logits(self.imitation(b.obs), b.avail).flatten(0, 1),
                                       b.actions.flatten())
        else:
            mu, log_std = self.encoder(torch.cat([b.obs, b.actions], -1)).chunk(2, -1)
            log_std = log_std.clamp(-4, 15)
            z = mu + log_std.exp() * torch.randn_like(mu)
            recon = self._decode(b.obs, z)
            kl = -0.5 * (1 + 2 * log_std - mu.pow(2) - (2 * log_std).exp()).sum(-1).mean()
            gen_loss = F.mse_loss(recon, b.actions) + 0.5 * kl
        self.optim.zero_grad(set_to_none=True)
        (q_loss + gen_loss).backward()
        torch.nn.utils.clip_grad_norm_(self.optim.param_groups[0]["params"], cfg.grad_clip)
        self.optim.step()
        out = {"q_loss": q_loss.detach(), "gen_loss": gen_loss.detach()}
        if not self.spec.discrete:
            a = self._perturbed(self.perturb, b.obs, self._decode(b.obs).detach())
            actor_loss = -self.mixer(self.q(b.obs, a), b.state).mean()
            self.optim_actor.zero_grad(set_to_none=True)
            actor_loss.backward()
            self.optim_actor.step()
            soft_update(self.perturb_target, self.perturb, cfg.tau)
            out["actor_loss"] = actor_loss.detach()
        soft_update(self.q_target, self.q, cfg.tau)
        soft_update(self.mixer_target, self.mixer, cfg.tau)
        return out

    @torch.no_grad()
    def act(self, obs, avail=None, deterministic=True):
        if self.spec.discrete:
            return masked_logits(self.q.all_actions(obs), self._allowed(obs, avail)).argmax(-1)
        return self._best_candidate(self.q, self.perturb, obs)[0]
