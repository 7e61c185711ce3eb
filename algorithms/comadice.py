"""ComaDICE: offline cooperative MARL with stationary-distribution correction (ICLR 2025).

Networks (Sec. 5): local values nu_i(o_i), local Q functions q_i(o_i, a_i) (each one
network shared over agents, with agent ids), a mixer M_s with non-negative weights from a
hypernetwork of the global state, and local policies pi_i(a_i | o_i).  Mixed values:
nu_tot(s) = M_s[nu(s)], and A_tot(s, a) = M_s[q - nu] - M_s[0] = q_tot - nu_tot (Eq. 5).

Three formulations (``formulation``); algorithms/README.md compares them.

``authors`` (default): the update of the code that produced the paper's tables,
    vietbt/ComaDICE ``runner/madice/discrete.py`` and ``continuous.py`` (``Trainer.update``),
    in its order of sequential optimiser steps, each group with its own Adam (lr 1e-4,
    ``main.py`` l. 94) and gradient norms clipped at 1 (steps 2-4 share one backward pass
    here, which gives the same update: see ``__init__``):

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

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from algorithms.torch_base import Batch, Learner, LearnerSpec
from algorithms.torch_fdiv import get_f_divergence
from algorithms.torch_networks import AgentMLP, HyperMixer, LocalQ, soft_update

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
    reward_to_go: Optional[bool] = None         # SMAC rewards -> undiscounted reward-to-go (authors, discrete)
    done_at_episode_end: Optional[bool] = None  # no bootstrap past any episode end, time limits too (authors, discrete)
    action_scale: Optional[float] = None        # data actions / scale, policy actions * scale (authors, continuous: 4)
    bc_weight_clip: Optional[float] = None      # clip per-agent BC ratios (authors/sum_local_clipped, discrete: 2)
    mixer_shared_trunk: Optional[bool] = None   # one hidden layer feeds W and b (authors' MixNet), else two
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

    def resolved(self, discrete: bool) -> "ComaDICEConfig":
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


def effective_sample_size(weight: torch.Tensor) -> torch.Tensor:
    """(sum w)^2 / sum w^2 over the batch, as a fraction of the batch (1: uniform weights)."""
    w = weight.reshape(-1)
    return w.sum() ** 2 / (w.pow(2).sum() * w.numel()).clamp_min(1e-30)


class ComaDICE(Learner):
    name = "ComaDICE"
    Config = ComaDICEConfig

    def __init__(self, spec: LearnerSpec, cfg: ComaDICEConfig, device="cpu"):
        cfg = cfg.resolved(spec.discrete)
        super().__init__(spec, cfg, device)
        self.fdiv = get_f_divergence(cfg.f_divergence)
        mixer_in = spec.state_dim if cfg.mixer_input == "state" else spec.n_agents * spec.obs_dim
        self.nu = AgentMLP(spec.obs_dim, 1, spec.n_agents, cfg.hidden)
        self.q = LocalQ(spec.obs_dim, spec.action_dim, spec.n_agents, spec.discrete, cfg.hidden)
        self.mixer = HyperMixer(mixer_in, spec.n_agents, cfg.mixer_layers, cfg.mixer_embed, cfg.hyper_hidden,
                                shared_trunk=cfg.mixer_shared_trunk)
        self.actor = self.make_actor(cfg.hidden)
        self.nu_target = copy.deepcopy(self.nu).requires_grad_(False)
        self.mixer_target = copy.deepcopy(self.mixer).requires_grad_(False)
        self.groups = {"nu": list(self.nu.parameters()),
                       "q": list(self.q.parameters()) + list(self.mixer.parameters()),
                       "actor": list(self.actor.parameters())}
        if cfg.formulation == "authors":
            # the code's target model is a copy of the whole model; its actor copy is never read
            self.q_target = copy.deepcopy(self.q).requires_grad_(False)
            self.lambda_v = nn.Parameter(torch.zeros(()))
            self.lambda_e = nn.Parameter(torch.zeros(()))
            # The code steps five Adams (q+mixer, nu, lambda_v, lambda_e, actor) in turn.  Adam is
            # per parameter, and steps 2-4 below read nothing that another of them changes
            # (lambda_e's and the actor's weights come from the target networks and the nu
            # values before nu's step), so after the q step one backward pass and one Adam over
            # the rest give the same update, two passes instead of four.
            # (fused: one kernel for all parameters, the same arithmetic as the code's Adam)
            self.optim_q = torch.optim.Adam(self.groups["q"], lr=cfg.lr, fused=True)
            self.optim_rest = torch.optim.Adam(self.groups["nu"] + [self.lambda_v, self.lambda_e]
                                               + self.groups["actor"], lr=cfg.lr, fused=True)
        else:
            trained = cfg.normalisation_multiplier
            self.lam = nn.Parameter(torch.zeros(()), requires_grad=trained)
            params = [p for g in self.groups.values() for p in g] + ([self.lam] if trained else [])
            # one Adam over disjoint groups equals one Adam per group with the same rate
            self.optim = torch.optim.Adam(params, lr=cfg.lr)

    # -- shared pieces ------------------------------------------------------------------
    def _mixer_input(self, state, obs):
        return state if self.cfg.mixer_input == "state" else obs.flatten(-2)

    def _data(self, b: Batch):
        """Actions, rewards and terminal flags as the configured data handling reads them."""
        cfg = self.cfg
        actions = b.actions if self.spec.discrete else b.actions / cfg.action_scale
        reward = b.reward_to_go if cfg.reward_to_go else b.reward
        done = torch.maximum(b.done, b.episode_end) if cfg.done_at_episode_end else b.done
        return actions, reward, done

    def _clip_step(self, optim, params):
        torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        optim.step()

    @staticmethod
    def _diagnostics(weight, nu_tot, **extra) -> dict:
        w = weight.detach()
        return {"bc_weight_mean": w.mean(), "bc_weight_max": w.max(), "bc_weight_ess": effective_sample_size(w),
                "nu_tot_mean": nu_tot.detach().mean(), **{k: v.detach() for k, v in extra.items()}}

    def _update(self, b: Batch) -> dict:
        if self.cfg.formulation == "authors":
            return self._update_authors(b)
        return self._update_dual(b)

    # -- authors: the code behind the paper's tables -------------------------------------
    def _update_authors(self, b: Batch) -> dict:
        cfg, fdiv = self.cfg, self.fdiv
        actions, reward, done = self._data(b)
        mix_s = self._mixer_input(b.state, b.obs)

        # 1. Q and mixer: sum_i W_i q_i + b regressed on r + gamma (1 - d) nu_tot'(s')
        q = self.q(b.obs, actions)                                             # [B, N]
        q_tot = HyperMixer.mix(q, self.mixer.hyper(mix_s))
        with torch.no_grad():
            next_nu = self.nu_target(b.next_obs).squeeze(-1)
            next_nu_tot = self.mixer_target(next_nu, self._mixer_input(b.next_state, b.next_obs))
            target = reward + cfg.gamma * (1.0 - done) * next_nu_tot
        q_loss = F.mse_loss(q_tot, target)
        self.optim_q.zero_grad(set_to_none=True)
        q_loss.backward()
        self._clip_step(self.optim_q, self.groups["q"])

        # 2. nu and lambda_v, per agent, on the updated q and mixer (continuous: the code
        #    reuses the q values of step 1's forward pass)
        with torch.no_grad():
            q_fixed = self.q(b.obs, actions) if self.spec.discrete else q.detach()
            hyper = self.mixer.hyper(mix_s)
            mix_w = HyperMixer.slopes(q_fixed, hyper)                          # [B, N]: W_i(s)
        nu = self.nu(b.obs).squeeze(-1)                                        # [B, N]
        e_v = mix_w * (q_fixed - nu)
        w_v = fdiv.ratio((e_v - self.lambda_v) / cfg.alpha)
        # mean of nu_i over the batch's initial rows and the agents, 0 without any (a masked
        # mean: no host synchronisation, unlike selecting the rows)
        init = b.is_init.to(nu.dtype).unsqueeze(-1)
        init_term = (1 - cfg.gamma) * (nu * init).sum() / (init.sum() * nu.shape[-1]).clamp_min(1.0)
        v_loss = (init_term + (-cfg.alpha * fdiv.f(w_v).detach()).mean()
                  + (w_v * (e_v.detach() - self.lambda_v)).mean() + self.lambda_v)

        # 3. lambda_e: the BC ratios from the target q and target mixer, normalised to mean 1
        with torch.no_grad():
            q_target = self.q_target(b.obs, actions)
            e_target = HyperMixer.slopes(q_target, self.mixer_target.hyper(mix_s)) * (q_target - nu)
            w_e = fdiv.ratio((e_target - self.lambda_e) / cfg.alpha)           # [B, N]
            weight = w_e.clamp_max(cfg.bc_weight_clip).sum(-1, keepdim=True)   # [B, 1]
        lambda_e_loss = (-cfg.alpha * fdiv.f(w_e) + w_e * (e_v.detach() - self.lambda_e) + self.lambda_e).mean()

        # 4. weighted BC of every local policy
        pi_loss = -(weight * self.actor_log_prob(b.obs, actions, b.avail)).mean()

        # steps 2-4 in one pass: each parameter's gradient comes from its own loss alone
        self.optim_rest.zero_grad(set_to_none=True)
        (v_loss + lambda_e_loss + pi_loss).backward()
        torch.nn.utils.clip_grad_norm_(self.groups["nu"], cfg.grad_clip)
        torch.nn.utils.clip_grad_norm_(self.groups["actor"], cfg.grad_clip)
        self.optim_rest.step()

        # 5. Polyak averaging of the whole model
        soft_update(self.nu_target, self.nu, cfg.tau)
        soft_update(self.q_target, self.q, cfg.tau)
        soft_update(self.mixer_target, self.mixer, cfg.tau)
        nu_tot = HyperMixer.mix(nu.detach(), hyper)
        return {"q_loss": q_loss.detach(), "v_loss": v_loss.detach(), "pi_loss": pi_loss.detach(),
                **self._diagnostics(weight, nu_tot, lambda_v=self.lambda_v, lambda_e=self.lambda_e)}

    # -- paper and sound: one joint step of the dual ---------------------------------------
    def _update_dual(self, b: Batch) -> dict:
        cfg, fdiv = self.cfg, self.fdiv
        sound = cfg.formulation == "sound"
        actions, reward, done = self._data(b)
        mix_s = self._mixer_input(b.state, b.obs)
        lam = self.lam  # 0 and frozen unless the paper formulation's normalisation option trains it

        nu = self.nu(b.obs).squeeze(-1)                       # [B, N]
        q = self.q(b.obs, actions)                            # [B, N]
        hyper = self.mixer.hyper(mix_s)
        hyper_fixed = tuple(p.detach() for p in hyper)
        init_mix = self._mixer_input(b.init_state, b.init_obs)
        nu0 = self.nu(b.init_obs).squeeze(-1)
        nu0_tot = HyperMixer.mix(nu0, tuple(p.detach() for p in self.mixer.hyper(init_mix)))

        # -- Eq. 10: q_tot = nu_tot + A_tot regressed on r + gamma nu_tot'(target) -------
        with torch.no_grad():
            next_nu = self.nu_target(b.next_obs).squeeze(-1)
            next_nu_tot = self.mixer_target(next_nu, self._mixer_input(b.next_state, b.next_obs))
            if sound:  # a terminal step restarts the episode at s0 ~ p0
                restart = self.mixer_target(self.nu_target(b.init_obs).squeeze(-1), init_mix)
                target = reward + cfg.gamma * ((1.0 - done) * next_nu_tot + done * restart)
            else:
                target = reward + cfg.gamma * (1.0 - done) * next_nu_tot
        nu_tot_fixed = HyperMixer.mix(nu.detach(), hyper)     # the mixer learns here, nu does not
        a_tot_q = HyperMixer.mix(q - nu.detach(), hyper, bias=False)
        q_loss = F.mse_loss(nu_tot_fixed + a_tot_q, target)

        # -- value loss -------------------------------------------------------------------
        if sound:  # the full residual r + gamma nu_tot(s'') - nu_tot(s), differentiated in nu
            residual = self._residual(b, reward, done, nu, hyper_fixed, nu0_tot)
        else:      # Eq. 11: q held fixed, A_tot = M[q - nu]
            residual = HyperMixer.mix(q.detach() - nu, hyper_fixed, bias=False)
        y = (residual - lam) / cfg.alpha
        if cfg.detach_f_in_value_loss:
            w_v = fdiv.ratio(y)
            dual = -cfg.alpha * fdiv.f(w_v).detach() + w_v * (residual.detach() - lam)
        else:
            dual = cfg.alpha * fdiv.conjugate(y)
        v_loss = (1 - cfg.gamma) * nu0_tot.mean() + dual.mean() + lam

        # -- Prop. 4.1 and Eq. 12: w* = max(0, f'^-1((A_tot - lambda)/alpha)); local weighted BC
        with torch.no_grad():
            a_tot = a_tot_q.detach()
            if sound:  # the ratio at the value loss's own fixed point
                weight = fdiv.ratio(residual.detach() / cfg.alpha).unsqueeze(-1)
            elif cfg.bc_weight == "global":
                weight = fdiv.ratio((a_tot - lam) / cfg.alpha).unsqueeze(-1)   # [B, 1]
            else:
                local = hyper_fixed[0] * (q - nu) if self.mixer.layers == 1 else (q - nu)
                weight = fdiv.ratio((local - lam) / cfg.alpha).clamp_max(cfg.bc_weight_clip).sum(-1, keepdim=True)
        pi_loss = -(weight * self.actor_log_prob(b.obs, actions, b.avail)).mean()

        self.optim.zero_grad(set_to_none=True)
        (q_loss + v_loss + pi_loss).backward()
        for params in self.groups.values():
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        self.optim.step()
        soft_update(self.nu_target, self.nu, cfg.tau)
        soft_update(self.mixer_target, self.mixer, cfg.tau)
        return {"q_loss": q_loss.detach(), "v_loss": v_loss.detach(), "pi_loss": pi_loss.detach(),
                "a_tot_mean": a_tot.mean(), **self._diagnostics(weight, nu_tot_fixed.detach(), lambda_v=lam)}

    def _residual(self, b: Batch, reward, done, nu, hyper, nu0_tot):
        """The sound formulation's e = r + gamma nu_tot(s'') - nu_tot(s), with the mixer fixed;
        s'' = s', or s0 (``nu0_tot``) after a termination."""
        nu_tot = HyperMixer.mix(nu, hyper)
        next_hyper = tuple(p.detach() for p in self.mixer.hyper(self._mixer_input(b.next_state, b.next_obs)))
        nxt = HyperMixer.mix(self.nu(b.next_obs).squeeze(-1), next_hyper)
        return reward + self.cfg.gamma * ((1.0 - done) * nxt + done * nu0_tot) - nu_tot

    # -- acting and diagnostics ----------------------------------------------------------
    @torch.no_grad()
    def act(self, obs, avail=None, deterministic=True):
        a = super().act(obs, avail, deterministic)
        return a if self.spec.discrete else a * self.cfg.action_scale

    @torch.no_grad()
    def occupancy_ratio(self, b: Batch) -> torch.Tensor:
        """The global w*(s, a) = w*((A_tot - lambda) / alpha) for a batch (Prop. 4.1), [B]; for
        the sound formulation the ratio of its residual, w*(e / alpha), which its BC uses."""
        actions, reward, done = self._data(b)
        nu = self.nu(b.obs).squeeze(-1)
        if self.cfg.formulation == "sound":
            init_mix = self._mixer_input(b.init_state, b.init_obs)
            nu0_tot = self.mixer(self.nu(b.init_obs).squeeze(-1), init_mix)
            hyper = self.mixer.hyper(self._mixer_input(b.state, b.obs))
            return self.fdiv.ratio(self._residual(b, reward, done, nu, hyper, nu0_tot) / self.cfg.alpha)
        a_tot = self.mixer(self.q(b.obs, actions) - nu, self._mixer_input(b.state, b.obs), bias=False)
        lam = self.lambda_e if self.cfg.formulation == "authors" else self.lam
        return self.fdiv.ratio((a_tot - lam) / self.cfg.alpha)

    @torch.no_grad()
    def nu_tot(self, obs, state) -> torch.Tensor:
        """Mixed value nu_tot(s) of observations [B, N, O] and states [B, S]: [B]."""
        return self.mixer(self.nu(obs).squeeze(-1), self._mixer_input(state, obs))
