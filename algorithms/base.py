"""What every learner shares: the spec, the batch, the learner interface, the optimiser and the
config checks.  (The registry is the package's ``__init__``: this module knows no learner.)

A learner is a set of pure functions over one declared state, so that the engine
(``harness/engine.py``) can train many members of a cell in one compiled program (``vmap`` over
members, ``lax.scan`` over updates) and one member's trajectory depends on nothing but its own
state, batches and random numbers::

    learner = make(name, spec, hyperparameters)
    state = learner.init(key)                                # TrainState: params, optimiser, rng
    state, metrics = learner.update(state, batch, draws)     # one gradient step (pure)
    actions = learner.act(state.params, obs, avail, draws, deterministic=True)

Parameters are one flat dict named as the PyTorch modules of the harness's first learners named
their ``state_dict`` entries (``nu.net.0.weight``, ``mixer_target.trunk.0.bias``, ...; weights
``[out, in]``): checkpoints keep their keys, and the recorded fixtures of those learners load
as they are (``tests/test_learner_fixtures.py``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from algorithms.fdiv import F_DIVERGENCES
from algorithms.networks import (
    agent_mlp,
    agent_mlp_init,
    masked_logits,
    tanh_gaussian_init,
    tanh_gaussian_log_prob,
    tanh_gaussian_sample,
)


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


class Batch(NamedTuple):
    """A minibatch of transitions (arrays; a pytree, so the engine samples it inside the program).

    obs [B, N, O], state [B, S], actions [B, N] (int32) or [B, N, A] (float),
    avail [B, N, A] (bool, discrete only), reward [B], done [B] (1.0 where the episode
    *terminated* at this step: no bootstrap; a time-limit cut is not done),
    next_* the successor step (next_actions: the action the data took there; zeros after
    an episode's last step, where only a truncation bootstraps), reward_to_go [B] (undiscounted,
    for the code variant), init_obs / init_state: a separate sample of episode-initial steps (the
    s_0 ~ p_0 term of the DICE objectives); is_init marks the rows of the batch that are themselves
    initial steps (the authors' ComaDICE code uses those instead); episode_end marks every
    episode's last step, a time-limit cut included (the authors' SMAC code stops the bootstrap there).
    """

    obs: jax.Array
    state: jax.Array
    actions: jax.Array
    reward: jax.Array
    done: jax.Array
    next_obs: jax.Array
    next_state: jax.Array
    avail: jax.Array | None = None
    next_avail: jax.Array | None = None
    reward_to_go: jax.Array | None = None
    init_obs: jax.Array | None = None
    init_state: jax.Array | None = None
    next_actions: jax.Array | None = None
    is_init: jax.Array | None = None
    episode_end: jax.Array | None = None


class BatchError(ValueError):
    pass


def check_batch(spec: LearnerSpec, batch: Batch) -> None:
    """The batch's shapes against the spec (a trace-time check: free inside the program)."""
    if batch.reward.ndim != 1:
        raise BatchError(f"reward must be [B], got shape {tuple(batch.reward.shape)}")
    B = batch.reward.shape[0]
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


# -- random numbers ---------------------------------------------------------------------------

class Draws:
    """The random numbers of one update or one act, drawn in call order from one key.  A learner
    draws only through this object, so that a test can replay a recorded run's numbers
    (``tests/test_learner_fixtures.py``) and a member's numbers come from its own key alone."""

    def __init__(self, key):
        self._key = key

    def _next(self):
        self._key, key = jax.random.split(self._key)
        return key

    def normal(self, shape) -> jax.Array:
        return jax.random.normal(self._next(), tuple(shape))

    def uniform(self, shape) -> jax.Array:
        """U[0, 1)."""
        return jax.random.uniform(self._next(), tuple(shape))

    def categorical(self, logits, sample_shape=()) -> jax.Array:
        """Indices drawn from softmax(logits) over the last axis: ``sample_shape + logits.shape[:-1]``."""
        return self._indices(jax.nn.softmax(logits, -1), tuple(sample_shape))

    def multinomial(self, probs, n: int) -> jax.Array:
        """``n`` indices per row of ``probs [M, A]`` with replacement: ``[M, n]``."""
        return self._indices(probs, (n,)).T

    def _indices(self, probs, sample_shape: tuple) -> jax.Array:
        # one uniform per index (inverse CDF), not jax.random.categorical's Gumbel noise per action:
        # the threefry bits of |A| draws per index were a sixth of a discrete OMAR or AlberDICE update
        u = jax.random.uniform(self._next(), sample_shape + probs.shape[:-1])
        return inverse_cdf_index(u, probs)


def inverse_cdf_index(u, probs) -> jax.Array:
    """The first index j of positive probability with u * cdf_last < cdf_j, cdf the cumulative sum of
    ``probs [..., A]`` (unnormalised is fine), ``u [*sample, ...]`` in [0, 1): a draw from ``probs``.
    Never an index of probability zero: should rounding leave no such j, the last index of positive
    probability."""
    cdf = jnp.cumsum(probs, -1)
    above = (cdf > u[..., None] * cdf[..., -1:]) & (probs > 0)
    last = probs.shape[-1] - 1 - jnp.argmax(probs[..., ::-1] > 0, -1)
    return jnp.where(above.any(-1), jnp.argmax(above, -1), last).astype(jnp.int32)


# -- the optimiser (PyTorch's Adam and clip_grad_norm_, to the operation) ----------------------

class AdamState(NamedTuple):
    step: jax.Array     # int32 scalar
    m: dict
    v: dict


def adam_init(params: dict) -> AdamState:
    zeros = {k: jnp.zeros_like(v) for k, v in params.items()}
    return AdamState(jnp.zeros((), jnp.int32), zeros, dict(zeros))


def adam_step(params: dict, grads: dict, opt: AdamState, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
    """torch.optim.Adam (no weight decay, no amsgrad): bias-corrected moments, eps outside the
    square root.  ``params``, ``grads``: the group's entries only.  New (params, state)."""
    b1, b2 = betas
    step = opt.step + 1
    t = step.astype(jnp.float32)
    # 1 - beta^t to float32's precision (1 - b2 ** t in float32 loses five digits at b2 = 0.999;
    # PyTorch computes these corrections in float64)
    c1, c2 = -jnp.expm1(t * math.log(b1)), -jnp.expm1(t * math.log(b2))
    m = {k: b1 * opt.m[k] + (1 - b1) * g for k, g in grads.items()}
    v = {k: b2 * opt.v[k] + (1 - b2) * g * g for k, g in grads.items()}
    new = {k: params[k] - (lr / c1) * m[k] / (jnp.sqrt(v[k]) / jnp.sqrt(c2) + eps) for k in grads}
    return new, AdamState(step, m, v)


def clip_grad_norm(grads: dict, max_norm: float) -> dict:
    """torch.nn.utils.clip_grad_norm_: scale by min(1, max_norm / (total norm + 1e-6))."""
    total = jnp.sqrt(sum(jnp.sum(g * g) for g in grads.values()))
    coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
    return {k: g * coef for k, g in grads.items()}


def soft_update(params: dict, target: str, source: str, tau: float) -> dict:
    """Polyak averaging of every ``target.*`` entry towards ``source.*``: t + tau (s - t)."""
    out = dict(params)
    for k, v in params.items():
        if k.startswith(target + "."):
            s = params[source + k[len(target):]]
            out[k] = v + tau * (s - v)
    return out


class TrainState(NamedTuple):
    """Everything a member's training carries from one update to the next."""
    params: dict                 # every network, targets and multipliers included (flat, named)
    opt: dict                    # optimiser group name -> AdamState
    rng: jax.Array               # the member's key (the engine splits it per update)
    n_updates: jax.Array         # int32 scalar


class Learner:
    """Base class of the learners: the spec and the config, the optimiser groups and the policy.

    Subclasses define ``Config`` (a dataclass of documented hyperparameters), ``init_params``
    (their networks, named), ``groups`` (optimiser group -> the name prefixes it trains and its
    rate) and ``update``; those that act with anything but the shared ``actor`` override ``act``.
    Every method is a pure function of its arguments (``self`` holds only static settings).
    """

    Config = None
    name = "base"

    def __init__(self, spec: LearnerSpec, cfg):
        self.spec, self.cfg = spec, cfg
        self.discrete = spec.discrete

    # -- state ----------------------------------------------------------------------------
    def init_params(self, key) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def groups(self) -> dict:
        """Optimiser group -> (name prefixes of its parameters, learning rate)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def group_keys(self, params: dict, group: str) -> list:
        prefixes = self.groups()[group][0]
        return [k for k in params if any(k == p or k.startswith(p + ".") for p in prefixes)]

    def init(self, key) -> TrainState:
        key, init_key = jax.random.split(key)
        params = self.init_params(init_key)
        opt = {g: adam_init({k: params[k] for k in self.group_keys(params, g)}) for g in self.groups()}
        return TrainState(params, opt, key, jnp.zeros((), jnp.int32))

    def apply_grads(self, state: TrainState, grads: dict, group: str, clip: float | None = None,
                    clip_parts: list | None = None) -> TrainState:
        """One Adam step of ``group`` on ``grads`` (a dict covering at least the group's entries),
        its gradient norm clipped at ``clip`` over the whole group, or over each of ``clip_parts``
        (lists of name prefixes) separately."""
        keys = self.group_keys(state.params, group)
        g = {k: grads[k] for k in keys}
        if clip is not None:
            parts = clip_parts or [self.groups()[group][0]]
            for prefixes in parts:
                part = [k for k in keys if any(k == p or k.startswith(p + ".") for p in prefixes)]
                g.update(clip_grad_norm({k: g[k] for k in part}, clip))
        new, opt = adam_step({k: state.params[k] for k in keys}, g, state.opt[group], self.groups()[group][1])
        return state._replace(params={**state.params, **new}, opt={**state.opt, group: opt})

    def update(self, state: TrainState, batch: Batch, draws: Draws):  # pragma: no cover - abstract
        """One gradient step: (new state, dict of scalar metrics).  ``state.n_updates`` counts the
        updates before this one (``step`` advances it)."""
        raise NotImplementedError

    def step(self, state: TrainState, batch: Batch, draws: Draws):
        """``update``, and the update count advanced: what the engine and the tests run."""
        state, metrics = self.update(state, batch, draws)
        return state._replace(n_updates=state.n_updates + 1), metrics

    # -- the shared policy network ----------------------------------------------------------
    def init_actor(self, key, hidden: int) -> dict:
        s = self.spec
        if s.discrete:
            return agent_mlp_init(key, "actor", s.obs_dim, s.action_dim, s.n_agents, hidden)
        return tanh_gaussian_init(key, "actor", s.obs_dim, s.action_dim, s.n_agents, hidden)

    def actor_log_prob(self, params: dict, obs, actions, avail=None, name: str = "actor"):
        """log pi_i(a_i | o_i) for every agent: [B, N]."""
        if self.discrete:
            logp = jax.nn.log_softmax(masked_logits(agent_mlp(params, name, obs), avail), axis=-1)
            return jnp.take_along_axis(logp, actions[..., None], axis=-1)[..., 0]
        return tanh_gaussian_log_prob(params, name, obs, actions)

    def act(self, params: dict, obs, avail=None, draws: Draws | None = None, deterministic: bool = True):
        """Decentralised actions for [E, N, O] observations: [E, N] ints or [E, N, A] floats."""
        if self.discrete:
            logits = masked_logits(agent_mlp(params, "actor", obs), avail)
            return jnp.argmax(logits, -1) if deterministic else draws.categorical(logits)
        return tanh_gaussian_sample(params, "actor", obs, draws, deterministic)[0]

    def params_from_state_dict(self, arrays: dict) -> dict:
        """Parameters from a checkpoint's arrays (the same names), checked against this learner's."""
        ref = self.init_params(jax.random.PRNGKey(0))
        missing, extra = sorted(set(ref) - set(arrays)), sorted(set(arrays) - set(ref))
        if missing or extra:
            raise ValueError(f"{self.name} parameters do not match: missing {missing[:5]}, unexpected {extra[:5]}")
        bad = [k for k in ref if tuple(ref[k].shape) != tuple(arrays[k].shape)]
        if bad:
            raise ValueError(f"{self.name} parameter {bad[0]} has shape {tuple(arrays[bad[0]].shape)}, "
                             f"expected {tuple(ref[bad[0]].shape)}")
        return {k: jnp.asarray(arrays[k], ref[k].dtype) for k in ref}


def config_from(cls, hyperparameters: dict | None = None):
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
    ``Optional[...]`` or ``... | None`` of them; others are not checked)."""
    import math

    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    parts = [p.strip() for p in text.split("|")]
    if text.startswith("Optional["):
        optional, base = True, text[len("Optional["):-1]
    elif len(parts) == 2 and "None" in parts:  # ``X | None``
        optional, base = True, next(p for p in parts if p != "None")
    else:
        optional, base = False, text
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
