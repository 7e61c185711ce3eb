"""CQL (Kumar et al. 2020, "Conservative Q-learning for offline RL"), multi-agent form.

Local critics q_i mixed by the non-negative HyperMixer, TD on the mixed value, and CQL's
conservative penalty on every agent's local critic (the OMIGA authors' multi-agent CQL
applies it per agent):

Discrete (CQL(H), Sec. 3.2, Q-learning with the masked max):

    y     = r + gamma (1 - done) M'_s'[ q'_i(o'_i, argmax_a q_i(o'_i, a)) ]
    L     = (M_s[q_i(o_i, a_i)] - y)^2
            + cql_alpha * mean_i( logsumexp_{a available} q_i(o_i, a) - q_i(o_i, a_i) )
    act:  argmax_{a available} q_i(o_i, a)

Continuous (CQL(H) with a SAC actor, Sec. 4 / App. F): a tanh-Gaussian actor pi_i; the
logsumexp over actions is estimated with n uniform and n policy samples (importance
corrected by their densities):

    y     = r + gamma (1 - done) M'_s'[ q'_i(o', a') - beta log pi_i(a'|o') ],  a' ~ pi_i
    L_q   = (M_s[q_i(o, a)] - y)^2 + cql_alpha * mean_i( logsumexp_k (q_i(o, a_k) - log p(a_k))
                                                       - log 2n - q_i(o, a_i) )
    L_pi  = E[ beta log pi_i(a|o) - M_s[q_i(o, a)] ],  a ~ pi

Defaults: cql_alpha 1.0 (discrete; CQL's SMAC-style setting in OMIGA's baselines) and 1.0
for continuous, entropy weight beta 0.2 fixed (SAC's default without tuning), 10 samples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp

from algorithms.base import Batch, Draws, Learner, TrainState, soft_update
from algorithms.networks import (
    copy_params,
    local_q,
    local_q_all,
    local_q_init,
    masked_logits,
    mixer,
    mixer_init,
    tanh_gaussian_sample,
)


@dataclass
class CQLConfig:
    # Sources: vietbt/ComaDICE runner/cql/continuous.py (config lines 10-19), agents/continuous/cql.py
    # (MaMuJoCo).  No SMAC CQL code is public (the paper's SMAC CQL numbers cannot be traced).
    gamma: float = 0.99           # runner/cql/continuous.py line 11
    lr: float = 5e-4              # OMIGA configs/config.py line 36 (see bcq.py: the ComaDICE trainers' lr is
                                  # main.py's, which runs only madice: not traceable)
    hidden: int = 256             # runner/cql/continuous.py line 13
    tau: float = 0.005            # runner/cql/continuous.py line 12
    cql_alpha: float = 1.0        # agents/continuous/cql.py line 91 (weight 1 on logsumexp - Q); CQL paper
                                  # gym: 5.0 / 10.0
    entropy: float = 0.2          # SAC entropy weight (fixed; CQL paper tunes it automatically); the authors'
                                  # actor is not SAC (cql.py line 46: -log pi(a_data) Q(a_data))
    n_samples: int = 10           # agents/continuous/cql.py line 13 (_cql_n_action = 10); CQL App. F: 10
    grad_clip: float = 1.0        # runner/cql/continuous.py line 17
    #: training length in the authors' runs (RunConfig.n_updates)
    TRAINING: ClassVar[str] = "MaMuJoCo: 25 epochs of |D|/128 updates (ComaDICE run.py line 25); SMAC: no code"


class DrawnNormal:
    """A standard-normal draw made before a loss is differentiated, handed to the sampler that
    asks for it inside the loss (a key split inside ``jax.grad`` would happen under its trace)."""

    def __init__(self, noise):
        self.noise = noise

    def normal(self, shape):
        if tuple(shape) != tuple(self.noise.shape):
            raise ValueError(f"normal draw of shape {tuple(shape)}, drawn {tuple(self.noise.shape)}")
        return self.noise


class CQL(Learner):
    name = "CQL"
    Config = CQLConfig

    def init_params(self, key) -> dict:
        s = self.spec
        k_q, k_mixer, k_actor = jax.random.split(key, 3)
        params = {**local_q_init(k_q, "q", s.obs_dim, s.action_dim, s.n_agents, s.discrete, self.cfg.hidden),
                  **mixer_init(k_mixer, "mixer", s.state_dim, s.n_agents)}
        params = {**params, **copy_params(params, "q", "q_target"), **copy_params(params, "mixer", "mixer_target")}
        if not s.discrete:
            params.update(self.init_actor(k_actor, self.cfg.hidden))
        return params

    def groups(self) -> dict:
        critic = {"critic": (["q", "mixer"], self.cfg.lr)}
        return critic if self.discrete else {**critic, "actor": (["actor"], self.cfg.lr)}

    # -- the losses ----------------------------------------------------------------------
    def td_target(self, params: dict, b: Batch, draws: Draws):
        """y = r + gamma (1 - done) M'_s'[ q'_i(o'_i, a'_i) ] with a'_i = argmax_a q_i(o'_i, a) (double DQN,
        discrete) or a'_i ~ pi_i minus beta log pi_i(a'_i|o'_i) (continuous); no gradient."""
        if self.discrete:
            a_next = jnp.argmax(masked_logits(local_q_all(params, "q", b.next_obs), b.next_avail), -1)
            next_q = local_q(params, "q_target", b.next_obs, a_next, True)
        else:
            a_next, logp_next = tanh_gaussian_sample(params, "actor", b.next_obs, draws)
            next_q = local_q(params, "q_target", b.next_obs, a_next, False) - self.cfg.entropy * logp_next
        target = b.reward + self.cfg.gamma * (1 - b.done) * mixer(params, "mixer_target", next_q, b.next_state)
        return jax.lax.stop_gradient(target)

    def penalty_samples(self, params: dict, b: Batch, draws: Draws):
        """The continuous penalty's actions: n uniform ones in [-1, 1]^A and n from pi_i with their
        log-densities (no gradient into the actor): (uniform, pi_a, pi_logp), [n, B, N, ...]."""
        n, A = self.cfg.n_samples, self.spec.action_dim
        rep = jnp.broadcast_to(b.obs, (n,) + b.obs.shape)
        uniform = draws.uniform((n,) + b.obs.shape[:-1] + (A,)) * 2 - 1
        pi_a, pi_logp = tanh_gaussian_sample(params, "actor", rep, draws)
        return uniform, jax.lax.stop_gradient(pi_a), jax.lax.stop_gradient(pi_logp)

    def cql_penalty(self, params: dict, b: Batch, q_data, samples=None):
        """mean_i( logsumexp_a q_i(o_i, a) - q_i(o_i, a_i) ): over the available actions (discrete), or
        estimated from the uniform and policy samples, importance-corrected by their densities (continuous)."""
        if self.discrete:
            all_q = masked_logits(local_q_all(params, "q", b.obs), b.avail)
            return (jax.nn.logsumexp(all_q, -1) - q_data).mean()
        uniform, pi_a, pi_logp = samples
        n, A = self.cfg.n_samples, self.spec.action_dim
        rep = jnp.broadcast_to(b.obs, (n,) + b.obs.shape)
        q_u = local_q(params, "q", rep, uniform, False) - A * math.log(0.5)   # density of U[-1,1]^A is 0.5^A
        q_p = local_q(params, "q", rep, pi_a, False) - pi_logp
        lse = jax.nn.logsumexp(jnp.concatenate([q_u, q_p], 0), 0) - math.log(2 * n)
        return (lse - q_data).mean()

    def critic_loss(self, params: dict, b: Batch, target, samples=None):
        """(M_s[q_i(o_i, a_i)] - y)^2 + cql_alpha * penalty; aux (td, penalty)."""
        q_data = local_q(params, "q", b.obs, b.actions, self.discrete)
        td = ((mixer(params, "mixer", q_data, b.state) - target) ** 2).mean()
        penalty = self.cql_penalty(params, b, q_data, samples)
        return td + self.cfg.cql_alpha * penalty, (td, penalty)

    def actor_loss(self, params: dict, b: Batch, noise):
        """E[ beta log pi_i(a|o) - M_s[q_i(o, a)] ],  a ~ pi (reparameterised by ``noise``)."""
        a, logp = tanh_gaussian_sample(params, "actor", b.obs, DrawnNormal(noise))
        return (self.cfg.entropy * logp.mean(-1) - mixer(params, "mixer", local_q(params, "q", b.obs, a, False),
                                                         b.state)).mean()

    def update(self, state: TrainState, b: Batch, draws: Draws):
        cfg = self.cfg
        target = self.td_target(state.params, b, draws)
        samples = None if self.discrete else self.penalty_samples(state.params, b, draws)
        (_, (td, penalty)), grads = jax.value_and_grad(self.critic_loss, has_aux=True)(state.params, b, target, samples)
        state = self.apply_grads(state, grads, "critic", clip=cfg.grad_clip)
        metrics = {"td_loss": td, "cql_penalty": penalty}
        if not self.discrete:
            # the actor steps after the critic, through the updated q and mixer
            noise = draws.normal(b.obs.shape[:-1] + (self.spec.action_dim,))
            actor_loss, grads = jax.value_and_grad(self.actor_loss)(state.params, b, noise)
            state = self.apply_grads(state, grads, "actor", clip=cfg.grad_clip)
            metrics["actor_loss"] = actor_loss
        params = soft_update(state.params, "q_target", "q", cfg.tau)
        params = soft_update(params, "mixer_target", "mixer", cfg.tau)
        return state._replace(params=params), metrics

    def act(self, params: dict, obs, avail=None, draws: Draws = None, deterministic: bool = True):
        """Discrete: argmax of q_i over the available actions (``deterministic`` or not, as CQL's greedy
        policy).  Continuous: the actor's tanh(mean), or a sample through ``draws``."""
        if self.discrete:
            return jnp.argmax(masked_logits(local_q_all(params, "q", obs), avail), -1).astype(jnp.int32)
        return super().act(params, obs, avail, draws, deterministic)
