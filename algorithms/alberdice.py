"""AlberDICE (Matsunaga et al. 2023, "AlberDICE: addressing out-of-distribution joint actions
in offline MARL via alternating stationary distribution correction estimation").

Alternating best response: agent i optimises its own stationary distribution with the other
agents' policies pi_{-i} held fixed, regularised towards the data.  Its reward carries the
penalty alpha KL(pi_{-i}(.|s) || mu(.|s, a_i)) for the others' deviation from the data, and its
data distribution is the dataset's re-weighted to the others' current policies,
d^D(s, a_i) pi_{-i}(a_{-i}|s), i.e. each row weighted by rho_i = prod_{j != i} pi_j(a_j|o_j) /
mu_j(a_j|o_j) at the data actions (paper Sec. 4; authors' code
pymarl-master/src/learners/alberdice_learner.py lines 115-133):

    KL_i(s)  = sum_{j != i} (1/K) sum_k [ log pi_j(a_j^k|o_j) - log mu_j(a_j^k|o_j) ],  a_j^k ~ pi_j(.|o_j)
               (K = 16 samples, lines 115-117)
    rho_i    = min( prod_{j != i} pi_j(a_j|o_j) / mu_j(a_j|o_j), rho_max ) at the data actions
               (clipped at 100, lines 122-125), self-normalised over the batch
    e_i      = r + gamma (1 - done) nu_i(s') - nu_i(s) - alpha KL_i(s)                  (line 119)
    L_i(nu_i, lambda_i) = (1 - gamma) E_{s0}[nu_i(s0)] + E_D[ rho_i alpha f*((e_i - lambda_i)/alpha) ] + lambda_i
    w_i      = max(0, (f')^-1((e_i - lambda_i)/alpha))
    L_pi_i   = - E_D[ rho_i w_i log pi_i(a_i | o_i) ]      (only agent k = step mod N moves: alternation)
    L_mu_j   = - E_D[ log mu_j(a_j | o_j) ]                 (the data policy, by BC)

The KL term is a penalty (it lowers e_i where the others' policies leave the data) and depends
on the state only; the importance weights rho_i carry the others' current actions into agent
i's problem.  (An earlier form here put -alpha sum_{j != i}(log pi_j - log mu_j) at the *data*
actions into e_i: in expectation +alpha KL(mu || pi), a bonus, with no re-weighting;
``tests/test_alberdice.py`` shows it anti-coordinates where this estimator coordinates.)

What remains simplified against the authors' code, and why:
- The data policy of the others is factored, mu(a_{-i}|s, a_i) ~ prod_j mu_j(a_j|o_j) (their
  code fits an autoregressive mu(a_{-i}|s, a_i), lines 77 and 92; with up to 20 agents a factored
  model keeps one batched network), so KL_i and rho_i ignore the data's correlation between
  a_i and a_{-i}.
- Rows are weighted by rho_i, not resampled in proportion to it (lines 127-128: the same
  expectation, lower variance per batch); the weights are normalised to mean 1 in the batch.
- Policies are extracted by weighted BC with rho_i w_i, as OptiDICE's ``wbc`` option; the
  authors use an I-projection on an e-network (lines 140-162: e_i(s, a_i) regressed on e_i
  with a CQL term of weight 0.1, then max_pi E_pi[e_i] - alpha KL(pi_i || mu_i)).
- alpha is fixed; the authors anneal it geometrically from 5 to 0.001 over training
  (line 59; config/algs/alberdice.yaml lines 14-15).
- The f-divergence is a choice (soft chi-square by default, with a normalisation multiplier
  lambda_i); the authors' nu loss is the KL closed form alpha log E[exp(e_i/alpha)] (lines
  131-133).  Their gradient penalty on nu (coefficient 0.1, default.yaml line 90) is omitted.
- Episode ends: (1 - done) bootstraps; the authors append an absorbing state.
- nu_i(s) reads the global state plus agent i's id, all agents in one batched network; for
  continuous actions pi_j and mu_j are tanh Gaussians (the authors' code is discrete only).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp

from algorithms.base import Batch, Draws, Learner, LearnerSpec, TrainState, check_batch
from algorithms.fdiv import get_f_divergence
from algorithms.networks import (
    agent_mlp,
    agent_mlp_init,
    masked_logits,
    tanh_gaussian_init,
    tanh_gaussian_log_prob,
    tanh_gaussian_sample,
)

REWARD_TO_GO = ("never", "smac", "always")


@dataclass
class AlberDICEConfig:
    # Sources: dematsunaga/alberdice, pymarl-master/src/config/algs/alberdice.yaml (yaml) and
    # config/default.yaml (default), learners/alberdice_learner.py (learner).  The ComaDICE paper
    # does not state the settings of its AlberDICE runs on SMAC / MaMuJoCo (no code for them is
    # public), so these are the AlberDICE authors' own (matrix games, Bridge, warehouse).
    alpha: float = 1.0               # fixed KL weight; authors anneal 5 -> 0.001 (yaml lines 14-15, learner
                                     # line 59): no single value to copy, 1.0 sits inside that range
    gamma: float = 0.99              # default.yaml line 42
    lr: float = 1e-4                 # policies and data policies (yaml line 12); nu (nu_lr, yaml line 13)
    hidden: int = 256                # harness width; authors 128 (default.yaml line 53 rnn_hidden_dim, used
                                     # by their MLP critics and sep_mlp agents)
    f_divergence: str = "soft_chi2"  # authors: KL closed form (learner lines 131-133); see docstring
    alternate: bool = True           # one agent's policy per step, round robin (learner lines 47-53)
    kl_samples: int = 16             # a_{-i} ~ pi_{-i} samples for the KL estimate (learner line 116)
    ratio_max: float = 100.0         # clip of prod_j pi_j/mu_j (other_policy_ratio_max, yaml line 26)
    clip_log_ratio: float = 10.0     # numerical guard on each sampled log pi_j - log mu_j (ours)
    grad_clip: float = 1.0           # harness; authors' AlberDICE steps are unclipped (learner lines 136-171)
    reward_to_go: str = "never"      # no AlberDICE SMAC code exists; "smac" / "always" to measure the
                                     # ComaDICE code's SMAC reward-to-go (runner/utils.py line 22) here
    #: training length in the authors' runs (not a learner setting: RunConfig.n_updates)
    TRAINING: ClassVar[str] = ("t_max 3.1M env steps of batch 32 episodes (default.yaml lines 15, 43); "
                               "warehouse 10.05M (config/envs/warehouse.yaml line 18)")

    def validate(self):
        if self.reward_to_go not in REWARD_TO_GO:
            raise ValueError(f"reward_to_go must be one of {', '.join(REWARD_TO_GO)}, got {self.reward_to_go!r}")


def pick_reward(b: Batch, mode: str, discrete: bool) -> jax.Array:
    """The batch's reward, or its undiscounted reward-to-go ("smac": for discrete-action
    tasks only, as the authors' SMAC loaders; "always"; "never")."""
    if mode == "always" or (mode == "smac" and discrete):
        if b.reward_to_go is None:
            raise ValueError("reward_to_go requested but the batch has no reward_to_go")
        return b.reward_to_go
    return b.reward


def sum_others(x):
    """[B, N] -> [B, N]: for each agent i, the sum over j != i."""
    return x.sum(-1, keepdims=True) - x


class AlberDICE(Learner):
    name = "AlberDICE"
    Config = AlberDICEConfig

    def __init__(self, spec: LearnerSpec, cfg: AlberDICEConfig):
        super().__init__(spec, cfg)
        self.fdiv = get_f_divergence(cfg.f_divergence)

    def init_params(self, key) -> dict:
        s, hidden = self.spec, self.cfg.hidden
        k_nu, k_actor, k_mu = jax.random.split(key, 3)
        if s.discrete:
            data_policy = agent_mlp_init(k_mu, "data_policy", s.obs_dim, s.action_dim, s.n_agents, hidden)
        else:
            data_policy = tanh_gaussian_init(k_mu, "data_policy", s.obs_dim, s.action_dim, s.n_agents, hidden)
        return {"lam": jnp.zeros((s.n_agents,)),
                **agent_mlp_init(k_nu, "nu", s.state_dim, 1, s.n_agents, hidden),
                **self.init_actor(k_actor, hidden), **data_policy}

    def groups(self) -> dict:
        # one Adam over every parameter in the eager learner; every parameter gets a gradient at
        # every update (the agents share weights, so the alternation zeroes no whole tensor), so
        # three groups at the same rate step exactly as that one optimiser did
        lr = self.cfg.lr
        return {"nu": (["nu", "lam"], lr), "actor": (["actor"], lr), "mu": (["data_policy"], lr)}

    def nu_value(self, params: dict, state):
        """nu_i(s) of every agent i (the global state with agent i's id): [B, N]."""
        rep = jnp.broadcast_to(state[..., None, :], (*state.shape[:-1], self.spec.n_agents, state.shape[-1]))
        return agent_mlp(params, "nu", rep)[..., 0]

    def log_prob(self, params: dict, name: str, obs, actions, avail=None):
        """log pi_i(a_i | o_i) of the policy ``name`` ("actor" or "data_policy"): [B, N]."""
        return self.actor_log_prob(params, obs, actions, avail, name=name)

    def other_agents(self, params: dict, b: Batch, log_pi, log_mu, draws: Draws):
        """The others' KL penalty KL_i(s) and the row weights rho_i, both [B, N] (see module doc),
        held fixed.  ``log_pi`` / ``log_mu``: log-probabilities of the data actions [B, N]."""
        cfg, K = self.cfg, self.cfg.kl_samples
        if self.spec.discrete:
            logits_pi = masked_logits(agent_mlp(params, "actor", b.obs), b.avail)
            lp_pi = jax.nn.log_softmax(logits_pi, -1)
            lp_mu = jax.nn.log_softmax(masked_logits(agent_mlp(params, "data_policy", b.obs), b.avail), -1)
            a = draws.categorical(logits_pi, (K,))[..., None]                             # [K, B, N, 1]
            sampled = (jnp.take_along_axis(jnp.broadcast_to(lp_pi, (K, *lp_pi.shape)), a, -1)
                       - jnp.take_along_axis(jnp.broadcast_to(lp_mu, (K, *lp_mu.shape)), a, -1))[..., 0]
        else:
            rep = jnp.broadcast_to(b.obs, (K, *b.obs.shape))
            a, lp_a = tanh_gaussian_sample(params, "actor", rep, draws)                    # [K, B, N, A]
            sampled = lp_a - tanh_gaussian_log_prob(params, "data_policy", rep, a)
        per_agent = jnp.clip(sampled, -cfg.clip_log_ratio, cfg.clip_log_ratio).mean(0)  # ~ KL(pi_j || mu_j)
        kl = sum_others(per_agent)
        log_rho = jnp.minimum(sum_others(log_pi - log_mu), math.log(cfg.ratio_max))
        rho = jnp.exp(log_rho - log_rho.max(0, keepdims=True))                           # overflow-safe
        rho = rho / rho.mean(0, keepdims=True)
        return kl, rho

    def residual(self, params: dict, b: Batch, kl):
        """y_i = (e_i - lambda_i) / alpha, e_i = r + gamma (1 - done) nu_i(s') - nu_i(s) - alpha KL_i(s): [B, N]."""
        cfg = self.cfg
        reward = pick_reward(b, cfg.reward_to_go, self.spec.discrete)
        e = (reward[:, None] + cfg.gamma * (1 - b.done)[:, None] * self.nu_value(params, b.next_state)
             - self.nu_value(params, b.state) - cfg.alpha * kl)
        return (e - params["lam"]) / cfg.alpha

    def nu_loss(self, params: dict, b: Batch, y, rho):
        """L_i(nu_i, lambda_i) = (1 - gamma) E_{s0}[nu_i(s0)] + E_D[ rho_i alpha f*(y_i) ] + lambda_i,
        summed over the agents."""
        cfg = self.cfg
        return ((1 - cfg.gamma) * self.nu_value(params, b.init_state).mean(0)
                + (rho * cfg.alpha * self.fdiv.conjugate(y)).mean(0) + params["lam"]).sum()

    def bc_weights(self, y, rho, n_updates):
        """rho_i w_i, w_i = max(0, (f')^-1(y_i)), held fixed; under ``alternate`` only agent
        ``n_updates mod N`` keeps its weights (the others' policies stay where they are): [B, N]."""
        w = jax.lax.stop_gradient(self.fdiv.ratio(y) * rho)
        if self.cfg.alternate:
            w = w * jax.nn.one_hot(n_updates % self.spec.n_agents, self.spec.n_agents, dtype=w.dtype)
        return w

    def pi_loss(self, log_pi, w):
        """L_pi = - E_D[ rho_i w_i log pi_i(a_i | o_i) ], averaged over the batch and the agents."""
        return -(w * log_pi).mean()

    def mu_loss(self, log_mu):
        """L_mu = - E_D[ log mu_j(a_j | o_j) ] (BC of the data policy)."""
        return -log_mu.mean()

    def update(self, state: TrainState, b: Batch, draws: Draws):
        check_batch(self.spec, b)
        # the count of this update, from 1 (state.n_updates counts the updates before it, and the
        # eager learner counted before its step): whose turn it is
        n_updates = state.n_updates + 1

        def total(params):
            log_pi = self.log_prob(params, "actor", b.obs, b.actions, b.avail)           # [B, N]
            log_mu = self.log_prob(params, "data_policy", b.obs, b.actions, b.avail)
            # the others' term is a fixed penalty and fixed weights: no gradient flows through it
            kl, rho = jax.lax.stop_gradient(self.other_agents(params, b, log_pi, log_mu, draws))
            y = self.residual(params, b, kl)
            nu_loss = self.nu_loss(params, b, y, rho)
            pi_loss = self.pi_loss(log_pi, self.bc_weights(y, rho, n_updates))
            mu_loss = self.mu_loss(log_mu)
            return nu_loss + pi_loss + mu_loss, {"nu_loss": nu_loss, "pi_loss": pi_loss, "mu_loss": mu_loss,
                                                 "kl_others": kl.mean(), "rho_max": rho.max()}

        # one backward over the summed losses; each group's gradient clipped on its own
        grads, metrics = jax.grad(total, has_aux=True)(state.params)
        for group in self.groups():
            state = self.apply_grads(state, grads, group, clip=self.cfg.grad_clip)
        return state, metrics
