"""AlberDICE's other-agents term (algorithms/alberdice.py): the penalty alpha KL(pi_{-i} || mu_{-i})
estimated from samples of the others' policies, and the data rows re-weighted by
prod_{j != i} pi_j / mu_j, on a problem where the sign of the term matters.

Coordination game: 2 agents, 2 actions, reward 1 when they match, 0 otherwise; the data's
agent 0 is uniform, agent 1 plays 0 with probability 0.7 (and 0.3 for 1), so (0, 0) is the
equilibrium the data lean to.  AlberDICE's agent i best-responds to pi_{-i}: with the rows
re-weighted by the others' policies, each agent's push towards 0 reinforces the other's and
the pair coordinates (expected reward under the learnt stochastic policies, measured over
seeds 0-3 with 700 updates at lr 2e-3: 0.99-1.0).  The earlier form, -alpha sum_{j != i}(log pi_j - log mu_j)
at the data actions and no re-weighting, rewards agent i's rows exactly where the other's data
action is one its policy avoids: once pi_1 puts more mass on 0 than the data, agent 0's rows
with a_1 = 1 gain and the push reverses (measured: 0.54 on seeds 0-3; with 1500 updates at lr 1e-3,
0.07-0.53, seed 0 anti-coordinating).
"""
import numpy as np
import pytest
import torch

from algorithms.alberdice import AlberDICE
from algorithms.base import Batch
from harness.data import TensorData, spec_from_dataset
from tests.problems import _one_step, fit

R = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)


def coordination_game(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    a = np.stack([rng.integers(0, 2, size=n), (rng.random(n) > 0.7).astype(np.int64)], 1).astype(np.int64)
    return _one_step(np.ones((n, 2, 2), np.float32), a, R[a[:, 0], a[:, 1]], np.ones((n, 2, 2), bool))


class OldForm(AlberDICE):
    """The harness's earlier term, for comparison: log-ratio at the data actions, no weights."""

    @torch.no_grad()
    def other_agents(self, b: Batch, log_pi, log_mu):
        return self._sum_others((log_pi - log_mu).clamp(-10, 10)), torch.ones_like(log_pi)


def expected_reward(learner) -> float:
    p = torch.softmax(learner.actor(torch.ones(1, 2, 2)), -1)[0].detach().numpy()
    return float(p[0] @ R @ p[1])


def _fit(cls, seed):
    ds = coordination_game(seed=seed)
    torch.manual_seed(seed)
    return fit(cls(spec_from_dataset(ds), AlberDICE.Config(alpha=0.1, hidden=64, lr=2e-3)), ds, 700, seed=seed)


@pytest.mark.parametrize("seed", [0])
def test_the_kl_penalty_with_reweighting_coordinates_where_the_old_form_does_not(seed):
    assert expected_reward(_fit(AlberDICE, seed)) > 0.85
    assert expected_reward(_fit(OldForm, seed)) < 0.65


def test_the_estimator_is_a_penalty_and_weights_the_others_policy():
    ds = coordination_game(n=256)
    learner = AlberDICE(spec_from_dataset(ds), AlberDICE.Config(hidden=16))
    b = TensorData(ds).batch_at(torch.arange(256))
    with torch.no_grad():   # pi_1 plays 0 with 0.9, mu_1 is uniform; agent 0 is uniform in both
        learner.actor.net[-1].weight.zero_(); learner.actor.net[-1].bias.zero_()
        learner.data_policy.net[-1].weight.zero_(); learner.data_policy.net[-1].bias.zero_()
        learner.actor.net[-1].bias.copy_(torch.tensor([0.0, 0.0]))
    logit = float(np.log(9.0))
    orig = learner.actor.forward
    learner.actor.forward = lambda obs: orig(obs) + torch.tensor([[0.0, 0.0], [logit, 0.0]])
    log_pi = learner._log_prob(learner.actor, b.obs, b.actions, b.avail)
    log_mu = learner._log_prob(learner.data_policy, b.obs, b.actions, b.avail)
    kl, rho = learner.other_agents(b, log_pi, log_mu)
    true_kl = 0.9 * np.log(0.9 / 0.5) + 0.1 * np.log(0.1 / 0.5)
    assert kl[:, 0].mean().item() == pytest.approx(true_kl, abs=0.05)      # agent 0 pays for agent 1's deviation
    assert kl[:, 1].abs().max().item() < 1e-6                               # agent 0 does not deviate
    a1 = b.actions[:, 1]
    assert rho[a1 == 0, 0].mean() / rho[a1 == 1, 0].mean() == pytest.approx(9.0, rel=1e-3)   # pi_1 / mu_1
    assert rho.mean(0).tolist() == pytest.approx([1.0, 1.0])
