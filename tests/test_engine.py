"""The engine trains a cell's members as one program, each as if it trained alone."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness.data import device_data, spec_from_dataset
from harness.engine import make_engine, member, stack
from harness.members import group_members
from tests.problems import bandit, matrix_game


def _max_gap(a: dict, b: dict) -> float:
    return max(float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in a)


@pytest.mark.parametrize("problem", [matrix_game, bandit], ids=["discrete", "continuous"])
def test_a_member_trains_as_it_would_alone(problem):
    ds = problem(200)
    data, spec = device_data(ds), spec_from_dataset(ds)
    hp = {"hidden": 32}
    together = make_engine("BC", spec, [hp] * 3, batch_size=32)
    states, metrics = together.train(together.init([0, 1, 2]), data, 40)
    alone = make_engine("BC", spec, [hp], batch_size=32)
    single, single_metrics = alone.train(alone.init([1]), data, 40)
    assert _max_gap(member(states.params, 1), member(single.params, 0)) <= 1e-6
    assert float(metrics["pi_loss"][1]) == pytest.approx(float(single_metrics["pi_loss"][0]), rel=1e-5)
    # and the members differ from one another (their own weights and batches)
    assert _max_gap(member(states.params, 0), member(states.params, 1)) > 1e-3


def test_members_may_differ_in_float_hyperparameters():
    ds = matrix_game(200)
    data, spec = device_data(ds), spec_from_dataset(ds)
    sweep = make_engine("BC", spec, [{"hidden": 32, "lr": lr} for lr in (1e-4, 1e-3, 1e-2)], batch_size=32)
    states, _ = sweep.train(sweep.init([5, 5, 5]), data, 30)
    alone = make_engine("BC", spec, [{"hidden": 32, "lr": 1e-2}], batch_size=32)
    single, _ = alone.train(alone.init([5]), data, 30)
    assert _max_gap(member(states.params, 2), member(single.params, 0)) <= 1e-6
    assert _max_gap(member(states.params, 0), member(states.params, 2)) > 1e-3


def test_members_of_other_widths_are_other_programs():
    assert group_members("BC", [{"hidden": 32}, {"hidden": 32, "lr": 1e-3}, {"hidden": 64}]) == [[0, 1], [2]]
    ds = matrix_game(50)
    with pytest.raises(ValueError, match="hidden"):
        make_engine("BC", spec_from_dataset(ds), [{"hidden": 32}, {"hidden": 64}])


def test_a_diverged_member_leaves_the_others_alone():
    ds = matrix_game(200)
    data, spec = device_data(ds), spec_from_dataset(ds)
    eng = make_engine("BC", spec, [{"hidden": 32}] * 2, batch_size=32)
    states = eng.init([0, 1])
    first = member(states, 0)
    poisoned = first._replace(params={k: jnp.full_like(v, jnp.nan) for k, v in first.params.items()})
    states = stack([poisoned, member(states, 1)])
    states, metrics = eng.train(states, data, 20)
    assert not np.isfinite(float(metrics["pi_loss"][0]))
    assert np.isfinite(float(metrics["pi_loss"][1]))
    assert all(np.isfinite(np.asarray(v)).all() for v in member(states.params, 1).values())


def test_members_act_in_one_call():
    ds = matrix_game(50)
    eng = make_engine("BC", spec_from_dataset(ds), [{"hidden": 16}] * 4)
    states = eng.init(range(4))
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(4, 8, 2, 2)), jnp.float32)
    avail = jnp.ones((4, 8, 2, 3), bool).at[..., 0].set(False)
    actions = np.asarray(eng.act(states.params, obs, avail))
    assert actions.shape == (4, 8, 2) and (actions != 0).all()
    assert jax.tree_util.tree_leaves(states.params)[0].shape[0] == 4


def test_the_unrolled_generator_draws_the_same_bits():
    from harness.engine import unroll_threefry_on_cpu
    before = np.asarray(jax.jit(lambda k: jax.random.normal(k, (64,)))(jax.random.PRNGKey(3)))
    assert unroll_threefry_on_cpu()
    jax.clear_caches()
    after = np.asarray(jax.jit(lambda k: jax.random.normal(k, (64,)))(jax.random.PRNGKey(3)))
    assert (before == after).all()
