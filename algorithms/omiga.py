"""OMIGA: offline MARL with implicit global-to-local value regularization
(Wang, Xu, Zheng & Zhan, NeurIPS 2023, arXiv 2307.11620), the strongest baseline of the
ComaDICE paper's Tables 1-3.

Networks (paper, method section: value decomposition and practical algorithm; authors'
code ZhengYinan-AIR/OMIGA, algos/OMIGA.py (MaMuJoCo) and framework/trainer_omiga.py
(SMAC)): local Q_i(o_i, a_i) (discrete: one head per action; continuous: a critic of
(o_i, a_i)), local V_i(o_i), all shared over agents with one-hot agent ids; a one-layer
mixer with state-dependent non-negative weights w(s) and bias b(s) (the paper's value
decomposition):

    Q_tot(s, a) = sum_i w_i(s) Q_i(o_i, a_i) + b(s),   V_tot(s) = sum_i w_i(s) V_i(o_i) + b(s)

and local policies pi_i(a_i | o_i) (masked softmax, or tanh-Gaussian).  Bars mark the
Polyak-averaged target networks (tau).

  Q and mixer loss (joint learning of local Q_i and weights w, b):
      L_Q = E_D[ ( w(s)^T Q(o, a) + b(s) - r - gamma (1 - done) V_tot-bar(s') )^2 ],
      V_tot-bar(s') = w-bar(s')^T V-bar(o') + b-bar(s')

  Local value loss (the implicit global-to-local regularisation; reverse-KL
  regulariser with weight alpha makes the global problem decompose into local ones):
      z_i  = w-bar_i(s) ( Q-bar_i(o_i, a_i) - V_i(o_i) ) / alpha,   z_i^c = clip(z_i, -10, 10)
      L_V  = E_D[ mean_i  exp(z_i^c) - z_i ]
  (the authors' code writes exp(z_i) + w_i V_i / alpha, equal up to a constant in V).  Its
  minimiser solves E[exp(z_i) | o_i] = 1, i.e. V_i is the alpha-soft value of the local
  Q_i under the data's actions, computed in-sample (no action outside the data).
  The authors' code also multiplies the loss by exp(-m), m = max(max_batch z^c, -1)
  (held fixed): a positive per-batch rescaling that keeps exp from overflowing; on by
  default (``rescale_v_loss``).

  Local policy extraction (weighted BC, the optimal local policy
  pi_i* = mu_i exp(w_i (Q_i - V_i) / alpha)):
      L_pi = - E_D[ mean_i  exp(z_i^c) log pi_i(a_i | o_i) ]     (weights <= e^10)

Q_i and w in z come from the target networks, as in the authors' code.  The three losses
touch disjoint parameters (Q + mixer, V, pi) and each is computed from the networks as they
stand before the step, so one gradient of the summed losses, each group's part clipped on its
own and stepped by its own Adam, equals the authors' three sequential optimiser steps.

Departures from the authors' code, for one footing across the harness: the mixer is the
harness's shared HyperMixer of the global state (the authors' hypernetwork reads the
concatenated per-agent states and shares its first layer between w and b); the continuous
actor is the harness's tanh-Gaussian head (the authors' also clamps its mean to [-9, 9]);
the discrete actor's log-probabilities use the availability mask (the authors' training
softmax is unmasked; the data action is always available, so only the normalisation
differs); ``done`` is the dataset's termination flag (the authors' SMAC trainer infers it
from s == s').
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp

from algorithms.alberdice import REWARD_TO_GO, pick_reward
from algorithms.base import Batch, Draws, Learner, TrainState, check_batch, soft_update
from algorithms.networks import (
    agent_mlp,
    agent_mlp_init,
    copy_params,
    local_q,
    local_q_init,
    mixer,
    mixer_hyper,
    mixer_init,
)


@dataclass
class OMIGAConfig:
    alpha: float = 10.0          # regularisation weight (authors' code: algos/OMIGA.py `_alpha = 10`,
                                 # branch SMAC framework/trainer_omiga.py line 54 `alpha = 10.0`; vietbt/ComaDICE
                                 # agents/discrete/omiga.py line 24)
    gamma: float = 0.99          # discount (OMIGA configs/config.py --gamma; TrainerConfig.gamma)
    lr: float = 5e-4             # Adam rate of all three optimisers (configs/config.py line 36 --lr 5e-4,
                                 # MaMuJoCo; branch SMAC run_omiga_sc2.py line 29 --offline_lr 5e-4)
    hidden: int = 256            # width of the 2-hidden-layer Q, V and policy nets (--hidden_sizes 256;
                                 # models/omiga_model.py uses 256)
    hyper_hidden: int = 64       # width of the mixer's hypernetwork (--mix_hidden_sizes 64; --hyper_hidden_dim 64)
    tau: float = 0.005           # Polyak rate of the Q, V and mixer targets (--tau 0.005; TrainerConfig.tau)
    grad_clip: float = 1.0       # max grad norm per network group (--grad_norm_clip 1.0)
    z_clip: float = 10.0         # |z| clip in the value loss and the policy weights, so weights <= e^10
                                 # (authors' code: torch.clamp(z, min=-10.0, max=10.0))
    rescale_v_loss: bool = True  # multiply L_V by exp(-max(max z, -1)) as the authors' code does
                                 # (numerical guard); False = the paper's plain exp(z) - z
    reward_to_go: str = "smac"   # "smac": on discrete-action (SMAC) tasks train on the undiscounted
                                 # reward-to-go of each episode, as OMIGA's SMAC loader (branch SMAC,
                                 # framework/utils.py get_episode lines 27-38, used by load_data line 92)
                                 # and the ComaDICE code's SMAC loader (runner/utils.py line 22) do;
                                 # MaMuJoCo keeps raw rewards in both (datasets/offline_dataset.py;
                                 # runner/utils.py load_mamujoco_data).  "never" | "always" to measure it
    #: training length in the authors' runs (a RunConfig setting, not the learner's)
    TRAINING: ClassVar[str] = ("MaMuJoCo: 1e6 updates of batch 128 (configs/config.py lines 27, 35); SMAC: 55 "
                               "epochs over 1000 episodes, batch 128 (run_omiga_sc2.py lines 25-28)")

    def validate(self):
        if self.reward_to_go not in REWARD_TO_GO:
            raise ValueError(f"OMIGA reward_to_go must be one of {', '.join(REWARD_TO_GO)}, got {self.reward_to_go!r}")


class OMIGA(Learner):
    name = "OMIGA"
    Config = OMIGAConfig

    def init_params(self, key) -> dict:
        s, cfg = self.spec, self.cfg
        k_q, k_v, k_mixer, k_actor = jax.random.split(key, 4)
        online = {**local_q_init(k_q, "q", s.obs_dim, s.action_dim, s.n_agents, s.discrete, cfg.hidden),
                  **agent_mlp_init(k_v, "v", s.obs_dim, 1, s.n_agents, cfg.hidden),
                  **mixer_init(k_mixer, "mixer", s.state_dim, s.n_agents, layers=1, hyper_hidden=cfg.hyper_hidden),
                  **self.init_actor(k_actor, cfg.hidden)}
        return {**online, **copy_params(online, "q", "q_target"), **copy_params(online, "v", "v_target"),
                **copy_params(online, "mixer", "mixer_target")}

    def groups(self) -> dict:
        # the authors' three optimisers (one Adam per group, all at the same rate)
        lr = self.cfg.lr
        return {"q": (["q", "mixer"], lr), "v": (["v"], lr), "actor": (["actor"], lr)}

    def local_v(self, params: dict, obs, name: str = "v"):
        """V_i(o_i): [B, N]."""
        return agent_mlp(params, name, obs)[..., 0]

    def z(self, params: dict, b: Batch, v):
        """z_i = w-bar_i(s) (Q-bar_i(o_i, a_i) - V_i(o_i)) / alpha, unclipped: [B, N]."""
        q_bar = jax.lax.stop_gradient(local_q(params, "q_target", b.obs, b.actions, self.discrete))    # [B, N]
        w_bar = jax.lax.stop_gradient(mixer_hyper(params, "mixer_target", b.state)[0])                # [B, N], >= 0
        return w_bar * (q_bar - v) / self.cfg.alpha

    def q_loss(self, params: dict, b: Batch):
        """L_Q = E_D[ (w(s)^T Q(o, a) + b(s) - r - gamma (1 - done) V_tot-bar(s'))^2 ]; also Q_tot [B]."""
        cfg = self.cfg
        w, bias = mixer_hyper(params, "mixer", b.state)                                 # [B, N], [B]
        q_tot = (w * local_q(params, "q", b.obs, b.actions, self.discrete)).sum(-1) + bias
        next_v_tot = mixer(params, "mixer_target", self.local_v(params, b.next_obs, "v_target"), b.next_state)
        reward = pick_reward(b, cfg.reward_to_go, self.discrete)
        target = jax.lax.stop_gradient(reward + cfg.gamma * (1.0 - b.done) * next_v_tot)
        return ((q_tot - target) ** 2).mean(), q_tot

    def value_loss(self, z, zc):
        """L_V = mean(exp(z^c) - z), times exp(-m) with m = max(max z^c, -1) held fixed when
        ``rescale_v_loss``.  The linear term uses the unclipped z, as the authors' w V / alpha
        does, so a clipped sample still pulls V down."""
        if self.cfg.rescale_v_loss:
            m = jnp.maximum(jax.lax.stop_gradient(zc).max(), -1.0)
            return (jnp.exp(zc - m) - jnp.exp(-m) * z).mean()
        return (jnp.exp(zc) - z).mean()

    def pi_loss(self, params: dict, b: Batch, zc):
        """L_pi = - E_D[ mean_i exp(z_i^c) log pi_i(a_i | o_i) ], the weights held fixed; also the weights."""
        weight = jnp.exp(jax.lax.stop_gradient(zc))                                      # [B, N]
        return -(weight * self.actor_log_prob(params, b.obs, b.actions, b.avail)).mean(), weight

    def update(self, state: TrainState, b: Batch, draws: Draws):
        check_batch(self.spec, b)
        cfg = self.cfg

        def total(params):
            q_loss, q_tot = self.q_loss(params, b)
            z = self.z(params, b, self.local_v(params, b.obs))
            zc = jnp.clip(z, -cfg.z_clip, cfg.z_clip)
            v_loss = self.value_loss(z, zc)
            pi_loss, weight = self.pi_loss(params, b, zc)
            return q_loss + v_loss + pi_loss, {"q_loss": q_loss, "v_loss": v_loss, "pi_loss": pi_loss,
                                               "weight_mean": weight.mean(), "z_max": zc.max(),
                                               "q_tot_mean": q_tot.mean()}

        # one backward over the summed losses (they touch disjoint groups); each group clipped on its own
        grads, metrics = jax.grad(total, has_aux=True)(state.params)
        for group in self.groups():
            state = self.apply_grads(state, grads, group, clip=cfg.grad_clip)
        params = state.params
        for target, source in (("q_target", "q"), ("v_target", "v"), ("mixer_target", "mixer")):
            params = soft_update(params, target, source, cfg.tau)
        return state._replace(params=params), metrics

    def local_advantage(self, params: dict, b: Batch):
        """w_i(s) (Q_i(o_i, a_i) - V_i(o_i)) with the online networks: [B, N] (diagnostics, tests)."""
        w = mixer_hyper(params, "mixer", b.state)[0]
        return w * (local_q(params, "q", b.obs, b.actions, self.discrete) - self.local_v(params, b.obs))
