"""OptDICE (algorithms/optdice.py): its policy weights, its actions and the purity of its update.

The weights w(s, a) = max(0, (f')^-1((e - lambda) / alpha)) are the ratio d*(s, a) / d_D(s, a)
of the optimal occupancy to the data's.  On the matrix game (tests/problems.py: one state, the best
joint action (0, 0) 20% of the data) a small alpha puts nearly all of d* on (0, 0), so w(0, 0) is
close to 1 / 0.2 = 5 and every other pair's weight close to 0, and the multiplier lambda keeps
E_D[w] = 1.  That normalisation holds at gamma = 0 only: every matrix-game step terminates, and
without an absorbing state (a departure the learner's docstring lists) e - lambda = r - (nu(s) + lambda),
so the dual is (1 - gamma)(nu + lambda) + gamma lambda + E_D[alpha f*(y)] with y a function of
nu + lambda alone: lambda falls without bound and the stationarity in nu + lambda gives
E_D[w] = 1 - gamma, the value the gamma = 0.99 run checks.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algorithms import make
from algorithms.base import Draws, Learner, LearnerSpec
from algorithms.optdice import OptDICE
from harness.data import batch_at, device_data, sample_batch, spec_from_dataset
from tests.problems import MATRIX_REWARD, matrix_game

TOY_HP = {"hidden": 64, "lr": 5e-4, "alpha": 0.1}


def train(ds, hyperparameters: dict, steps: int = 200, batch_size: int = 128, seed: int = 0):
    """OptDICE trained on ``ds``: (learner, final state, the dataset's arrays, metrics per update)."""
    learner = make("OptDICE", spec_from_dataset(ds), hyperparameters)
    data = device_data(ds)

    def one_update(state, key):
        k_batch, k_draws = jax.random.split(key)
        return learner.update(state, sample_batch(data, k_batch, batch_size), Draws(k_draws))

    run = jax.jit(lambda state, keys: jax.lax.scan(one_update, state, keys))
    state, metrics = run(learner.init(jax.random.PRNGKey(seed)), jax.random.split(jax.random.PRNGKey(seed + 1), steps))
    return learner, state, data, metrics


def dataset_weights(learner, state, data):
    """w(s, a) of every transition of the dataset, and its joint actions."""
    rows = jnp.arange(data.size)
    b = batch_at(data, rows, data.init_index[jnp.zeros_like(rows)])
    return np.asarray(learner.bc_weights(state.params, b)), np.asarray(b.actions)


def test_optdice_is_a_jax_learner():
    assert issubclass(OptDICE, Learner)


def test_bc_weights_are_the_normalised_ratio_of_the_best_joint_action():
    learner, state, data, metrics = train(matrix_game(), {**TOY_HP, "gamma": 0.0})
    assert all(np.isfinite(np.asarray(v)).all() for v in metrics.values())
    w, actions = dataset_weights(learner, state, data)
    assert (w >= 0).all()
    assert w.mean() == pytest.approx(1.0, abs=0.15)
    by_pair = {p: w[(actions[:, 0] == p[0]) & (actions[:, 1] == p[1])].mean() for p in [(0, 0), (1, 1), (0, 1), (1, 0)]}
    assert by_pair[(0, 0)] > 4.0                                  # ~ 1 / P_D(0, 0) = 5
    assert max(v for p, v in by_pair.items() if p != (0, 0)) < 0.2
    a = learner.act(state.params, jnp.ones((1, 2, 2)), jnp.ones((1, 2, 3), bool), None, True)
    assert MATRIX_REWARD[int(a[0, 0]), int(a[0, 1])] == 1.0


def test_terminating_one_step_episodes_normalise_the_weights_to_one_minus_gamma():
    learner, state, data, _ = train(matrix_game(), {**TOY_HP, "gamma": 0.99})
    w, _ = dataset_weights(learner, state, data)
    assert (w >= 0).all()
    assert w.mean() == pytest.approx(1 - 0.99, abs=0.005)


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_act_shapes_and_action_units(action_type):
    spec = LearnerSpec(n_agents=3, obs_dim=6, state_dim=9, action_dim=4, action_type=action_type)
    learner = make("OptDICE", spec, {"hidden": 16})
    params = learner.init(jax.random.PRNGKey(0)).params
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 3, 6))
    avail = jnp.ones((5, 3, 4), bool) if spec.discrete else None
    act = jax.jit(lambda p, o, a, k, det: learner.act(p, o, a, Draws(k), det), static_argnums=4)
    greedy = act(params, obs, avail, jax.random.PRNGKey(2), True)
    sampled = act(params, obs, avail, jax.random.PRNGKey(2), False)
    for a in (greedy, sampled):
        if spec.discrete:
            assert a.shape == (5, 3) and a.dtype == jnp.int32
            assert ((a >= 0) & (a < 4)).all()
        else:
            assert a.shape == (5, 3, 4) and jnp.issubdtype(a.dtype, jnp.floating)
            assert (jnp.abs(a) <= 1).all()
    if not spec.discrete:
        assert not jnp.allclose(greedy, sampled)


def test_sampled_and_greedy_actions_are_available_ones():
    spec = LearnerSpec(n_agents=3, obs_dim=6, state_dim=9, action_dim=5, action_type="discrete")
    learner = make("OptDICE", spec, {"hidden": 16})
    params = learner.init(jax.random.PRNGKey(0)).params
    k_obs, k_avail, k_draws = jax.random.split(jax.random.PRNGKey(3), 3)
    obs = jax.random.normal(k_obs, (64, 3, 6))
    avail = jax.random.bernoulli(k_avail, 0.4, (64, 3, 5)).at[..., 4].set(True)  # at least one action each
    sample = jax.jit(jax.vmap(lambda k: learner.act(params, obs, avail, Draws(k), False)))
    actions = sample(jax.random.split(k_draws, 50))                              # [50, 64, 3]
    chosen = jnp.take_along_axis(jnp.broadcast_to(avail, (50,) + avail.shape), actions[..., None], -1)
    assert chosen.all()
    greedy = learner.act(params, obs, avail, None, True)
    assert jnp.take_along_axis(avail, greedy[..., None], -1).all()


def test_update_is_pure():
    ds = matrix_game(n=64)
    learner = make("OptDICE", spec_from_dataset(ds), {"hidden": 16})
    state = learner.init(jax.random.PRNGKey(0))
    before = {k: np.asarray(v).copy() for k, v in state.params.items()}
    batch = sample_batch(device_data(ds), jax.random.PRNGKey(1), 32)
    update = jax.jit(lambda s, b, k: learner.update(s, b, Draws(k)))
    s1, m1 = update(state, batch, jax.random.PRNGKey(2))
    s2, m2 = update(state, batch, jax.random.PRNGKey(2))
    assert all(np.array_equal(before[k], np.asarray(v)) for k, v in state.params.items())
    assert all(np.array_equal(np.asarray(s1.params[k]), np.asarray(s2.params[k])) for k in s1.params)
    assert set(m1) == {"nu_loss", "pi_loss", "w_mean", "lambda"} and all(m.shape == () for m in m1.values())
    assert float(m1["lambda"]) == float(s1.params["lam"]) != 0.0
    assert int(s1.opt["nu"].step) == int(s1.opt["actor"].step) == 1
