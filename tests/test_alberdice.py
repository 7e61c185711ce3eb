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
0.07-0.53, seed 0 anti-coordinating).  (Measured with the eager PyTorch learner; the JAX learner
draws other initial weights, batches and samples from its own keys.)
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algorithms.alberdice import AlberDICE, sum_others
from algorithms.base import Batch, Draws
from algorithms.networks import agent_mlp
from harness.data import batch_at, device_data, spec_from_dataset
from tests.problems import _one_step, fit

R = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)


def coordination_game(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    a = np.stack([rng.integers(0, 2, size=n), (rng.random(n) > 0.7).astype(np.int64)], 1).astype(np.int64)
    return _one_step(np.ones((n, 2, 2), np.float32), a, R[a[:, 0], a[:, 1]], np.ones((n, 2, 2), bool))


class OldForm(AlberDICE):
    """The harness's earlier term, for comparison: log-ratio at the data actions, no weights."""

    def other_agents(self, params: dict, b: Batch, log_pi, log_mu, draws: Draws):
        return sum_others(jnp.clip(log_pi - log_mu, -10, 10)), jnp.ones_like(log_pi)


def expected_reward(params) -> float:
    p = np.asarray(jax.nn.softmax(agent_mlp(params, "actor", jnp.ones((1, 2, 2))), -1))[0]
    return float(p[0] @ R @ p[1])


def _fit(cls, seed):
    ds = coordination_game(seed=seed)
    learner = cls(spec_from_dataset(ds), AlberDICE.Config(alpha=0.1, hidden=64, lr=2e-3))
    return fit(learner, ds, 700, seed=seed).params


@pytest.mark.parametrize("seed", [0])
def test_the_kl_penalty_with_reweighting_coordinates_where_the_old_form_does_not(seed):
    assert expected_reward(_fit(AlberDICE, seed)) > 0.85
    assert expected_reward(_fit(OldForm, seed)) < 0.65


def test_the_estimator_is_a_penalty_and_weights_the_others_policy():
    ds = coordination_game(n=256)
    learner = AlberDICE(spec_from_dataset(ds), AlberDICE.Config(hidden=16))
    data = device_data(ds)
    rows = jnp.arange(256)
    b = batch_at(data, rows, data.init_index[rows])
    # pi_1 plays 0 with 0.9, mu_1 is uniform; agent 0 is uniform in both: the data policy's last
    # layer is zero, and the actor's one path carries agent 1's id (input 2 + 1) to a logit log 9
    params = dict(learner.init(jax.random.PRNGKey(0)).params)
    for name in ("actor", "data_policy"):
        for layer in (0, 2, 4):
            params[f"{name}.net.{layer}.weight"] = jnp.zeros_like(params[f"{name}.net.{layer}.weight"])
            params[f"{name}.net.{layer}.bias"] = jnp.zeros_like(params[f"{name}.net.{layer}.bias"])
    params["actor.net.0.weight"] = params["actor.net.0.weight"].at[0, 3].set(1.0)
    params["actor.net.2.weight"] = params["actor.net.2.weight"].at[0, 0].set(1.0)
    params["actor.net.4.weight"] = params["actor.net.4.weight"].at[0, 0].set(float(np.log(9.0)))
    assert np.allclose(jax.nn.softmax(agent_mlp(params, "actor", b.obs[:1]), -1)[0], [[0.5, 0.5], [0.9, 0.1]])
    log_pi = learner.log_prob(params, "actor", b.obs, b.actions, b.avail)
    log_mu = learner.log_prob(params, "data_policy", b.obs, b.actions, b.avail)
    kl, rho = learner.other_agents(params, b, log_pi, log_mu, Draws(jax.random.PRNGKey(1)))
    kl, rho = np.asarray(kl), np.asarray(rho)
    true_kl = 0.9 * np.log(0.9 / 0.5) + 0.1 * np.log(0.1 / 0.5)
    assert kl[:, 0].mean() == pytest.approx(true_kl, abs=0.05)      # agent 0 pays for agent 1's deviation
    assert np.abs(kl[:, 1]).max() < 1e-6                               # agent 0 does not deviate
    a1 = np.asarray(b.actions[:, 1])
    assert rho[a1 == 0, 0].mean() / rho[a1 == 1, 0].mean() == pytest.approx(9.0, rel=1e-3)   # pi_1 / mu_1
    assert rho.astype(np.float64).mean(0).tolist() == pytest.approx([1.0, 1.0])


def test_the_alternation_moves_one_agent_per_update_round_robin():
    # step() counts the updates (TrainState.n_updates): update k (from 1) trains agent k mod N's policy
    ds = coordination_game(n=64)
    learner = AlberDICE(spec_from_dataset(ds), AlberDICE.Config(hidden=16))
    state = learner.init(jax.random.PRNGKey(0))
    data = device_data(ds)
    rows = jnp.arange(64)
    b = batch_at(data, rows, data.init_index[rows])
    step = jax.jit(lambda s, k: learner.step(s, b, Draws(k)))
    for k in range(1, 4):
        state, _ = step(state, jax.random.PRNGKey(k))
        assert int(state.n_updates) == k
        w = np.asarray(learner.bc_weights(jnp.ones((64, 2)), jnp.ones((64, 2)), state.n_updates))
        assert (w[:, k % 2] > 0).all() and (w[:, 1 - k % 2] == 0).all()
