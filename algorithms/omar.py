"""OMAR (Pan et al. 2022, "Plan better amid conservatism: offline multi-agent RL with
actor rectification").

Independent conservative critics (CQL per agent, no mixer, each regressed on the team
reward) and decentralised actors whose policy-gradient step is mixed with a zeroth-order
search for a better action under the critic (Sec. 4):

    y_i    = r + gamma (1 - done) q'_i(o'_i, pi'_i(o'_i))
    L_q_i  = (q_i(o_i, a_i) - y_i)^2 + cql_alpha (logsumexp_a q_i(o_i, a) - q_i(o_i, a_i))
    a*_i   = argmax over sampled candidates of q_i(o_i, .)           (the rectifying action)
    L_pi_i = (1 - omar_coe) * (-q_i(o_i, pi_i(o_i))) + omar_coe * ||pi_i(o_i) - a*_i||^2

Continuous: deterministic tanh actors (OMAR builds on MATD3); a*_i from OMAR's
cross-entropy-style iterations: sample around mu (initially pi_i(o_i)) with std sigma,
keep the elite, refit mu / sigma, ``omar_iters`` times.  The conservative logsumexp uses
uniform and policy-neighbourhood samples.
Discrete (our extension: OMAR has no discrete form): a softmax actor; the policy-gradient
term is -E_{a~pi_i}[q_i(o_i, a)]; a*_i is the best of ``omar_num_samples`` actions sampled
from pi_i (available ones only) by q_i, and the rectification term is the cross entropy
-log pi_i(a*_i | o_i).

Defaults (each cited in ``OMARConfig``): omar_coe 0.7, omar_iters 3, 20 samples, 5 elites,
initial sigma 2.0, cql_alpha 1.0, Adam 5e-4, tau 0.005.  Departures: the search starts at the
policy's action (OMAR: mean 0, main.py line 214) and does not keep the previous elites among
the candidates; the critics are independent per agent as OMAR's (the ComaDICE code's MaMuJoCo
OMAR mixes them, agents/continuous/omar.py lines 119-125); the CEM refits its mean and std
every iteration as OMAR's maddpg.py lines 278-280 (the ComaDICE code samples from the initial
mean and std every time, omar.py lines 62 and 80-84).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp

from algorithms.base import Batch, Draws, Learner, TrainState, soft_update
from algorithms.networks import (
    agent_mlp,
    agent_mlp_init,
    copy_params,
    local_q,
    local_q_all,
    local_q_init,
    masked_logits,
)


@dataclass
class OMARConfig:
    # Sources: ling-pan/OMAR (main.py, algorithms/maddpg.py; MPE and HalfCheetah) and vietbt/ComaDICE
    # agents/continuous/omar.py (the paper's MaMuJoCo OMAR).  No SMAC OMAR code is public.
    gamma: float = 0.99           # ComaDICE runner/omar/continuous.py line 11 (OMAR main.py line 194: 0.95, MPE)
    lr: float = 5e-4              # OMIGA configs/config.py line 36 (OMAR main.py line 191: 0.01, MPE; the
                                  # ComaDICE trainers' lr is main.py's, which runs only madice: not traceable)
    hidden: int = 256             # ComaDICE runner/omar/continuous.py line 13 (OMAR main.py line 190: 64)
    tau: float = 0.005            # ComaDICE runner/omar/continuous.py line 12 (OMAR main.py line 192: 0.01)
    cql_alpha: float = 1.0        # OMAR main.py line 206 and maddpg.py lines 489-492 (HalfCheetah: 1.0 medium /
                                  # random, 5.0 expert / medium-replay); ComaDICE omar.py line 152: 1
    omar_coe: float = 0.7         # OMAR maddpg.py line 491 (HalfCheetah medium 0.7; expert 0.5, medium-replay
                                  # 0.9); ComaDICE omar.py line 14: 0.5
    omar_iters: int = 3           # OMAR main.py line 213; ComaDICE omar.py line 16: 2
    omar_num_samples: int = 20    # ComaDICE omar.py line 17 (OMAR main.py line 216: 10)
    omar_num_elites: int = 5      # ComaDICE omar.py line 18 (OMAR main.py line 217: 10, with the previous
                                  # elites kept among the candidates, maddpg.py lines 264-270)
    omar_sigma: float = 2.0       # OMAR main.py line 215; ComaDICE omar.py line 13
    grad_clip: float = 1.0        # ComaDICE runner/omar/continuous.py line 17
    #: training length in the authors' runs (RunConfig.n_updates)
    TRAINING: ClassVar[str] = ("MaMuJoCo: 25 epochs of |D|/128 updates (ComaDICE run.py line 25); OMAR: 1e5 "
                               "steps (main.py line 203); SMAC: no code")


class OMAR(Learner):
    name = "OMAR"
    Config = OMARConfig

    def init_params(self, key) -> dict:
        s, cfg = self.spec, self.cfg
        kq, ka = jax.random.split(key)
        online = {**local_q_init(kq, "q", s.obs_dim, s.action_dim, s.n_agents, s.discrete, cfg.hidden),
                  **agent_mlp_init(ka, "actor", s.obs_dim, s.action_dim, s.n_agents, cfg.hidden)}
        return {**online, **copy_params(online, "q", "q_target"), **copy_params(online, "actor", "actor_target")}

    def groups(self) -> dict:
        return {"critic": (["q"], self.cfg.lr), "actor": (["actor"], self.cfg.lr)}

    def policy(self, params: dict, obs, name: str = "actor"):
        """The continuous deterministic policy tanh(actor(o_i)): [..., N, A]."""
        return jnp.tanh(agent_mlp(params, name, obs))

    def rectified_action(self, params: dict, obs, draws: Draws):
        """a*_i (continuous): OMAR's cross-entropy-style search under q_i around pi_i(o_i), ``omar_iters``
        rounds of ``omar_num_samples`` candidates with the ``omar_num_elites`` best refitting mean and std;
        the best candidate of the last round.  [B, N, A], no gradient."""
        cfg = self.cfg
        params = jax.lax.stop_gradient(params)
        mu = self.policy(params, obs)
        sigma = jnp.full_like(mu, cfg.omar_sigma)
        rep = jnp.broadcast_to(obs, (cfg.omar_num_samples, *obs.shape))
        for _ in range(cfg.omar_iters):
            cand = jnp.clip(mu[None] + sigma[None] * draws.normal((cfg.omar_num_samples, *mu.shape)), -1, 1)
            vals = local_q(params, "q", rep, cand, False)                                   # [S, B, N]
            elite = jax.lax.top_k(jnp.moveaxis(vals, 0, -1), cfg.omar_num_elites)[1]        # [B, N, E]
            picked = jnp.take_along_axis(cand, jnp.moveaxis(elite, -1, 0)[..., None], axis=0)  # [E, B, N, A]
            mu, sigma = picked.mean(0), picked.std(0, ddof=1) + 1e-3
        best = vals.argmax(0)                                                               # [B, N]
        return jnp.take_along_axis(cand, best[None, ..., None], axis=0)[0]

    def rectified_discrete(self, params: dict, obs, avail, draws: Draws):
        """a*_i (discrete): the best by q_i of ``omar_num_samples`` actions drawn from pi_i (available
        ones only).  [B, N] ints, no gradient."""
        params = jax.lax.stop_gradient(params)
        probs = jax.nn.softmax(masked_logits(agent_mlp(params, "actor", obs), avail), -1)
        q_all = local_q_all(params, "q", obs)
        cand = draws.multinomial(probs.reshape(-1, probs.shape[-1]), self.cfg.omar_num_samples)
        cand = cand.reshape(*probs.shape[:-1], -1)                                          # [B, N, S]
        best = jnp.take_along_axis(q_all, cand, -1).argmax(-1)
        return jnp.take_along_axis(cand, best[..., None], -1)[..., 0]

    def critic_loss(self, params: dict, b: Batch, draws: Draws):
        """mean (q_i(o_i, a_i) - y_i)^2 + cql_alpha * mean (logsumexp_a q_i(o_i, a) - q_i(o_i, a_i)),
        y_i = r + gamma (1 - done) q'_i(o'_i, pi'_i(o'_i)); the logsumexp over sampled actions when continuous
        (uniform and policy-neighbourhood samples, normalised by their count)."""
        cfg = self.cfg
        sg = jax.lax.stop_gradient
        q_data = local_q(params, "q", b.obs, b.actions, self.discrete)                         # [B, N]
        if self.discrete:
            probs = jax.nn.softmax(masked_logits(agent_mlp(params, "actor_target", b.next_obs), b.next_avail), -1)
            next_q = (probs * local_q_all(params, "q_target", b.next_obs)).sum(-1)
        else:
            next_q = local_q(params, "q_target", b.next_obs, self.policy(params, b.next_obs, "actor_target"), False)
        target = sg(b.reward[:, None] + cfg.gamma * (1 - b.done)[:, None] * next_q)
        td = jnp.mean((q_data - target) ** 2)
        if self.discrete:
            lse = jax.nn.logsumexp(masked_logits(local_q_all(params, "q", b.obs), b.avail), -1)
        else:
            n = cfg.omar_num_samples // 2
            rep = jnp.broadcast_to(b.obs, (n, *b.obs.shape))
            uniform = draws.uniform((n, *b.actions.shape)) * 2 - 1
            near = sg(jnp.clip(self.policy(params, rep) + 0.1 * draws.normal(uniform.shape), -1, 1))
            sampled = jnp.concatenate([local_q(params, "q", rep, uniform, False),
                                       local_q(params, "q", rep, near, False)])
            lse = jax.nn.logsumexp(sampled, 0) - math.log(2 * n)
        penalty = (lse - q_data).mean()
        return td + cfg.cql_alpha * penalty, (td, penalty)

    def actor_loss(self, params: dict, b: Batch, draws: Draws):
        """mean (1 - omar_coe) * pg_i + omar_coe * rect_i: pg_i = -q_i(o_i, pi_i(o_i)) and rect_i =
        ||pi_i(o_i) - a*_i||^2 (continuous), or pg_i = -E_{a~pi_i}[q_i(o_i, a)] and rect_i = -log pi_i(a*_i | o_i)
        (discrete)."""
        cfg = self.cfg
        if self.discrete:
            logits = masked_logits(agent_mlp(params, "actor", b.obs), b.avail)
            q_all = jax.lax.stop_gradient(local_q_all(params, "q", b.obs))
            pg = -(jax.nn.softmax(logits, -1) * q_all).sum(-1)
            best = self.rectified_discrete(params, b.obs, b.avail, draws)
            rect = -jnp.take_along_axis(jax.nn.log_softmax(logits, -1), best[..., None], -1)[..., 0]
        else:
            a = self.policy(params, b.obs)
            pg = -local_q(params, "q", b.obs, a, False)
            rect = ((a - self.rectified_action(params, b.obs, draws)) ** 2).sum(-1)
        return ((1 - cfg.omar_coe) * pg + cfg.omar_coe * rect).mean()

    def update(self, state: TrainState, b: Batch, draws: Draws):
        cfg = self.cfg
        (_, (td, penalty)), grads = jax.value_and_grad(self.critic_loss, has_aux=True)(state.params, b, draws)
        state = self.apply_grads(state, grads, "critic", clip=cfg.grad_clip)
        # the actor's step follows the critic's: its q_i and a*_i come from the updated critic
        actor_loss, grads = jax.value_and_grad(self.actor_loss)(state.params, b, draws)
        state = self.apply_grads(state, grads, "actor", clip=cfg.grad_clip)
        params = soft_update(state.params, "q_target", "q", cfg.tau)
        params = soft_update(params, "actor_target", "actor", cfg.tau)
        return state._replace(params=params), {"td_loss": td, "cql_penalty": penalty, "actor_loss": actor_loss}

    def act(self, params: dict, obs, avail=None, draws: Draws | None = None, deterministic: bool = True):
        if self.discrete:
            logits = masked_logits(agent_mlp(params, "actor", obs), avail)
            return jnp.argmax(logits, -1) if deterministic else draws.categorical(logits)
        return self.policy(params, obs)
