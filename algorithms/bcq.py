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
    mixer,
    mixer_init,
)


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

    @property
    def latent(self) -> int:
        """The VAE's latent size per agent (twice the action size)."""
        return 2 * self.spec.action_dim

    def init_params(self, key) -> dict:
        s, H = self.spec, self.cfg.hidden
        N, O, A = s.n_agents, s.obs_dim, s.action_dim
        k_q, k_mixer, k_imitation, k_encoder, k_decoder, k_perturb = jax.random.split(key, 6)
        params = {**local_q_init(k_q, "q", O, A, N, s.discrete, H), **mixer_init(k_mixer, "mixer", s.state_dim, N)}
        if s.discrete:
            params.update(agent_mlp_init(k_imitation, "imitation", O, A, N, H))
        else:
            params.update(agent_mlp_init(k_encoder, "encoder", O + A, 2 * self.latent, N, H))
            params.update(agent_mlp_init(k_decoder, "decoder", O + self.latent, A, N, H))
            params.update(agent_mlp_init(k_perturb, "perturb", O + A, A, N, H))
            params.update(copy_params(params, "perturb", "perturb_target"))
        return {**params, **copy_params(params, "q", "q_target"), **copy_params(params, "mixer", "mixer_target")}

    def groups(self) -> dict:
        # one Adam over the critic, the mixer and the generative model (imitation head or VAE), stepped on
        # the sum of their losses; the perturbation actor has its own
        if self.discrete:
            return {"critic": (["q", "mixer", "imitation"], self.cfg.lr)}
        return {"critic": (["q", "mixer", "encoder", "decoder"], self.cfg.lr), "actor": (["perturb"], self.cfg.lr)}

    # -- discrete ------------------------------------------------------------------------
    def allowed_actions(self, params: dict, obs, avail):
        """A_i(o): available actions with G_i(a|o) / max_a' G_i(a'|o) > threshold, [..., N, A] bool."""
        probs = jax.nn.softmax(masked_logits(agent_mlp(params, "imitation", obs), avail), -1)
        return (probs / probs.max(-1, keepdims=True) > self.cfg.threshold) & avail

    # -- continuous ----------------------------------------------------------------------
    def prior_latent(self, draws: Draws, shape: tuple):
        """z ~ N(0, 1) clipped to [-0.5, 0.5] (BCQ's decoder sampling), ``shape + (latent,)``."""
        return jnp.clip(draws.normal(tuple(shape) + (self.latent,)), -0.5, 0.5)

    def decode(self, params: dict, obs, z):
        """D(o, z): an action in [-1, 1]."""
        return jnp.tanh(agent_mlp(params, "decoder", jnp.concatenate([obs, z], -1)))

    def perturbed(self, params: dict, name: str, obs, a):
        """a + Phi tanh(xi(o, a)), clipped to [-1, 1]."""
        return jnp.clip(a + self.cfg.phi * jnp.tanh(agent_mlp(params, name, jnp.concatenate([obs, a], -1))), -1, 1)

    def best_candidate(self, params: dict, q_name: str, perturb_name: str, obs, draws: Draws):
        """Per agent, the best of n decoded-and-perturbed actions: actions [..., N, A], values [..., N]."""
        n = self.cfg.n_candidates
        rep = jnp.broadcast_to(obs, (n,) + obs.shape)
        decoded = self.decode(params, rep, self.prior_latent(draws, rep.shape[:-1]))
        cand = self.perturbed(params, perturb_name, rep, decoded)
        vals = local_q(params, q_name, rep, cand, False)                    # [n, ..., N]
        best = jnp.argmax(vals, 0)
        return jnp.take_along_axis(cand, best[None, ..., None], 0)[0], vals.max(0)

    # -- the losses ----------------------------------------------------------------------
    def td_target(self, params: dict, b: Batch, draws: Draws):
        """y = r + gamma (1 - done) M'_s'[ q'_i(o'_i, a'_i) ], a'_i the filtered argmax of q_i (discrete)
        or the best of n perturbed decoded actions by q'_i (continuous); no gradient."""
        if self.discrete:
            allowed = self.allowed_actions(params, b.next_obs, b.next_avail)
            a_next = jnp.argmax(masked_logits(local_q_all(params, "q", b.next_obs), allowed), -1)
            next_q = local_q(params, "q_target", b.next_obs, a_next, True)
        else:
            _, next_q = self.best_candidate(params, "q_target", "perturb_target", b.next_obs, draws)
        target = b.reward + self.cfg.gamma * (1 - b.done) * mixer(params, "mixer_target", next_q, b.next_state)
        return jax.lax.stop_gradient(target)

    def q_loss(self, params: dict, b: Batch, target):
        """(M_s[q_i(o_i, a_i)] - y)^2, averaged over the batch."""
        q_tot = mixer(params, "mixer", local_q(params, "q", b.obs, b.actions, self.discrete), b.state)
        return ((q_tot - target) ** 2).mean()

    def imitation_loss(self, params: dict, b: Batch):
        """CE(G_i(. | o_i), a_i), averaged over the batch and the agents."""
        logp = jax.nn.log_softmax(masked_logits(agent_mlp(params, "imitation", b.obs), b.avail), -1)
        return -jnp.take_along_axis(logp, b.actions[..., None], -1).mean()

    def vae_loss(self, params: dict, b: Batch, noise):
        """||a - D(o, z)||^2 + 0.5 KL(N(mu, sigma) || N(0, 1)),  z = mu + sigma noise ~ E(o, a)."""
        mu, log_std = jnp.split(agent_mlp(params, "encoder", jnp.concatenate([b.obs, b.actions], -1)), 2, -1)
        log_std = jnp.clip(log_std, -4, 15)
        z = mu + jnp.exp(log_std) * noise
        recon = self.decode(params, b.obs, z)
        kl = (-0.5 * (1 + 2 * log_std - mu ** 2 - jnp.exp(2 * log_std)).sum(-1)).mean()
        return ((recon - b.actions) ** 2).mean() + 0.5 * kl

    def actor_loss(self, params: dict, b: Batch, z):
        """-M_s[ q_i(o, xi(o, D(o, z))) ] (the decoded action is not trained through this loss)."""
        a = self.perturbed(params, "perturb", b.obs, jax.lax.stop_gradient(self.decode(params, b.obs, z)))
        return -mixer(params, "mixer", local_q(params, "q", b.obs, a, False), b.state).mean()

    def update(self, state: TrainState, b: Batch, draws: Draws):
        cfg = self.cfg
        target = self.td_target(state.params, b, draws)
        # the VAE's reparameterisation noise, drawn before the loss is differentiated
        noise = None if self.discrete else draws.normal(b.obs.shape[:-1] + (self.latent,))

        def critic_loss(params):
            q_loss = self.q_loss(params, b, target)
            gen_loss = self.imitation_loss(params, b) if self.discrete else self.vae_loss(params, b, noise)
            return q_loss + gen_loss, (q_loss, gen_loss)

        # one backward over the summed losses, clipped over the whole group
        (_, (q_loss, gen_loss)), grads = jax.value_and_grad(critic_loss, has_aux=True)(state.params)
        state = self.apply_grads(state, grads, "critic", clip=cfg.grad_clip)
        metrics = {"q_loss": q_loss, "gen_loss": gen_loss}
        if not self.discrete:
            # the actor steps after the critic, through the updated q and mixer; its gradient is not clipped
            z = self.prior_latent(draws, b.obs.shape[:-1])
            actor_loss, grads = jax.value_and_grad(self.actor_loss)(state.params, b, z)
            state = self.apply_grads(state, grads, "actor")
            state = state._replace(params=soft_update(state.params, "perturb_target", "perturb", cfg.tau))
            metrics["actor_loss"] = actor_loss
        params = soft_update(state.params, "q_target", "q", cfg.tau)
        params = soft_update(params, "mixer_target", "mixer", cfg.tau)
        return state._replace(params=params), metrics

    def act(self, params: dict, obs, avail=None, draws: Draws = None, deterministic: bool = True):
        """Discrete: the filtered argmax of q_i.  Continuous: the best of n decoded-and-perturbed
        candidates by q_i, which are random even when ``deterministic`` (BCQ's policy), so ``draws`` is
        needed."""
        if self.discrete:
            allowed = self.allowed_actions(params, obs, avail)
            return jnp.argmax(masked_logits(local_q_all(params, "q", obs), allowed), -1).astype(jnp.int32)
        if draws is None:
            raise ValueError("BCQ's continuous policy samples its candidate actions: act needs draws")
        return self.best_candidate(params, "q", "perturb", obs, draws)[0]
