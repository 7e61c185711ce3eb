"""Networks every learner shares, as pure functions over a flat parameter dict.

All agents go through a network in one batched call: inputs are ``[..., N, D]`` and the agent id
(one-hot) is appended to the last axis, so one set of weights serves every agent (parameter
sharing, as in the paper's code and OMIGA).  A network is a name prefix in the parameter dict:
``agent_mlp(params, "nu", obs)`` reads ``nu.net.0.weight`` ... ``nu.net.4.bias``, the names of the
PyTorch modules these functions were written from (``nn.Sequential`` of Linear and ReLU: the
linear layers sit at indices 0, 2, 4).  Weights are ``[out, in]`` and initialised as
``torch.nn.Linear`` initialises them: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias too.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

# -- linear layers and MLPs ------------------------------------------------------------------


def linear_init(key, name: str, in_dim: int, out_dim: int, gain: float = None) -> dict:
    kw, kb = jax.random.split(key)
    if gain is not None:  # the output layers initialised small (uniform in [-gain, gain], zero bias)
        return {f"{name}.weight": jax.random.uniform(kw, (out_dim, in_dim), minval=-gain, maxval=gain),
                f"{name}.bias": jnp.zeros((out_dim,))}
    bound = 1.0 / math.sqrt(in_dim)
    return {f"{name}.weight": jax.random.uniform(kw, (out_dim, in_dim), minval=-bound, maxval=bound),
            f"{name}.bias": jax.random.uniform(kb, (out_dim,), minval=-bound, maxval=bound)}


def linear(params: dict, name: str, x):
    return x @ params[f"{name}.weight"].T + params[f"{name}.bias"]


def mlp_init(key, name: str, in_dim: int, out_dim: int, hidden: int = 256, layers: int = 2,
             out_gain: float = None) -> dict:
    keys = jax.random.split(key, layers + 1)
    out, d = {}, in_dim
    for i in range(layers):
        out.update(linear_init(keys[i], f"{name}.{2 * i}", d, hidden))
        d = hidden
    out.update(linear_init(keys[layers], f"{name}.{2 * layers}", d, out_dim, out_gain))
    return out


def mlp_layers(params: dict, name: str) -> int:
    """The number of hidden layers of the MLP ``name`` (from its parameters)."""
    i = 0
    while f"{name}.{2 * (i + 1)}.weight" in params:
        i += 1
    return i


def mlp(params: dict, name: str, x, layers: int = None):
    layers = mlp_layers(params, name) if layers is None else layers
    for i in range(layers):
        x = jax.nn.relu(linear(params, f"{name}.{2 * i}", x))
    return linear(params, f"{name}.{2 * layers}", x)


def agent_mlp_init(key, name: str, in_dim: int, out_dim: int, n_agents: int, hidden: int = 256,
                   layers: int = 2, out_gain: float = None) -> dict:
    """Shared MLP over agents, ``[..., N, in_dim] -> [..., N, out_dim]`` with agent ids."""
    return mlp_init(key, f"{name}.net", in_dim + n_agents, out_dim, hidden, layers, out_gain)


def agent_mlp(params: dict, name: str, x):
    n = x.shape[-2]
    ids = jnp.broadcast_to(jnp.eye(n, dtype=x.dtype), x.shape[:-1] + (n,))
    return mlp(params, f"{name}.net", jnp.concatenate([x, ids], axis=-1))


# -- local Q functions ------------------------------------------------------------------------


def local_q_init(key, name: str, obs_dim: int, action_dim: int, n_agents: int, discrete: bool,
                 hidden: int = 256) -> dict:
    """Local Q functions q_i(o_i, a_i), shared over agents: discrete heads over all actions, or a
    continuous critic of (o_i, a_i)."""
    in_dim = obs_dim + (0 if discrete else action_dim)
    return agent_mlp_init(key, f"{name}.net", in_dim, action_dim if discrete else 1, n_agents, hidden)


def local_q_all(params: dict, name: str, obs):
    """[..., N, A] values of every discrete action."""
    return agent_mlp(params, f"{name}.net", obs)


def local_q(params: dict, name: str, obs, actions, discrete: bool):
    """[..., N] value of the given actions."""
    if discrete:
        return jnp.take_along_axis(agent_mlp(params, f"{name}.net", obs), actions[..., None], axis=-1)[..., 0]
    return agent_mlp(params, f"{name}.net", jnp.concatenate([obs, actions], -1))[..., 0]


# -- the mixer --------------------------------------------------------------------------------


def mixer_init(key, name: str, state_dim: int, n_agents: int, layers: int = 1, embed: int = 32,
               hyper_hidden: int = 64, shared_trunk: bool = False) -> dict:
    """Mixer with non-negative weights produced by hypernetworks of the global state.

    ``layers=1`` (paper default, Sec. 5 footnote 1):  M_s[x] = |W(s)|^T x + b(s).
    ``layers=2`` (QMIX-style option):  M_s[x] = |W2(s)|^T elu(|W1(s)|^T x + b1(s)) + b2(s).
    Non-negative weights and convex, non-decreasing activations keep the value loss convex in
    the local values (Theorem 4.2).  ``shared_trunk``: the ComaDICE code's MixNet
    (agents/*/madice.py), one hidden layer feeding both heads (1-layer mixers only).
    """
    if layers not in (1, 2):
        raise ValueError(f"mixer layers must be 1 or 2, got {layers}")
    if shared_trunk and layers != 1:
        raise ValueError("a shared hypernetwork trunk is only defined for a 1-layer mixer")
    first = n_agents if layers == 1 else n_agents * embed
    k = jax.random.split(key, 8)
    if shared_trunk:
        return {**linear_init(k[0], f"{name}.trunk.0", state_dim, hyper_hidden),
                **linear_init(k[1], f"{name}.head_w1", hyper_hidden, first),
                **linear_init(k[2], f"{name}.head_b1", hyper_hidden, 1)}
    hyper = lambda kk, sub, out: mlp_init(kk, f"{name}.{sub}", state_dim, out, hyper_hidden, layers=1)
    out = {**hyper(k[0], "hyper_w1", first), **hyper(k[1], "hyper_b1", 1 if layers == 1 else embed)}
    if layers == 2:
        out.update({**hyper(k[2], "hyper_w2", embed), **hyper(k[3], "hyper_b2", 1)})
    return out


def mixer_hyper(params: dict, name: str, state, n_agents: int = None) -> tuple:
    """The state-conditioned parameters (|W1|, b1) or (|W1|, b1, |W2|, b2) of the mixer ``name``.

    Learners that must not train the mixer through some loss mix with
    ``tuple(jax.lax.stop_gradient(p) for p in mixer_hyper(...))``.
    """
    if f"{name}.trunk.0.weight" in params:
        h = jax.nn.relu(linear(params, f"{name}.trunk.0", state))
        return (jnp.abs(linear(params, f"{name}.head_w1", h)), linear(params, f"{name}.head_b1", h)[..., 0])
    w1 = jnp.abs(mlp(params, f"{name}.hyper_w1", state, 1))
    b1 = mlp(params, f"{name}.hyper_b1", state, 1)
    if f"{name}.hyper_w2.0.weight" not in params:
        return (w1, b1[..., 0])
    embed = b1.shape[-1]
    return (w1.reshape(*state.shape[:-1], w1.shape[-1] // embed, embed), b1,
            jnp.abs(mlp(params, f"{name}.hyper_w2", state, 1)), mlp(params, f"{name}.hyper_b2", state, 1)[..., 0])


def mix(x, hyper: tuple, bias: bool = True):
    """``x [B, N]`` mixed with ``hyper`` from ``mixer_hyper``: ``[B]``.  ``bias=False`` gives
    M[x] - M[0], so a mixed advantage is zero when every local advantage is zero."""
    if len(hyper) == 2:
        w1, b1 = hyper
        out = (w1 * x).sum(-1)
        return out + b1 if bias else out
    w1, b1, w2, b2 = hyper
    h = jax.nn.elu(jnp.einsum("bn,bne->be", x, w1) + b1)
    out = (w2 * h).sum(-1)
    return out + b2 if bias else out - (w2 * jax.nn.elu(b1)).sum(-1)


def mix_slopes(x, hyper: tuple):
    """Each agent's credit dM/dx_i at ``x [B, N]``: ``[B, N]``, non-negative.  For a 1-layer mixer
    these are its weights |W(s)|; for a 2-layer one the chain rule through the elu:
    sum_e |W1|_ie elu'(h_e) |W2|_e."""
    if len(hyper) == 2:
        return hyper[0]
    w1, b1, w2, _ = hyper
    h = jnp.einsum("bn,bne->be", x, w1) + b1
    elu_slope = jnp.where(h > 0, 1.0, jnp.exp(jnp.minimum(h, 0.0)))
    return jnp.einsum("bne,be->bn", w1, elu_slope * w2)


def mixer(params: dict, name: str, x, state, bias: bool = True):
    """``x [B, N]``, ``state [B, S]`` -> ``[B]``."""
    return mix(x, mixer_hyper(params, name, state), bias)


# -- policy heads -----------------------------------------------------------------------------


def masked_logits(logits, avail):
    """Unavailable actions get -inf-like logits, so they are never chosen or sampled."""
    return jnp.where(avail, logits, -1e10)


LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


def tanh_gaussian_init(key, name: str, obs_dim: int, act_dim: int, n_agents: int, hidden: int = 256) -> dict:
    """State-dependent Gaussian squashed by tanh (continuous actions in [-1, 1])."""
    return agent_mlp_init(key, f"{name}.body", obs_dim, 2 * act_dim, n_agents, hidden)


def tanh_gaussian(params: dict, name: str, obs):
    out = agent_mlp(params, f"{name}.body", obs)
    mean, log_std = jnp.split(out, 2, axis=-1)
    return mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)


def tanh_gaussian_log_prob(params: dict, name: str, obs, action, eps: float = 1e-6):
    """log pi(a|o) of a dataset action in (-1, 1) (clamped away from the bounds): [..., N]."""
    mean, log_std = tanh_gaussian(params, name, obs)
    a = jnp.clip(action, -1 + eps, 1 - eps)
    pre = jnp.arctanh(a)
    std = jnp.exp(log_std)
    lp = -0.5 * ((pre - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    lp = lp - jnp.log1p(-a ** 2 + eps)
    return lp.sum(-1)


def tanh_gaussian_sample(params: dict, name: str, obs, draws=None, deterministic: bool = False):
    """(action, log pi(action)) of a reparameterised sample; ``deterministic``: (tanh(mean), None)."""
    mean, log_std = tanh_gaussian(params, name, obs)
    if deterministic:
        return jnp.tanh(mean), None
    std = jnp.exp(log_std)
    pre = mean + std * draws.normal(mean.shape)
    a = jnp.tanh(pre)
    lp = (-0.5 * ((pre - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
          - jnp.log1p(-a ** 2 + 1e-6)).sum(-1)
    return a, lp


def copy_params(params: dict, source: str, target: str) -> dict:
    """``target.*`` entries equal to ``source.*`` (target networks start as copies)."""
    return {target + k[len(source):]: v for k, v in params.items() if k.startswith(source + ".")}
