"""Shared networks: non-negative mixers and action masks."""
import torch

from algorithms import make
from algorithms.base import LearnerSpec
from algorithms.networks import AgentMLP, HyperMixer


def test_mixer_weights_are_non_negative_and_monotone():
    torch.manual_seed(0)
    for layers in (1, 2):
        mixer = HyperMixer(state_dim=7, n_agents=4, layers=layers)
        state = torch.randn(256, 7) * 5
        for w in mixer.weights(state):
            assert (w >= 0).all()
        x = torch.randn(256, 4)
        base = mixer(x, state)
        for i in range(4):
            bumped = x.clone()
            bumped[:, i] += 1.0
            assert (mixer(bumped, state) >= base - 1e-6).all()  # monotone in every local value


def test_mixed_advantage_is_zero_when_local_advantages_are():
    for layers in (1, 2):
        mixer = HyperMixer(5, 3, layers)
        state = torch.randn(10, 5)
        assert torch.allclose(mixer(torch.zeros(10, 3), state, bias=False), torch.zeros(10), atol=1e-6)


def test_agent_mlp_runs_all_agents_in_one_call_with_ids():
    net = AgentMLP(4, 2, n_agents=3, hidden=8)
    x = torch.zeros(5, 3, 4)  # identical observations ...
    out = net(x)
    assert out.shape == (5, 3, 2)
    assert not torch.allclose(out[:, 0], out[:, 1])  # ... differ by agent id


def test_masked_actions_are_never_chosen():
    torch.manual_seed(0)
    spec = LearnerSpec(n_agents=3, obs_dim=6, state_dim=18, action_dim=7, action_type="discrete")
    for name in ("BC", "ComaDICE"):
        learner = make(name, spec, {"hidden": 16})
        obs = torch.randn(500, 3, 6) * 10
        avail = torch.rand(500, 3, 7) < 0.3
        avail[..., 0] |= ~avail.any(-1)  # at least one action available
        for deterministic in (True, False):
            a = learner.act(obs, avail, deterministic=deterministic)
            assert avail.gather(-1, a.unsqueeze(-1)).all(), name
