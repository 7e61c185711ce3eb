"""Networks every learner shares.

All agents go through a network in one batched call: inputs are ``[..., N, D]`` and
the agent id (one-hot) is appended to the last axis, so one set of weights serves
every agent (parameter sharing, as in the paper's code and OMIGA).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(in_dim: int, out_dim: int, hidden: int = 256, layers: int = 2, out_gain: float = None) -> nn.Sequential:
    mods, d = [], in_dim
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    last = nn.Linear(d, out_dim)
    if out_gain is not None:
        nn.init.uniform_(last.weight, -out_gain, out_gain)
        nn.init.zeros_(last.bias)
    mods.append(last)
    return nn.Sequential(*mods)


class AgentMLP(nn.Module):
    """Shared MLP over agents: ``[..., N, in_dim] -> [..., N, out_dim]`` with agent ids."""

    def __init__(self, in_dim: int, out_dim: int, n_agents: int, hidden: int = 256, layers: int = 2,
                 out_gain: float = None):
        super().__init__()
        self.n_agents = n_agents
        self.net = mlp(in_dim + n_agents, out_dim, hidden, layers, out_gain)
        self.register_buffer("agent_ids", torch.eye(n_agents), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = self.agent_ids.expand(*x.shape[:-1], self.n_agents)
        return self.net(torch.cat([x, ids], dim=-1))


class HyperMixer(nn.Module):
    """Mixer with non-negative weights produced by hypernetworks of the global state.

    ``layers=1`` (paper default, Sec. 5 footnote 1):  M_s[x] = |W(s)|^T x + b(s).
    ``layers=2`` (QMIX-style option):  M_s[x] = |W2(s)|^T elu(|W1(s)|^T x + b1(s)) + b2(s).
    Non-negative weights and convex, non-decreasing activations keep the value loss convex
    in the local values (Theorem 4.2).
    """

    def __init__(self, state_dim: int, n_agents: int, layers: int = 1, embed: int = 32, hyper_hidden: int = 64,
                 shared_trunk: bool = False):
        super().__init__()
        if layers not in (1, 2):
            raise ValueError(f"mixer layers must be 1 or 2, got {layers}")
        if shared_trunk and layers != 1:
            raise ValueError("a shared hypernetwork trunk is only defined for a 1-layer mixer")
        self.n_agents, self.layers, self.embed, self.shared_trunk = n_agents, layers, embed, shared_trunk
        first = n_agents if layers == 1 else n_agents * embed
        if shared_trunk:
            # the ComaDICE code's MixNet (agents/*/madice.py): one hidden layer feeds both heads
            self.trunk = nn.Sequential(nn.Linear(state_dim, hyper_hidden), nn.ReLU())
            self.head_w1 = nn.Linear(hyper_hidden, first)
            self.head_b1 = nn.Linear(hyper_hidden, 1)
            return
        self.hyper_w1 = nn.Sequential(nn.Linear(state_dim, hyper_hidden), nn.ReLU(), nn.Linear(hyper_hidden, first))
        self.hyper_b1 = nn.Sequential(nn.Linear(state_dim, hyper_hidden), nn.ReLU(),
                                      nn.Linear(hyper_hidden, 1 if layers == 1 else embed))
        if layers == 2:
            self.hyper_w2 = nn.Sequential(nn.Linear(state_dim, hyper_hidden), nn.ReLU(), nn.Linear(hyper_hidden, embed))
            self.hyper_b2 = nn.Sequential(nn.Linear(state_dim, hyper_hidden), nn.ReLU(), nn.Linear(hyper_hidden, 1))

    def hyper(self, state: torch.Tensor) -> tuple:
        """The state-conditioned parameters (|W1|, b1, |W2|, b2) of the mixer for ``state``.

        Learners that must not train the mixer through some loss mix with
        ``[p.detach() for p in mixer.hyper(state)]``.
        """
        if self.shared_trunk:
            h = self.trunk(state)
            return (self.head_w1(h).abs(), self.head_b1(h).squeeze(-1))
        w1 = self.hyper_w1(state).abs()
        b1 = self.hyper_b1(state)
        if self.layers == 1:
            return (w1, b1.squeeze(-1))
        return (w1.view(*state.shape[:-1], self.n_agents, self.embed), b1,
                self.hyper_w2(state).abs(), self.hyper_b2(state).squeeze(-1))

    def weights(self, state: torch.Tensor) -> list:
        """The non-negative weight tensors (for tests and diagnostics)."""
        p = self.hyper(state)
        return [p[0]] if self.layers == 1 else [p[0], p[2]]

    @staticmethod
    def mix(x: torch.Tensor, params: tuple, bias: bool = True) -> torch.Tensor:
        """``x [B, N]`` mixed with ``params`` from ``hyper``: ``[B]``.  ``bias=False`` gives
        M[x] - M[0], so a mixed advantage is zero when every local advantage is zero."""
        if len(params) == 2:
            w1, b1 = params
            out = (w1 * x).sum(-1)
            return out + b1 if bias else out
        w1, b1, w2, b2 = params
        h = F.elu(torch.einsum("bn,bne->be", x, w1) + b1)
        out = (w2 * h).sum(-1)
        return out + b2 if bias else out - (w2 * F.elu(b1)).sum(-1)

    @staticmethod
    def slopes(x: torch.Tensor, params: tuple) -> torch.Tensor:
        """Each agent's credit dM/dx_i at ``x [B, N]``: ``[B, N]``, non-negative.  For a
        1-layer mixer these are its weights |W(s)|; for a 2-layer one the chain rule through
        the elu: sum_e |W1|_ie elu'(h_e) |W2|_e."""
        if len(params) == 2:
            return params[0]
        w1, b1, w2, _ = params
        h = torch.einsum("bn,bne->be", x, w1) + b1
        elu_slope = torch.where(h > 0, torch.ones_like(h), torch.exp(torch.clamp_max(h, 0.0)))
        return torch.einsum("bne,be->bn", w1, elu_slope * w2)

    def forward(self, x: torch.Tensor, state: torch.Tensor, bias: bool = True) -> torch.Tensor:
        """``x [B, N]``, ``state [B, S]`` -> ``[B]``."""
        return self.mix(x, self.hyper(state), bias)


class LocalQ(nn.Module):
    """Local Q functions q_i(o_i, a_i), shared over agents: discrete heads over all actions,
    or a continuous critic of (o_i, a_i)."""

    def __init__(self, obs_dim: int, action_dim: int, n_agents: int, discrete: bool, hidden: int = 256):
        super().__init__()
        self.discrete = discrete
        in_dim = obs_dim + (0 if discrete else action_dim)
        self.net = AgentMLP(in_dim, action_dim if discrete else 1, n_agents, hidden)

    def all_actions(self, obs):
        """[..., N, A] values of every discrete action."""
        return self.net(obs)

    def forward(self, obs, actions):
        """[..., N] value of the given actions."""
        if self.discrete:
            return self.net(obs).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return self.net(torch.cat([obs, actions], -1)).squeeze(-1)


def masked_logits(logits: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Unavailable actions get -inf-like logits, so they are never chosen or sampled."""
    return logits.masked_fill(~avail, -1e10)


class TanhGaussianHead(nn.Module):
    """State-dependent Gaussian squashed by tanh (continuous actions in [-1, 1])."""

    LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0

    def __init__(self, obs_dim: int, act_dim: int, n_agents: int, hidden: int = 256):
        super().__init__()
        self.act_dim = act_dim
        self.body = AgentMLP(obs_dim, 2 * act_dim, n_agents, hidden)

    def forward(self, obs):
        mean, log_std = self.body(obs).chunk(2, dim=-1)
        return mean, log_std.clamp(self.LOG_STD_MIN, self.LOG_STD_MAX)

    def log_prob(self, obs, action, eps: float = 1e-6):
        """log pi(a|o) of a dataset action in (-1, 1) (clamped away from the bounds)."""
        mean, log_std = self(obs)
        a = action.clamp(-1 + eps, 1 - eps)
        pre = torch.atanh(a)
        std = log_std.exp()
        lp = -0.5 * ((pre - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        lp = lp - torch.log1p(-a.pow(2) + eps)
        return lp.sum(-1)

    def sample(self, obs, deterministic: bool = False):
        mean, log_std = self(obs)
        if deterministic:
            return torch.tanh(mean), None
        std = log_std.exp()
        pre = mean + std * torch.randn_like(mean)
        a = torch.tanh(pre)
        lp = (-0.5 * ((pre - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
              - torch.log1p(-a.pow(2) + 1e-6)).sum(-1)
        return a, lp


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.lerp_(s, tau)
