"""ComaDICE: offline cooperative MARL with stationary-distribution correction (ICLR 2025).

Networks (Sec. 5): local values nu_i(o_i), local Q functions q_i(o_i, a_i) (each one
network shared over agents, with agent ids), a mixer M_s with non-negative weights from a
hypernetwork of the global state, and local policies pi_i(a_i | o_i).  Mixed values:
nu_tot(s) = M_s[nu(s)], and A_tot(s, a) = M_s[q - nu] - M_s[0] = q_tot - nu_tot (Eq. 5).

Three formulations (``formulation``); algorithms/README.md compares them.

``authors`` (default): the update of the code that produced the paper's tables,
    vietbt/ComaDICE ``runner/madice/discrete.py`` and ``continuous.py`` (``Trainer.update``),
    in its order of sequential optimiser steps, each group with its own Adam (lr 1e-4,
    ``main.py`` l. 94) and gradient norms clipped at 1 (steps 2-4 share one gradient of their
    summed losses here, which gives the same update: see ``groups``):

    1. Q and mixer:  L_q = E[(sum_i W_i(s) q_i + b(s) - r - gamma (1 - d) nu_tot'(s'))^2],
       nu_tot' from the target nu and target mixer.
    2. nu and lambda_v, per agent, with q and W fixed (q, W after step 1; continuous: q from
       before step 1, as the code reuses its first forward pass):
           e_i = W_i(s) (q_i - nu_i),   x_i = (e_i - lambda_v) / alpha,   w_i = w*(x_i)
           L_nu = (1 - gamma) mean_{init rows of the batch, agents}[nu_i]   (0 if none)
                  + mean_{B, i}[ -alpha f(w_i).detach() + w_i (e_i.detach() - lambda_v) ] + lambda_v
       (nu_i unmixed in the initial-state term, the initial rows those inside the batch).
    3. lambda_e (the BC weights' normalisation):  with e'_i = W'_i(s) (q'_i - nu_i) from the
       target q and target mixer and nu before step 2's update,  w'_i = w*((e'_i - lambda_e)/alpha),
           L_lambda_e = mean[ -alpha f(w'_i) + w'_i (e_i - lambda_e) + lambda_e ]   (w' fixed: mean w' -> 1)
    4. actor:  max E[ sum_i clip(w'_i, max=2) * log pi_i(a_i | o_i) ] (no clip for continuous)
    5. Polyak averaging (tau 0.005) of every network, q and actor included.

    The code's mixer has one layer, so W_i(s) are its weights; with ``mixer_layers: 2`` (the
    appendix ablation) W_i is the mixer's slope dM/dq_i at q, its per-agent credit there.

    Data handling of that code, each its own option: SMAC rewards replaced by the
    undiscounted reward-to-go (``runner/utils.py`` l. 22), the bootstrap stopped at every
    SMAC episode end, time limits included (``discrete.py`` l. 96 infers ends from
    state == next_state, which on its padded data marks every end), MaMuJoCo actions divided
    by 4 and the policy's actions multiplied back (``runner/data.py`` l. 76,
    ``runner/evaluate.py`` l. 61), discrete BC ratios clipped at 2 (``discrete.py`` l. 156).

``paper``: Eqs. 10-12 as written, one joint step:
      L_q  = E_D[(nu_tot(s) + A_tot(s, a) - r - gamma (1 - d) nu_tot'(s'))^2]          (Eq. 10)
      L_nu = (1 - gamma) E_{s0}[nu_tot(s0)] + E_D[alpha f*(A_tot(s, a) / alpha)]     (Eq. 11)
      w*   = max(0, (f')^-1(A_tot / alpha)),  max_pi E_D[w* log pi_i]           (Prop. 4.1, Eq. 12)
    q is held fixed in Eq. 11, so gamma nu(s') enters only through the fitted q, and the
    stationary point of nu's output bias is E_D[w* sum_i W_i] = (1 - gamma) E_{p0}[sum_i W_i]:
    E_D[w] -> 1 - gamma, and with one free value per state d(s) E[w | s] = (1 - gamma) p0(s),
    which has no finite solution: w -> 0 off the initial states and nu grows without bound
    (tests/test_comadice_formulations.py shows E_D[w] approaching 1 - gamma).  The public
    code's departures stay available here as options (``normalisation_multiplier``,
    ``detach_f_in_value_loss``, ``bc_weight``).

``sound``: Prop. 4.1 with a finite fixed point.  nu is trained on the full residual, as
    OptiDICE differentiates it:
      e(s, a, s') = r + gamma nu_tot(s'') - nu_tot(s),   s'' = s' unless s' is terminal, where
                    the episode restarts at a fresh s0 ~ p0 (the restart keeps the flow of
                    stationary mass closed, as OptiDICE's absorbing state does)
      L_nu = (1 - gamma) E_{s0}[nu_tot(s0)] + E_D[alpha f*(e / alpha)]
    Stationarity in a constant shift of nu gives (1 - gamma)(1 - E_D[w]) = 0: the restart makes
    the normalisation E_D[w] = 1 a consequence of nu's own bias, so the fixed point is finite.
    (A normalisation multiplier on top would be redundant and worse: the loss is then
    invariant under nu -> nu + c, lambda -> lambda - (1 - gamma) c, and nu drifts along that
    flat direction -- measured on the bandit: nu_tot 53, every BC weight 0.)  The BC weight is
    the ratio at this loss's own fixed point, w = w*(e / alpha) (exact for deterministic
    transitions, as MuJoCo's and SMAX's are given the enemies' policy).  q and the mixer keep
    the decomposition: they learn Eq. 10 with the same restart target, and nu is mixed with the
    mixer fitted there.  (Weighting by q_tot - nu_tot instead lagged the fast-moving nu through
    q's target network: every weight 0 on the bandit at alpha 0.1.)

``update`` returns diagnostics the training loop checks for divergence: ``bc_weight_mean``,
``bc_weight_max``, ``bc_weight_ess`` (effective sample size over the batch, a fraction),
``nu_tot_mean`` and the multipliers.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from algorithms.base import Batch, Draws, Learner, LearnerSpec, TrainState, soft_update
from algorithms.fdiv import get_f_divergence
from algorithms.networks import (
    agent_mlp,
    agent_mlp_init,
    copy_params,
    local_q,
    local_q_init,
    mix,
    mix_slopes,
    mixer,
    mixer_hyper,
    mixer_init,
)

FORMULATIONS = ("authors", "paper", "sound")


@dataclass
class ComaDICEConfig:
    formulation: str = "authors"   # authors (the code behind the paper's tables) | paper (Eqs. 10-12) | sound
    alpha: float = 10.0            # f-divergence weight (Sec. 6.4; main.py l. 77: alpha = 10)
    gamma: float = 0.99            # discount (runner/madice/*.py: self.gamma = 0.99)
    lr: float = 1e-4               # Adam rate of every group (main.py l. 94 --lr default 1e-4; README)
    hidden: int = 256              # width of nu, q and pi (agents/*/madice.py h_dim=256)
    f_divergence: str = "soft_chi2"  # soft_chi2 (main.py l. 78) | chi2 | kl (appendix ablation)
    mixer_layers: int = 1          # 1 (Sec. 5 footnote 1; the code's MixNet) or 2
    mixer_embed: int = 32          # width of the hidden layer of a 2-layer mixer
    hyper_hidden: int = 64         # width of the mixer's hypernetwork (MixNet h_dim=64)
    tau: float = 0.005             # Polyak rate (runner/madice/*.py: self.tau = 0.005)
    grad_clip: float = 1.0         # max grad norm per network group (self.grad_norm_clip = 1.0)
    # -- data handling; None = the formulation's default (authors: as the code, else off) --
    reward_to_go: bool | None = None         # SMAC rewards -> undiscounted reward-to-go (authors, discrete)
    done_at_episode_end: bool | None = None  # no bootstrap past any episode end, time limits too (authors, discrete)
    action_scale: float | None = None        # data actions / scale, policy actions * scale (authors, continuous: 4)
    bc_weight_clip: float | None = None      # clip per-agent BC ratios (authors/sum_local_clipped, discrete: 2)
    mixer_shared_trunk: bool | None = None   # one hidden layer feeds W and b (authors' MixNet), else two
    mixer_input: str = "state"     # state | concat_obs (the hypernetwork reads concatenated agent obs)
    # -- options of the paper formulation (the authors' code's departures, one at a time) --
    normalisation_multiplier: bool = False  # OptiDICE-style lambda with its own optimiser
    detach_f_in_value_loss: bool = False     # value loss -alpha f(w).detach() + w (A - lambda)
    bc_weight: str = "global"      # global: w_tot (Eq. 12) | sum_local_clipped: sum of per-agent ratios

    def validate(self):
        if self.formulation not in FORMULATIONS:
            raise ValueError(f"unknown ComaDICE formulation {self.formulation!r}; valid: {', '.join(FORMULATIONS)}")
        if self.bc_weight not in ("global", "sum_local_clipped"):
            raise ValueError(f"bc_weight must be 'global' or 'sum_local_clipped', got {self.bc_weight!r}")
        if self.mixer_input not in ("state", "concat_obs"):
            raise ValueError(f"mixer_input must be 'state' or 'concat_obs', got {self.mixer_input!r}")
        if self.mixer_layers not in (1, 2):
            raise ValueError(f"mixer_layers must be 1 or 2, got {self.mixer_layers}")
        if self.mixer_shared_trunk and self.mixer_layers != 1:
            raise ValueError("mixer_shared_trunk needs mixer_layers: 1")
        if self.action_scale is not None and not self.action_scale > 0:
            raise ValueError(f"ComaDICE action_scale must be > 0, got {self.action_scale}")
        if self.bc_weight_clip is not None and not self.bc_weight_clip > 0:
            raise ValueError(f"ComaDICE bc_weight_clip must be > 0, got {self.bc_weight_clip}")
        for name in ("lr", "tau", "grad_clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ComaDICE {name} must be > 0, got {getattr(self, name)}")

    def resolved(self, discrete: bool) -> ComaDICEConfig:
        """The formulation's defaults filled in for the action type (what a run records)."""
        authors = self.formulation == "authors"
        fill = {
            "reward_to_go": authors and discrete,
            "done_at_episode_end": authors and discrete,
            "action_scale": 4.0 if authors and not discrete else 1.0,
            "bc_weight_clip": 2.0 if discrete and (authors or self.bc_weight == "sum_local_clipped") else math.inf,
            "mixer_shared_trunk": authors and self.mixer_layers == 1,  # the code's MixNet has one layer
        }
        return dataclasses.replace(self, **{k: v for k, v in fill.items() if getattr(self, k) is None})


def effective_sample_size(weight) -> jax.Array:
    """(sum w)^2 / sum w^2 over the batch, as a fraction of the batch (1: uniform weights)."""
    w = weight.reshape(-1)
    return w.sum() ** 2 / jnp.maximum((w ** 2).sum() * w.size, 1e-30)


class ComaDICE(Learner):
    name = "ComaDICE"
    Config = ComaDICEConfig

    def __init__(self, spec: LearnerSpec, cfg: ComaDICEConfig):
        cfg = cfg.resolved(spec.discrete)
        super().__init__(spec, cfg)
        self.fdiv = get_f_divergence(cfg.f_divergence)
        self.authors = cfg.formulation == "authors"

    # -- state ----------------------------------------------------------------------------
    def init_params(self, key) -> dict:
        s, cfg = self.spec, self.cfg
        k_nu, k_q, k_mixer, k_actor = jax.random.split(key, 4)
        mixer_in = s.state_dim if cfg.mixer_input == "state" else s.n_agents * s.obs_dim
        online = {**agent_mlp_init(k_nu, "nu", s.obs_dim, 1, s.n_agents, cfg.hidden),
                  **local_q_init(k_q, "q", s.obs_dim, s.action_dim, s.n_agents, s.discrete, cfg.hidden),
                  **mixer_init(k_mixer, "mixer", mixer_in, s.n_agents, cfg.mixer_layers, cfg.mixer_embed,
                               cfg.hyper_hidden, shared_trunk=cfg.mixer_shared_trunk),
                  **self.init_actor(k_actor, cfg.hidden)}
        targets = {**copy_params(online, "nu", "nu_target"), **copy_params(online, "mixer", "mixer_target")}
        if self.authors:
            # the code's target model is a copy of the whole model; its actor copy is never read
            return {**online, **targets, **copy_params(online, "q", "q_target"),
                    "lambda_v": jnp.zeros(()), "lambda_e": jnp.zeros(())}
        # 0 and frozen unless the paper formulation's normalisation option trains it
        return {**online, **targets, "lam": jnp.zeros(())}

    def groups(self) -> dict:
        lr = self.cfg.lr
        if self.authors:
            # The code steps five Adams (q+mixer, nu, lambda_v, lambda_e, actor) in turn.  Adam is
            # per parameter, and steps 2-4 read nothing that another of them changes (lambda_e's
            # and the actor's weights come from the target networks and the nu values before nu's
            # step), so after the q step one gradient of their summed losses and one Adam over the
            # rest give the same update.
            return {"q": (["q", "mixer"], lr), "rest": (["nu", "lambda_v", "lambda_e", "actor"], lr)}
        # one Adam over disjoint groups equals one Adam per group with the same rate
        return {"all": (["nu", "q", "mixer", "actor"] + (["lam"] if self.cfg.normalisation_multiplier else []), lr)}

    # -- shared pieces ------------------------------------------------------------------
    def mixer_input(self, state, obs):
        return state if self.cfg.mixer_input == "state" else obs.reshape(*obs.shape[:-2], -1)

    def nu_values(self, params: dict, obs, name: str = "nu"):
        """Local values nu_i(o_i): [B, N]."""
        return agent_mlp(params, name, obs)[..., 0]

    def q_values(self, params: dict, obs, actions, name: str = "q"):
        """Local values q_i(o_i, a_i) of the given actions: [B, N]."""
        return local_q(params, name, obs, actions, self.discrete)

    def data(self, b: Batch):
        """Actions, rewards and terminal flags as the configured data handling reads them."""
        cfg = self.cfg
        actions = b.actions if self.discrete else b.actions / cfg.action_scale
        reward = b.reward_to_go if cfg.reward_to_go else b.reward
        done = jnp.maximum(b.done, b.episode_end) if cfg.done_at_episode_end else b.done
        return actions, reward, done

    @staticmethod
    def diagnostics(weight, nu_tot, **extra) -> dict:
        return {"bc_weight_mean": weight.mean(), "bc_weight_max": weight.max(),
                "bc_weight_ess": effective_sample_size(weight), "nu_tot_mean": nu_tot.mean(), **extra}

    def update(self, state: TrainState, b: Batch, draws: Draws):
        if self.authors:
            return self.update_authors(state, b)
        return self.update_dual(state, b)

    # -- authors: the code behind the paper's tables -------------------------------------
    def q_loss_authors(self, params: dict, b: Batch):
        """Step 1: L_q = E[(sum_i W_i(s) q_i + b(s) - r - gamma (1 - d) nu_tot'(s'))^2], nu_tot' from
        the target nu and target mixer.  Also the local q values (the continuous value step reuses them)."""
        cfg = self.cfg
        actions, reward, done = self.data(b)
        q = self.q_values(params, b.obs, actions)                                  # [B, N]
        q_tot = mix(q, mixer_hyper(params, "mixer", self.mixer_input(b.state, b.obs)))
        next_nu = self.nu_values(params, b.next_obs, "nu_target")
        next_nu_tot = mixer(params, "mixer_target", next_nu, self.mixer_input(b.next_state, b.next_obs))
        target = jax.lax.stop_gradient(reward + cfg.gamma * (1.0 - done) * next_nu_tot)
        return jnp.mean((q_tot - target) ** 2), q

    def rest_loss_authors(self, params: dict, b: Batch, q_before):
        """Steps 2-4 on the q and mixer after step 1, summed: each of nu, lambda_v, lambda_e and the
        actor gets its gradient from its own loss alone (the others hold it fixed)."""
        cfg, fdiv = self.cfg, self.fdiv
        sg = jax.lax.stop_gradient
        actions, _, _ = self.data(b)
        mix_s = self.mixer_input(b.state, b.obs)

        # 2. nu and lambda_v, per agent, on the updated q and mixer (continuous: the code
        #    reuses the q values of step 1's forward pass)
        #    e_i = W_i(s) (q_i - nu_i),  x_i = (e_i - lambda_v) / alpha,  w_i = w*(x_i)
        q_fixed = sg(self.q_values(params, b.obs, actions) if self.discrete else q_before)
        hyper = sg(mixer_hyper(params, "mixer", mix_s))
        mix_w = mix_slopes(q_fixed, hyper)                                         # [B, N]: W_i(s)
        nu = self.nu_values(params, b.obs)                                         # [B, N]
        lambda_v = params["lambda_v"]
        e_v = mix_w * (q_fixed - nu)
        w_v = fdiv.ratio((e_v - lambda_v) / cfg.alpha)
        # mean of nu_i over the batch's initial rows and the agents, 0 without any (a masked mean)
        init = b.is_init.astype(nu.dtype)[:, None]
        init_term = (1 - cfg.gamma) * (nu * init).sum() / jnp.maximum(init.sum() * nu.shape[-1], 1.0)
        v_loss = (init_term + (-cfg.alpha * sg(fdiv.f(w_v))).mean()
                  + (w_v * (sg(e_v) - lambda_v)).mean() + lambda_v)

        # 3. lambda_e: the BC ratios from the target q and target mixer (and nu before step 2),
        #    normalised to mean 1:  L = mean[-alpha f(w'_i) + w'_i (e_i - lambda_e) + lambda_e], w' fixed
        lambda_e = params["lambda_e"]
        q_target = self.q_values(params, b.obs, actions, "q_target")
        e_target = mix_slopes(q_target, mixer_hyper(params, "mixer_target", mix_s)) * (q_target - nu)
        w_e = sg(fdiv.ratio((e_target - lambda_e) / cfg.alpha))                   # [B, N]
        weight = jnp.minimum(w_e, cfg.bc_weight_clip).sum(-1, keepdims=True)      # [B, 1]
        lambda_e_loss = (-cfg.alpha * fdiv.f(w_e) + w_e * (sg(e_v) - lambda_e) + lambda_e).mean()

        # 4. weighted BC of every local policy: max E[sum_i clip(w'_i) log pi_i(a_i | o_i)]
        pi_loss = -(weight * self.actor_log_prob(params, b.obs, actions, b.avail)).mean()

        nu_tot = mix(sg(nu), hyper)
        return v_loss + lambda_e_loss + pi_loss, (v_loss, pi_loss, weight, nu_tot)

    def update_authors(self, state: TrainState, b: Batch):
        cfg = self.cfg
        # 1. Q and mixer, one Adam, their gradients clipped together
        (q_loss, q), grads = jax.value_and_grad(self.q_loss_authors, has_aux=True)(state.params, b)
        state = self.apply_grads(state, grads, "q", clip=cfg.grad_clip)
        # 2-4. nu, lambda_v, lambda_e and the actor from the updated q and mixer; nu's and the
        #      actor's gradients clipped each on its own, the multipliers' not at all
        (_, (v_loss, pi_loss, weight, nu_tot)), grads = jax.value_and_grad(self.rest_loss_authors, has_aux=True)(
            state.params, b, q)
        state = self.apply_grads(state, grads, "rest", clip=cfg.grad_clip, clip_parts=[["nu"], ["actor"]])
        # 5. Polyak averaging of the whole model
        params = state.params
        for target, source in (("nu_target", "nu"), ("q_target", "q"), ("mixer_target", "mixer")):
            params = soft_update(params, target, source, cfg.tau)
        state = state._replace(params=params)
        return state, {"q_loss": q_loss, "v_loss": v_loss, "pi_loss": pi_loss,
                       **self.diagnostics(weight, nu_tot, lambda_v=params["lambda_v"], lambda_e=params["lambda_e"])}

    # -- paper and sound: one joint step of the dual ---------------------------------------
    def dual_loss(self, params: dict, b: Batch):
        """q_loss + v_loss + pi_loss of the paper and sound formulations (one joint step)."""
        cfg, fdiv = self.cfg, self.fdiv
        sg = jax.lax.stop_gradient
        sound = cfg.formulation == "sound"
        actions, reward, done = self.data(b)
        mix_s = self.mixer_input(b.state, b.obs)
        lam = params["lam"]  # 0 and frozen unless the paper formulation's normalisation option trains it

        nu = self.nu_values(params, b.obs)                    # [B, N]
        q = self.q_values(params, b.obs, actions)             # [B, N]
        hyper = mixer_hyper(params, "mixer", mix_s)
        hyper_fixed = sg(hyper)
        init_mix = self.mixer_input(b.init_state, b.init_obs)
        nu0_tot = mix(self.nu_values(params, b.init_obs), sg(mixer_hyper(params, "mixer", init_mix)))

        # -- Eq. 10: q_tot = nu_tot + A_tot regressed on r + gamma nu_tot'(target) -------
        next_nu_tot = mixer(params, "mixer_target", self.nu_values(params, b.next_obs, "nu_target"),
                            self.mixer_input(b.next_state, b.next_obs))
        if sound:  # a terminal step restarts the episode at s0 ~ p0
            restart = mixer(params, "mixer_target", self.nu_values(params, b.init_obs, "nu_target"), init_mix)
            target = reward + cfg.gamma * ((1.0 - done) * next_nu_tot + done * restart)
        else:
            target = reward + cfg.gamma * (1.0 - done) * next_nu_tot
        target = sg(target)
        nu_tot_fixed = mix(sg(nu), hyper)                     # the mixer learns here, nu does not
        a_tot_q = mix(q - sg(nu), hyper, bias=False)
        q_loss = jnp.mean((nu_tot_fixed + a_tot_q - target) ** 2)

        # -- value loss -------------------------------------------------------------------
        if sound:  # the full residual r + gamma nu_tot(s'') - nu_tot(s), differentiated in nu
            residual = self.residual(params, b, reward, done, nu, hyper_fixed, nu0_tot)
        else:      # Eq. 11: q held fixed, A_tot = M[q - nu]
            residual = mix(sg(q) - nu, hyper_fixed, bias=False)
        y = (residual - lam) / cfg.alpha
        if cfg.detach_f_in_value_loss:
            w_v = fdiv.ratio(y)
            dual = -cfg.alpha * sg(fdiv.f(w_v)) + w_v * (sg(residual) - lam)
        else:
            dual = cfg.alpha * fdiv.conjugate(y)
        v_loss = (1 - cfg.gamma) * nu0_tot.mean() + dual.mean() + lam

        # -- Prop. 4.1 and Eq. 12: w* = max(0, f'^-1((A_tot - lambda)/alpha)); local weighted BC
        a_tot = sg(a_tot_q)
        if sound:  # the ratio at the value loss's own fixed point
            weight = fdiv.ratio(residual / cfg.alpha)[:, None]
        elif cfg.bc_weight == "global":
            weight = fdiv.ratio((a_tot - lam) / cfg.alpha)[:, None]                # [B, 1]
        else:
            local = hyper_fixed[0] * (q - nu) if cfg.mixer_layers == 1 else (q - nu)
            weight = jnp.minimum(fdiv.ratio((local - lam) / cfg.alpha), cfg.bc_weight_clip).sum(-1, keepdims=True)
        weight = sg(weight)
        pi_loss = -(weight * self.actor_log_prob(params, b.obs, actions, b.avail)).mean()
        return q_loss + v_loss + pi_loss, (q_loss, v_loss, pi_loss, a_tot, weight, sg(nu_tot_fixed))

    def update_dual(self, state: TrainState, b: Batch):
        cfg = self.cfg
        (_, (q_loss, v_loss, pi_loss, a_tot, weight, nu_tot)), grads = jax.value_and_grad(
            self.dual_loss, has_aux=True)(state.params, b)
        # each network group's gradient clipped on its own (q with the mixer), the multiplier's not
        state = self.apply_grads(state, grads, "all", clip=cfg.grad_clip,
                                 clip_parts=[["nu"], ["q", "mixer"], ["actor"]])
        params = soft_update(soft_update(state.params, "nu_target", "nu", cfg.tau), "mixer_target", "mixer", cfg.tau)
        state = state._replace(params=params)
        return state, {"q_loss": q_loss, "v_loss": v_loss, "pi_loss": pi_loss, "a_tot_mean": a_tot.mean(),
                       **self.diagnostics(weight, nu_tot, lambda_v=params["lam"])}

    def residual(self, params: dict, b: Batch, reward, done, nu, hyper, nu0_tot):
        """The sound formulation's e = r + gamma nu_tot(s'') - nu_tot(s), with the mixer fixed;
        s'' = s', or s0 (``nu0_tot``) after a termination."""
        nu_tot = mix(nu, hyper)
        next_hyper = jax.lax.stop_gradient(
            mixer_hyper(params, "mixer", self.mixer_input(b.next_state, b.next_obs)))
        nxt = mix(self.nu_values(params, b.next_obs), next_hyper)
        return reward + self.cfg.gamma * ((1.0 - done) * nxt + done * nu0_tot) - nu_tot

    # -- acting and diagnostics ----------------------------------------------------------
    def act(self, params: dict, obs, avail=None, draws: Draws | None = None, deterministic: bool = True):
        a = super().act(params, obs, avail, draws, deterministic)
        return a if self.discrete else a * self.cfg.action_scale

    def occupancy_ratio(self, params: dict, b: Batch) -> jax.Array:
        """The global w*(s, a) = w*((A_tot - lambda) / alpha) for a batch (Prop. 4.1), [B]; for
        the sound formulation the ratio of its residual, w*(e / alpha), which its BC uses."""
        actions, reward, done = self.data(b)
        nu = self.nu_values(params, b.obs)
        if self.cfg.formulation == "sound":
            nu0_tot = mixer(params, "mixer", self.nu_values(params, b.init_obs),
                            self.mixer_input(b.init_state, b.init_obs))
            hyper = mixer_hyper(params, "mixer", self.mixer_input(b.state, b.obs))
            return self.fdiv.ratio(self.residual(params, b, reward, done, nu, hyper, nu0_tot) / self.cfg.alpha)
        a_tot = mixer(params, "mixer", self.q_values(params, b.obs, actions) - nu,
                      self.mixer_input(b.state, b.obs), bias=False)
        lam = params["lambda_e"] if self.authors else params["lam"]
        return self.fdiv.ratio((a_tot - lam) / self.cfg.alpha)

    def nu_tot(self, params: dict, obs, state) -> jax.Array:
        """Mixed value nu_tot(s) of observations [B, N, O] and states [B, S]: [B]."""
        return mixer(params, "mixer", self.nu_values(params, obs), self.mixer_input(state, obs))
