"""OptDICE: OptiDICE (Lee et al. 2021, "OptiDICE: offline policy optimization via stationary
distribution correction estimation") extended naively to multi-agent settings, as the
ComaDICE paper describes it (Sec. 6.2): "the global value function is learned directly
without value factorisation".

One global nu(s) on the global state (no local values, no mixer), OptiDICE's dual with its
normalisation multiplier lambda (OptiDICE Eq. 10 with the constraint E_D[w] = 1), and
policy extraction by weighted BC of every agent's local policy with the global ratio:

    e(s, a, s') = r + gamma (1 - done) nu(s') - nu(s)
    L(nu, lambda) = (1 - gamma) E_{s0}[nu(s0)] + E_D[ alpha f*((e - lambda) / alpha) ] + lambda
    w(s, a) = max(0, (f')^-1((e - lambda) / alpha))          (held fixed for the policy)
    L_pi_i  = - E_D[ w(s, a) log pi_i(a_i | o_i) ]

Both action types share everything but the policy head (masked categorical or tanh
Gaussian, as BC's): nu never sees actions, so the extension to either action type is the
weighted-BC step alone.  Defaults: OptiDICE's own (secury/optidice default_config.py; the
ComaDICE paper does not state its OptDICE settings and its code for them is not public).

Departures from OptiDICE's code (secury/optidice neural_dice_rl.py), each in algorithms/README.md:
- policy weights come from the single-sample residual e(s, a, s') of the batch; OptiDICE
  trains an e-network e(s, a) (minimax loss, lines 174-179, 319-331) and weights BC (or its
  I-projection) with w(e(s, a)), a smoothed estimate;
- policy extraction is weighted BC (OptiDICE's ``wbc``); its default is the I-projection
  (default_config.py line 44) with a learnt data policy, an entropy constraint and 5e5
  warm-up updates before the policy moves (line 47);
- no absorbing state (line 69): a termination stops the bootstrap with (1 - done);
  observations are the task's (the MaMuJoCo authors' layout is already standardised per
  vector; OptiDICE standardises over the dataset, run() line 392); rewards are not
  standardised nor scaled by 0.1 (lines 70-71): alpha is relative to the reward scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn

from algorithms.torch_base import Batch, Learner, LearnerSpec
from algorithms.torch_fdiv import get_f_divergence
from algorithms.torch_networks import mlp


@dataclass
class OptDICEConfig:
    # Sources: secury/optidice default_config.py (D4RL settings of OptiDICE's authors).
    alpha: float = 1.0              # default_config.py line 63 (OptiDICE on standardised rewards x 0.1)
    gamma: float = 0.99             # default_config.py line 43
    lr: float = 3e-4                # default_config.py line 68
    hidden: int = 256               # default_config.py line 60 (256, 256)
    f_divergence: str = "soft_chi2"  # default_config.py line 64 ('elu' = soft chi-square)
    grad_clip: float = 1.0          # harness (OptiDICE does not clip)
    #: training length in the authors' runs (RunConfig.n_updates)
    TRAINING: ClassVar[str] = "3e6 updates of batch 512 (default_config.py lines 46, 61)"


class OptDICE(Learner):
    name = "OptDICE"
    Config = OptDICEConfig

    def __init__(self, spec: LearnerSpec, cfg: OptDICEConfig, device="cpu"):
        super().__init__(spec, cfg, device)
        self.fdiv = get_f_divergence(cfg.f_divergence)
        self.nu = mlp(spec.state_dim, 1, cfg.hidden)
        self.lam = nn.Parameter(torch.zeros(()))
        self.actor = self.make_actor(cfg.hidden)
        self.groups = {"nu": list(self.nu.parameters()) + [self.lam], "actor": list(self.actor.parameters())}
        self.optim = torch.optim.Adam([p for g in self.groups.values() for p in g], lr=cfg.lr)

    def _update(self, b: Batch) -> dict:
        cfg = self.cfg
        nu = self.nu(b.state).squeeze(-1)
        nu_next = self.nu(b.next_state).squeeze(-1)
        nu0 = self.nu(b.init_state).squeeze(-1)
        e = b.reward + cfg.gamma * (1 - b.done) * nu_next - nu
        y = (e - self.lam) / cfg.alpha
        nu_loss = (1 - cfg.gamma) * nu0.mean() + (cfg.alpha * self.fdiv.conjugate(y)).mean() + self.lam
        with torch.no_grad():
            w = self.fdiv.ratio(y).unsqueeze(-1)
        pi_loss = -(w * self.actor_log_prob(b.obs, b.actions, b.avail)).mean()
        self.optim.zero_grad(set_to_none=True)
        (nu_loss + pi_loss).backward()
        for params in self.groups.values():
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.optim.step()
        return {"nu_loss": nu_loss.detach(), "pi_loss": pi_loss.detach(), "w_mean": w.mean(),
                "lambda": self.lam.detach().clone()}
