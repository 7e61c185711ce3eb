"""What every learner shares: the spec, the batch, the interface and the config checks.
(The registry is the package's ``__init__``: this module knows no learner.)

    learner = make(name, spec, hyperparameters, device)
    metrics = learner.update(batch)      # one gradient step; dict of detached 0-d tensors
    actions = learner.act(obs, avail, deterministic=True)

``update`` returns tensors, not floats, so that no step forces a host synchronisation;
the training loop turns them into numbers only when it logs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from algorithms.fdiv import F_DIVERGENCES
from algorithms.networks import AgentMLP, TanhGaussianHead, masked_logits


@dataclass(frozen=True)
class LearnerSpec:
    n_agents: int
    obs_dim: int
    state_dim: int
    action_dim: int          # discrete: number of actions; continuous: action size per agent
    action_type: str         # "discrete" | "continuous"

    @property
    def discrete(self) -> bool:
        return self.action_type == "discrete"


@dataclass
class Batch:
    """A minibatch of transitions, every tensor on the training device.

    obs [B, N, O], state [B, S], actions [B, N] (long) or [B, N, A] (float),
    avail [B, N, A] (bool, discrete only), reward [B], done [B] (1.0 where the episode
    *terminated* at this step: no bootstrap; a time-limit cut is not done),
    next_* the successor step (next_actions: the action the data took there; zeros after
    an episode's last step, where only a truncation bootstraps), reward_to_go [B] (undiscounted, for the code variant),
    init_obs / init_state: a separate sample of episode-initial steps (the s_0 ~ p_0
    term of the DICE objectives); is_init marks the rows of the batch that are themselves
    initial steps (the authors' ComaDICE code uses those instead); episode_end marks every
    episode's last step, a time-limit cut included (the authors' SMAC code stops the
    bootstrap there).
    """

    obs: torch.Tensor
    state: torch.Tensor
    actions: torch.Tensor
    reward: torch.Tensor
    done: torch.Tensor
    next_obs: torch.Tensor
    next_state: torch.Tensor
    avail: Optional[torch.Tensor] = None
    next_avail: Optional[torch.Tensor] = None
    reward_to_go: Optional[torch.Tensor] = None
    init_obs: Optional[torch.Tensor] = None
    init_state: Optional[torch.Tensor] = None
    next_actions: Optional[torch.Tensor] = None  # the data's next joint action (zeros after an episode's end)
    is_init: Optional[torch.Tensor] = None       # [B] bool: the row is an episode's first step
    episode_end: Optional[torch.Tensor] = None   # [B] 1.0 where the row is its episode's last step (terminated or cut)


class BatchError(ValueError):
    pass


def check_batch(spec: LearnerSpec, batch: Batch, values: bool = False) -> None:
    """Shapes always (free); finiteness when ``values`` (costs a host sync)."""
    B = batch.reward.shape[0] if batch.reward.dim() == 1 else None
    if B is None:
        raise BatchError(f"reward must be [B], got shape {tuple(batch.reward.shape)}")
    N, O, S = spec.n_agents, spec.obs_dim, spec.state_dim
    expect = {"obs": (B, N, O), "next_obs": (B, N, O), "state": (B, S), "next_state": (B, S), "done": (B,)}
    expect["actions"] = (B, N) if spec.discrete else (B, N, spec.action_dim)
    if spec.discrete:
        expect["avail"] = (B, N, spec.action_dim)
        expect["next_avail"] = (B, N, spec.action_dim)
    for key, shape in expect.items():
        t = getattr(batch, key)
        if t is None:
            raise BatchError(f"batch has no '{key}' (expected shape {shape})")
        if tuple(t.shape) != shape:
            raise BatchError(f"batch '{key}' has shape {tuple(t.shape)}, expected {shape} "
                             f"(agents={N}, obs_dim={O}, state_dim={S}, action_dim={spec.action_dim})")
    if values:
        for key in ("obs", "state", "reward", "next_obs", "next_state"):
            if not torch.isfinite(getattr(batch, key)).all():
                raise BatchError(f"batch '{key}' contains NaN or infinity")
        if not spec.discrete and not torch.isfinite(batch.actions).all():
            raise BatchError("batch 'actions' contains NaN or infinity")


class Learner(nn.Module):
    """Base class: holds the spec and device, checks batches, and acts with ``self.actor``.

    Subclasses define ``Config`` (a dataclass of documented hyperparameters), build their
    networks in ``__init__`` (calling ``super().__init__``), implement ``_update`` and,
    unless they use the shared actor below, ``act``.
    """

    Config = None
    name = "base"
    #: how many first updates also check batch values for NaN (a host sync each)
    value_checks = 1

    def __init__(self, spec: LearnerSpec, cfg, device="cpu"):
        super().__init__()
        self.spec, self.cfg, self.device = spec, cfg, torch.device(device)
        self.n_updates = 0

    # -- the shared policy network ------------------------------------------------------
    def make_actor(self, hidden: int) -> nn.Module:
        s = self.spec
        if s.discrete:
            return AgentMLP(s.obs_dim, s.action_dim, s.n_agents, hidden)
        return TanhGaussianHead(s.obs_dim, s.action_dim, s.n_agents, hidden)

    def actor_log_prob(self, obs, actions, avail=None) -> torch.Tensor:
        """log pi_i(a_i | o_i) for every agent: [B, N]."""
        if self.spec.discrete:
            logp = torch.log_softmax(masked_logits(self.actor(obs), avail), dim=-1)
            return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return self.actor.log_prob(obs, actions)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, avail: Optional[torch.Tensor] = None, deterministic: bool = True):
        """Decentralised actions for [E, N, O] observations: [E, N] ints or [E, N, A] floats."""
        if self.spec.discrete:
            logits = masked_logits(self.actor(obs), avail)
            if deterministic:
                return logits.argmax(-1)
            return torch.distributions.Categorical(logits=logits).sample()
        return self.actor.sample(obs, deterministic)[0]

    # -- the update ---------------------------------------------------------------------
    def update(self, batch: Batch) -> dict:
        check_batch(self.spec, batch, values=self.n_updates < self.value_checks)
        self.n_updates += 1
        return self._update(batch)

    def _update(self, batch: Batch) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


def config_from(cls, hyperparameters: Optional[dict] = None):
    """Learner class ``cls``'s Config from ``hyperparameters``: unknown names, wrong types (an int
    field given 64.5, 20.0 or "big"; PyYAML's string "1e-3" for a float) and generic ranges
    (``FIELD_RANGES``, ``FIELD_CHOICES``) are refused before the learner's own ``validate()``."""
    hp = dict(hyperparameters or {})
    fields = {f.name: f for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(hp) - set(fields))
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) for {cls.name}: {', '.join(unknown)}; "
                         f"valid: {', '.join(fields)}")
    problems = [p for key, value in hp.items() for p in _field_problems(cls.name, key, fields[key].type, value)]
    if problems:
        raise ValueError("; ".join(problems))
    cfg = cls.Config(**hp)
    problems = _range_problems(cls.name, cfg)
    if problems:
        raise ValueError("; ".join(problems))
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def yaml_number_hint(value) -> str:
    """Why a string stands where a number belongs, when it reads as one (else "")."""
    import re

    if not isinstance(value, str):
        return ""
    try:
        as_float = float(value)
    except ValueError:
        return ""
    if re.fullmatch(r"\s*[-+]?\d+[eE][-+]?\d+\s*", value):
        return (f" (YAML 1.1, which PyYAML and Snakemake follow, reads {value} -- an exponent without a decimal "
                f"point -- as text: write {value.strip().lower().replace('e', '.0e', 1)} or {as_float!r})")
    return f" (it is quoted, so YAML reads it as text: write {value.strip()} without quotes)"


def _field_problems(algo: str, key: str, annotation, value) -> list:
    """The value against the Config field's annotation (``int``, ``float``, ``bool``, ``str``,
    ``Optional[...]`` of them; others are not checked)."""
    import math

    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    optional = text.startswith("Optional[")
    base = text[len("Optional["):-1] if optional else text
    if value is None:
        return [] if optional else [f"{algo} {key}: null is not allowed (expected {base})"]
    what = f"{algo} {key}: {value!r}"
    if base == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                return [f"{what} must be an integer: write {int(value)}"]
            return [f"{what} must be an integer{yaml_number_hint(value)}"]
    elif base == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{what} must be a number{yaml_number_hint(value)}"]
        if not math.isfinite(value):
            return [f"{what} must be a finite number"]
    elif base == "bool":
        if not isinstance(value, bool):
            return [f"{what} must be true or false"]
    elif base == "str":
        if not isinstance(value, str):
            return [f"{what} must be a string"]
    return []


#: ranges every learner's hyperparameter of that name must respect: name -> (test, what the test
#: says).  The one statement of each range: a learner's ``validate()`` checks only what no other
#: learner shares (its own choices, rules between its fields).
FIELD_RANGES = {
    "lr": (lambda v: v > 0, "> 0"),
    "tau": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "gamma": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "grad_clip": (lambda v: v > 0, "> 0"),
    "action_scale": (lambda v: v > 0, "> 0"),
    "alpha": (lambda v: v > 0, "> 0"),
    "cql_alpha": (lambda v: v >= 0, ">= 0"),
    "entropy": (lambda v: v >= 0, ">= 0"),
    "threshold": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "phi": (lambda v: v >= 0, ">= 0"),
    "beta_q": (lambda v: v > 0, "> 0"),
    "beta_pi": (lambda v: v > 0, "> 0"),
    "omar_coe": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "omar_sigma": (lambda v: v > 0, "> 0"),
    "z_clip": (lambda v: v > 0, "> 0"),
    "clip_log_ratio": (lambda v: v > 0, "> 0"),
    "bc_weight_clip": (lambda v: v > 0, "> 0"),
    "ratio_max": (lambda v: v > 0, "> 0"),
    **{k: (lambda v: v >= 1, ">= 1") for k in ("hidden", "hyper_hidden", "mixer_embed", "mixer_layers",
                                              "n_candidates", "n_samples", "omar_iters", "omar_num_samples",
                                              "omar_num_elites", "kl_samples")},
}

#: values every learner's hyperparameter of that name must be one of (the DICE learners' f)
FIELD_CHOICES = {"f_divergence": F_DIVERGENCES}

#: pairs of fields ordered by every learner that has both: (smaller, larger)
FIELD_ORDER = (("omar_num_elites", "omar_num_samples"),)


def _range_problems(algo: str, cfg) -> list:
    out = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in FIELD_RANGES and value is not None and not isinstance(value, bool):
            test, text = FIELD_RANGES[f.name]
            if not test(value):
                out.append(f"{algo} {f.name} must be {text}, got {value!r}")
    for name, choices in FIELD_CHOICES.items():
        value = getattr(cfg, name, None)
        if value is not None and value not in choices:
            out.append(f"{algo} {name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    for small, large in FIELD_ORDER:
        a, b = getattr(cfg, small, None), getattr(cfg, large, None)
        if a is not None and b is not None and a > b:
            out.append(f"{algo} {small} ({a}) must not exceed {large} ({b})")
    return out
