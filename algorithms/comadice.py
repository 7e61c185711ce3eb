"""ComaDICE: offline cooperative MARL with stationary-distribution correction (ICLR 2025).

Networks (Sec. 5): local value nets nu_i(o_i), local Q nets q_i(o_i, a_i) (both shared
over agents, with agent ids), a mixer M_s with non-negative weights from a hypernetwork
of the global state, and local policies pi_i(a_i | o_i).

Losses, with nu_tot(s) = M_s[nu(s)] and A_tot(s, a) = M_s[q(s, a) - nu(s)] - M_s[0]
(the mixer's bias cancels in an advantage: A_tot = q_tot - nu_tot, Eq. 5):

  Q loss (Eq. 10), trains q and the mixer theta; nu is held fixed:
      L_q = E_D[ (nu_tot(s) + A_tot(s, a) - r - gamma (1 - done) nu_tot^target(s'))^2 ]

  Value loss (Eq. 11, Prop. 4.1), trains nu; q and theta are held fixed:
      L_nu = (1 - gamma) E_{s0}[ M_{s0}[nu(s0)] ] + E_D[ alpha f*( A_tot(s, a) / alpha ) ]

  Occupancy ratio (Prop. 4.1):  w*(s, a) = max(0, (f')^-1(A_tot(s, a) / alpha))

  Local weighted BC (Eq. 12):   max_pi_i  E_D[ w*(s, a) log pi_i(a_i | o_i) ]

The paper leaves open which loss trains the mixer.  Eq. 11 alone is unbounded below in
the mixer's bias and weights (driving them to -inf / 0 lowers it without fitting any
reward), so, like the paper's public code, the mixer learns from the Q loss, where it
must fit the rewards.  The three losses touch disjoint parameters, so one backward pass
computes all three gradients (a faster equivalent of three separate steps).

Departures of the public code (vietbt/ComaDICE) from the paper are named options, all
off by default (see algorithms/README.md): ``reward_to_go``, ``done_from_state_equality``,
``normalisation_multiplier``, ``detach_f_in_value_loss``, ``bc_weight="sum_local_clipped"``,
``mixer_input="concat_obs"``, ``action_scale``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from algorithms.base import Batch, Learner, LearnerSpec, register
from algorithms.fdiv import F_DIVERGENCES, get_f_divergence
from algorithms.networks import AgentMLP, HyperMixer, LocalQ, soft_update


@dataclass
class ComaDICEConfig:
    alpha: float = 10.0            # regularisation weight of the f-divergence (Sec. 6.4: best near 10)
    gamma: float = 0.99            # discount (paper, Sec. 6 / appendix)
    lr: float = 5e-4               # Adam learning rate (public code default, main.py)
    hidden: int = 256              # hidden width of nu, q and pi (paper appendix)
    f_divergence: str = "soft_chi2"  # soft_chi2 (paper default) | chi2 | kl (appendix ablation)
    mixer_layers: int = 1          # 1 (paper default, Sec. 5 footnote 1) or 2
    mixer_embed: int = 32          # width of the hidden layer of a 2-layer mixer
    hyper_hidden: int = 64         # width of the mixer's hypernetworks (public code: 64)
    tau: float = 0.005             # soft target update rate (paper appendix)
    grad_clip: float = 1.0         # max grad norm per network group (public code)
    # -- variants of the public code (off = the paper's equations) ---------------------
    reward_to_go: bool = False     # replace each reward by the undiscounted reward-to-go (code, SMAC)
    done_from_state_equality: bool = False  # done := (s == s') as the code infers it from padding
    normalisation_multiplier: bool = False  # OptiDICE-style lambda with its own Adam (code)
    detach_f_in_value_loss: bool = False     # code's value loss: -alpha f(w).detach() + w (A - lambda)
    bc_weight: str = "global"      # global: w_tot (Eq. 12) | sum_local_clipped: code's sum of per-agent ratios
    mixer_input: str = "state"     # state | concat_obs (code: hypernetwork reads concatenated agent obs)
    action_scale: float = 1.0      # code divides MaMuJoCo actions by 4 and multiplies back when acting

    def validate(self):
        if self.alpha <= 0:
            raise ValueError(f"ComaDICE alpha must be > 0, got {self.alpha}")
        if not 0 <= self.gamma < 1:
            raise ValueError(f"ComaDICE gamma must be in [0, 1), got {self.gamma}")
        if self.f_divergence not in F_DIVERGENCES:
            raise ValueError(f"unknown f_divergence {self.f_divergence!r}; valid: {', '.join(F_DIVERGENCES)}")
        if self.bc_weight not in ("global", "sum_local_clipped"):
            raise ValueError(f"bc_weight must be 'global' or 'sum_local_clipped', got {self.bc_weight!r}")
        if self.mixer_input not in ("state", "concat_obs"):
            raise ValueError(f"mixer_input must be 'state' or 'concat_obs', got {self.mixer_input!r}")
        if self.mixer_layers not in (1, 2):
            raise ValueError(f"mixer_layers must be 1 or 2, got {self.mixer_layers}")


@register
class ComaDICE(Learner):
    name = "ComaDICE"
    Config = ComaDICEConfig

    def __init__(self, spec: LearnerSpec, cfg: ComaDICEConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        self.fdiv = get_f_divergence(cfg.f_divergence)
        mixer_in = spec.state_dim if cfg.mixer_input == "state" else spec.n_agents * spec.obs_dim
        self.nu = AgentMLP(spec.obs_dim, 1, spec.n_agents, cfg.hidden)
        self.q = LocalQ(spec.obs_dim, spec.action_dim, spec.n_agents, spec.discrete, cfg.hidden)
        self.mixer = HyperMixer(mixer_in, spec.n_agents, cfg.mixer_layers, cfg.mixer_embed, cfg.hyper_hidden)
        self.actor = self.make_actor(cfg.hidden)
        self.nu_target = copy.deepcopy(self.nu).requires_grad_(False)
        self.mixer_target = copy.deepcopy(self.mixer).requires_grad_(False)
        self.lam = nn.Parameter(torch.zeros(()), requires_grad=cfg.normalisation_multiplier)
        self.groups = {"nu": list(self.nu.parameters()),
                       "q": list(self.q.parameters()) + list(self.mixer.parameters()),
                       "actor": list(self.actor.parameters())}
        params = [p for g in self.groups.values() for p in g]
        if cfg.normalisation_multiplier:
            params.append(self.lam)
        # One Adam over disjoint groups equals one Adam per group with the same rate.
        self.optim = torch.optim.Adam(params, lr=cfg.lr)

    def _mixer_input(self, state, obs):
        return state if self.cfg.mixer_input == "state" else obs.flatten(-2)

    def _update(self, b: Batch) -> dict:
        cfg, fdiv = self.cfg, self.fdiv
        actions = b.actions if self.spec.discrete else b.actions / cfg.action_scale
        reward = b.reward_to_go if cfg.reward_to_go else b.reward
        done = (b.state == b.next_state).all(-1).float() if cfg.done_from_state_equality else b.done
        mix_s = self._mixer_input(b.state, b.obs)
        lam = self.lam  # the normalisation multiplier (0 and frozen unless enabled)

        nu = self.nu(b.obs).squeeze(-1)                       # [B, N]
        q = self.q(b.obs, actions)                            # [B, N]
        hyper = self.mixer.hyper(mix_s)
        hyper_fixed = tuple(p.detach() for p in hyper)

        # -- Eq. 10: q_tot = nu_tot + A_tot regressed on r + gamma nu_tot'(target) -------
        with torch.no_grad():
            next_nu = self.nu_target(b.next_obs).squeeze(-1)
            next_nu_tot = self.mixer_target(next_nu, self._mixer_input(b.next_state, b.next_obs))
            target = reward + cfg.gamma * (1.0 - done) * next_nu_tot
        nu_tot = HyperMixer.mix(nu.detach(), hyper)           # the mixer learns here, nu does not
        a_tot_q = HyperMixer.mix(q - nu.detach(), hyper, bias=False)
        q_loss = F.mse_loss(nu_tot + a_tot_q, target)

        # -- Eq. 11: (1-gamma) E[nu_tot(s0)] + E[alpha f*(A_tot / alpha)] ------------------
        nu0 = self.nu(b.init_obs).squeeze(-1)
        nu0_tot = HyperMixer.mix(nu0, tuple(p.detach() for p in self.mixer.hyper(
            self._mixer_input(b.init_state, b.init_obs))))
        a_tot_v = HyperMixer.mix(q.detach() - nu, hyper_fixed, bias=False)
        y = (a_tot_v - lam) / cfg.alpha
        if cfg.detach_f_in_value_loss:
            w_v = fdiv.ratio(y)
            dual = -cfg.alpha * fdiv.f(w_v).detach() + w_v * (a_tot_v.detach() - lam)
        else:
            dual = cfg.alpha * fdiv.conjugate(y)
        v_loss = (1 - cfg.gamma) * nu0_tot.mean() + dual.mean() + lam

        # -- Prop. 4.1 and Eq. 12: w* = max(0, f'^-1(A_tot/alpha)); local weighted BC ------
        with torch.no_grad():
            a_tot = a_tot_q.detach()
            if cfg.bc_weight == "global":
                weight = fdiv.ratio((a_tot - lam) / cfg.alpha)                   # [B]
                weight = weight.unsqueeze(-1)
            else:
                local = hyper_fixed[0] * (q - nu) if self.mixer.layers == 1 else (q - nu)
                w_i = fdiv.ratio((local - lam) / cfg.alpha)
                if self.spec.discrete:
                    w_i = w_i.clamp_max(2.0)
                weight = w_i.sum(-1, keepdim=True)
        log_pi = self.actor_log_prob(b.obs, actions, b.avail)           # [B, N]
        pi_loss = -(weight * log_pi).mean()

        self.optim.zero_grad(set_to_none=True)
        (q_loss + v_loss + pi_loss).backward()
        for params in self.groups.values():
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.optim.step()
        soft_update(self.nu_target, self.nu, cfg.tau)
        soft_update(self.mixer_target, self.mixer, cfg.tau)
        return {"q_loss": q_loss.detach(), "v_loss": v_loss.detach(), "pi_loss": pi_loss.detach(),
                "w_mean": weight.mean().detach(), "a_tot_mean": a_tot.mean()}

    @torch.no_grad()
    def act(self, obs, avail=None, deterministic=True):
        a = super().act(obs, avail, deterministic)
        return a if self.spec.discrete else a * self.cfg.action_scale

    @torch.no_grad()
    def occupancy_ratio(self, b: Batch) -> torch.Tensor:
        """w*(s, a) for a batch (Prop. 4.1), for diagnostics and tests."""
        actions = b.actions if self.spec.discrete else b.actions / self.cfg.action_scale
        nu = self.nu(b.obs).squeeze(-1)
        a_tot = self.mixer(self.q(b.obs, actions) - nu, self._mixer_input(b.state, b.obs), bias=False)
        return self.fdiv.ratio(a_tot / self.cfg.alpha)
