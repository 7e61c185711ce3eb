"""The PyTorch networks of the MaMuJoCo MAPPO behaviour learner (``behaviour.d4rl_like.mappo``): a
parameter-shared Gaussian actor and a centralised critic, as plain MLPs over agents with their
one-hot ids appended or, with ``layer_norm``, HARL's MLP layout.  Saved behaviour runs name their
parameters after these modules (``actor.net.0.weight`` ...): keep the structure.
(The offline learners' networks are JAX functions: algorithms/networks.py.)
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from envs.registry import TaskSpec

_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


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


def _harl_mlp(in_dim: int, out_dim: int, hidden: int, layers: int, out_gain: float) -> nn.Sequential:
    """HARL's MLPBase + head: LayerNorm(in) -> [Linear, ReLU, LayerNorm] x layers -> Linear; orthogonal
    weights (gain sqrt 2 for the hidden layers, ``out_gain`` for the head), zero biases."""
    mods, d = [nn.LayerNorm(in_dim)], in_dim
    for _ in range(layers):
        lin = nn.Linear(d, hidden)
        nn.init.orthogonal_(lin.weight, math.sqrt(2))
        nn.init.zeros_(lin.bias)
        mods += [lin, nn.ReLU(), nn.LayerNorm(hidden)]
        d = hidden
    head = nn.Linear(d, out_dim)
    nn.init.orthogonal_(head.weight, out_gain)
    nn.init.zeros_(head.bias)
    return nn.Sequential(*mods, head)


def _network(in_dim: int, out_dim: int, n_agents: int, hidden: int, layers: int, layer_norm: bool,
             out_gain: float = None, ids: bool = True) -> nn.Module:
    """An MLP over agents with their one-hot ids appended (``AgentMLP``) or, ``ids=False``, over the
    input alone; HARL's layout with ``layer_norm``."""
    if not layer_norm:
        return AgentMLP(in_dim, out_dim, n_agents, hidden, layers, out_gain=out_gain) if ids else \
            mlp(in_dim, out_dim, hidden, layers, out_gain)
    gain = 1.0 if out_gain is None else out_gain
    if not ids:
        return _harl_mlp(in_dim, out_dim, hidden, layers, gain)
    net = AgentMLP(in_dim, out_dim, n_agents, hidden, 0)   # its id handling, HARL's network inside
    net.net = _harl_mlp(in_dim + n_agents, out_dim, hidden, layers, gain)
    return net


def _tensor(x) -> torch.Tensor:
    """A tensor sharing a writable numpy array's memory, else a copy (JAX's arrays are read-only)."""
    if isinstance(x, np.ndarray) and x.flags.writeable:
        return torch.from_numpy(x)
    return torch.tensor(np.asarray(x))


def gaussian_log_prob(a, mean, std):
    """log N(a; mean, std) summed over the last axis (``torch.distributions.Normal``'s formula)."""
    return (-((a - mean) ** 2) / (2 * std ** 2) - std.log() - _LOG_SQRT_2PI).sum(-1)


def gaussian_entropy(std):
    """The entropy of N(., std) summed over the last axis."""
    return (0.5 + _LOG_SQRT_2PI + std.log()).sum(-1)


class MAPPOAgent(nn.Module):
    """A Gaussian actor pi(a_i | o_i, id_i) with a learnt, state-independent std, and a critic
    V(s, id_i) (or, ``state_value``, V(s) for every agent)."""

    def __init__(self, task: TaskSpec, hidden: int, layers: int = 2, layer_norm: bool = False,
                 std_max: float = 0.0, state_value: bool = False):
        super().__init__()
        self.actor = _network(task.obs_dim, task.action_dim, task.n_agents, hidden, layers, layer_norm, 0.01)
        self.critic = _network(task.state_dim, 1, task.n_agents, hidden, layers, layer_norm, ids=not state_value)
        self.state_value = state_value
        self.std_max = std_max
        init = 1.0 if std_max > 0 else -0.5
        self.log_std = nn.Parameter(torch.full((task.action_dim,), init))
        self.n_agents = task.n_agents

    @classmethod
    def from_config(cls, task: TaskSpec, config: dict) -> MAPPOAgent:
        """The agent of a run's ``config`` (a ``MAPPOConfig`` as a dict; runs made before the
        options have only ``hidden``, and those options' values were the plain MLP's)."""
        return cls(task, config["hidden"], config.get("layers", 2), config.get("layer_norm", False),
                   config.get("std_max", 0.0), config.get("state_value", False))

    def std(self):
        if self.std_max > 0:
            return torch.sigmoid(self.log_std) * self.std_max
        return self.log_std.exp()

    def sample(self, obs):
        """Actions for a rollout step without ``torch.distributions``: actions, log-probs."""
        mean = self.actor(obs)
        std = self.std()
        a = mean + std * torch.randn_like(mean)
        return a, gaussian_log_prob(a, mean, std)

    def value(self, state):
        """[..., S] -> [..., N]: each agent's value (with ``state_value`` the one value, expanded)."""
        if self.state_value:
            return self.critic(state).expand(*state.shape[:-1], self.n_agents)
        s = state.unsqueeze(-2).expand(*state.shape[:-1], self.n_agents, state.shape[-1])
        return self.critic(s).squeeze(-1)

    def epoch_inputs(self, obs, state):
        """For passes over one batch (PPO's epochs): the actor's input with the agent ids appended
        (``self.actor.net`` of it is ``self.actor(obs)``) and the critic's (``critic_values`` of it is
        ``self.value(state)``), built once."""
        actor_in = torch.cat([obs, self.actor.agent_ids.expand(*obs.shape[:-1], self.n_agents)], dim=-1)
        if self.state_value:
            return actor_in, state
        s = state.unsqueeze(-2).expand(*state.shape[:-1], self.n_agents, state.shape[-1])
        return actor_in, torch.cat([s, self.critic.agent_ids.expand(*s.shape[:-1], self.n_agents)], dim=-1)

    def critic_values(self, critic_in):
        if self.state_value:
            return self.value(critic_in)
        return self.critic.net(critic_in).squeeze(-1)

    @torch.no_grad()
    def act(self, obs, avail=None, deterministic=False):
        """Actions clipped to [-1, 1] for observations ``obs`` (``avail``: unused, the simulators'
        policy signature)."""
        obs = _tensor(obs)
        if deterministic:
            return self.actor(obs).clamp(-1, 1).numpy()
        return self.sample(obs)[0].clamp(-1, 1).numpy()
