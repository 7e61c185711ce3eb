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

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp

from algorithms.base import Batch, Draws, Learner, LearnerSpec, TrainState, soft_update
from algorithms.networks import (
    agent_mlp,
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

    def resolved(self, discrete: bool) -> ICQConfig:
        """The temperatures and critic rate of the authors' code for this action type."""
        return dataclasses.replace(
            self, beta_q=self.beta_q if self.beta_q is not None else (1000.0 if discrete else 10.0),
            beta_pi=self.beta_pi if self.beta_pi is not None else (0.1 if discrete else 100.0),
            critic_lr=self.critic_lr if self.critic_lr is not None else (1e-4 if discrete else self.lr))


class ICQ(Learner):
    name = "ICQ"
    Config = ICQConfig

    def __init__(self, spec: LearnerSpec, cfg: ICQConfig):
        super().__init__(spec, cfg.resolved(spec.discrete))

    def init_params(self, key) -> dict:
        s, cfg = self.spec, self.cfg
        kq, km, ka = jax.random.split(key, 3)
        online = {**local_q_init(kq, "q", s.obs_dim, s.action_dim, s.n_agents, s.discrete, cfg.hidden),
                  **mixer_init(km, "mixer", s.state_dim, s.n_agents),
                  **self.init_actor(ka, cfg.hidden)}
        return {**online, **copy_params(online, "q", "q_target"), **copy_params(online, "mixer", "mixer_target")}

    def groups(self) -> dict:
        # the critic and its mixer share one Adam (and one gradient-norm clip) at the critic's rate
        return {"critic": (["q", "mixer"], self.cfg.critic_lr), "actor": (["actor"], self.cfg.lr)}

    def expected_q(self, params: dict, obs, avail=None, draws: Draws | None = None):
        """E_{a ~ pi_i}[q_i(o_i, a)] per agent: [B, N] (continuous: a mean over ``n_samples`` policy samples)."""
        if self.discrete:
            probs = jax.nn.softmax(masked_logits(agent_mlp(params, "actor", obs), avail), -1)
            return (probs * local_q_all(params, "q", obs)).sum(-1)
        rep = jnp.broadcast_to(obs, (self.cfg.n_samples, *obs.shape))
        a, _ = tanh_gaussian_sample(params, "actor", rep, draws)
        return local_q(params, "q", rep, a, False).mean(0)

    def critic_loss(self, params: dict, b: Batch):
        """L_q = mean_k (M_s[q_i(o_i, a_i)] - y_k)^2 with the batch-softmax weighted target y_k;
        also returns q_i(o_i, a_i) [B, N] (the actor's advantage uses these pre-step values)."""
        cfg = self.cfg
        B = b.reward.shape[0]
        q_data = local_q(params, "q", b.obs, b.actions, self.discrete)
        q_tot = mixer(params, "mixer", q_data, b.state)
        next_tot = mixer(params, "mixer_target", local_q(params, "q_target", b.next_obs, b.next_actions,
                                                           self.discrete), b.next_state)
        w = jax.nn.softmax(next_tot / cfg.beta_q, 0) * B
        target = jax.lax.stop_gradient(b.reward + cfg.gamma * (1 - b.done) * w * next_tot)
        return jnp.mean((q_tot - target) ** 2), q_data

    def actor_loss(self, params: dict, b: Batch, q_data, draws: Draws):
        """L_pi = - mean softmax_k(A_i / beta_pi) * B * log pi_i(a_i | o_i), A_i = q_i(o_i, a_i) - E_pi[q_i]."""
        cfg = self.cfg
        B = b.reward.shape[0]
        adv = jax.lax.stop_gradient(q_data - self.expected_q(params, b.obs, b.avail, draws))   # [B, N]
        weight = jax.nn.softmax(adv / cfg.beta_pi, 0) * B
        return -(weight * self.actor_log_prob(params, b.obs, b.actions, b.avail)).mean()

    def update(self, state: TrainState, b: Batch, draws: Draws):
        cfg = self.cfg
        (q_loss, q_data), grads = jax.value_and_grad(self.critic_loss, has_aux=True)(state.params, b)
        state = self.apply_grads(state, grads, "critic", clip=cfg.grad_clip)
        # the actor's step follows the critic's: E_pi[q] from the updated critic, A_i from the pre-step q_i
        pi_loss, grads = jax.value_and_grad(self.actor_loss)(state.params, b, jax.lax.stop_gradient(q_data), draws)
        state = self.apply_grads(state, grads, "actor", clip=cfg.grad_clip)
        params = soft_update(state.params, "q_target", "q", cfg.tau)
        params = soft_update(params, "mixer_target", "mixer", cfg.tau)
        return state._replace(params=params), {"q_loss": q_loss, "pi_loss": pi_loss}
