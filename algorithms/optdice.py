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

import jax
import jax.numpy as jnp

from algorithms.base import Batch, Draws, Learner, LearnerSpec, TrainState
from algorithms.fdiv import get_f_divergence
from algorithms.networks import mlp, mlp_init


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

    def __init__(self, spec: LearnerSpec, cfg: OptDICEConfig):
        super().__init__(spec, cfg)
        self.fdiv = get_f_divergence(cfg.f_divergence)

    def init_params(self, key) -> dict:
        k_nu, k_actor = jax.random.split(key)
        return {**mlp_init(k_nu, "nu", self.spec.state_dim, 1, self.cfg.hidden),
                "lam": jnp.zeros(()),
                **self.init_actor(k_actor, self.cfg.hidden)}

    def groups(self) -> dict:
        # OptiDICE steps one Adam over every parameter; as every parameter gets a gradient at every
        # update, two groups at the same rate step as that optimiser did (the clipping is per group)
        return {"nu": (["nu", "lam"], self.cfg.lr), "actor": (["actor"], self.cfg.lr)}

    def nu_value(self, params: dict, state):
        """nu(s) of global states [B, S]: [B]."""
        return mlp(params, "nu", state)[..., 0]

    def residual(self, params: dict, b: Batch):
        """y = (e - lambda) / alpha, e(s, a, s') = r + gamma (1 - done) nu(s') - nu(s): [B]."""
        cfg = self.cfg
        e = b.reward + cfg.gamma * (1 - b.done) * self.nu_value(params, b.next_state) - self.nu_value(params, b.state)
        return (e - params["lam"]) / cfg.alpha

    def bc_weights(self, params: dict, b: Batch):
        """w(s, a) = max(0, (f')^-1(y)), held fixed for the policy: [B]."""
        return jax.lax.stop_gradient(self.fdiv.ratio(self.residual(params, b)))

    def nu_loss(self, params: dict, b: Batch, y):
        """L(nu, lambda) = (1 - gamma) E_{s0}[nu(s0)] + E_D[ alpha f*(y) ] + lambda."""
        cfg = self.cfg
        return ((1 - cfg.gamma) * self.nu_value(params, b.init_state).mean()
                + (cfg.alpha * self.fdiv.conjugate(y)).mean() + params["lam"])

    def pi_loss(self, params: dict, b: Batch, w):
        """L_pi = - E_D[ w(s, a) log pi_i(a_i | o_i) ], averaged over the batch and the agents."""
        return -(w[:, None] * self.actor_log_prob(params, b.obs, b.actions, b.avail)).mean()

    def update(self, state: TrainState, b: Batch, draws: Draws):
        def total_loss(params):
            y = self.residual(params, b)
            w = jax.lax.stop_gradient(self.fdiv.ratio(y))
            nu_loss, pi_loss = self.nu_loss(params, b, y), self.pi_loss(params, b, w)
            return nu_loss + pi_loss, (nu_loss, pi_loss, w)

        # one backward over the summed losses, then each group clipped and stepped on its own
        grads, (nu_loss, pi_loss, w) = jax.grad(total_loss, has_aux=True)(state.params)
        state = self.apply_grads(state, grads, "nu", clip=self.cfg.grad_clip)
        state = self.apply_grads(state, grads, "actor", clip=self.cfg.grad_clip)
        # lambda as the PyTorch learner reported it: after the step
        return state, {"nu_loss": nu_loss, "pi_loss": pi_loss, "w_mean": w.mean(), "lambda": state.params["lam"]}
