"""The PyTorch networks of the MaMuJoCo MAPPO behaviour learner (behaviour/mappo.py): an MLP, the
same MLP over agents with their one-hot ids appended, and masked logits.  Saved behaviour runs
name their parameters after these modules (``actor.net.0.weight`` ...): keep the structure.
(The offline learners' networks are JAX functions: algorithms/networks.py.)
"""
from __future__ import annotations

import torch
import torch.nn as nn


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


def masked_logits(logits: torch.Tensor, avail: torch.Tensor) -> torch.Tensor:
    """Unavailable actions get -inf-like logits, so they are never chosen or sampled."""
    return logits.masked_fill(~avail, -1e10)
