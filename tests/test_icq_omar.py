"""ICQ and OMAR as pure JAX learners: their policies act within the action space, OMAR's
rectifying search finds actions its critic prefers, ICQ takes its authors' defaults per action
type, and both learn the toy problems (tests/problems.py) and train as vmapped members."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from algorithms import make
from algorithms.base import Batch, Draws, LearnerSpec
from algorithms.networks import agent_mlp, local_q, local_q_all, masked_logits
from harness.data import spec_from_dataset
from tests.problems import bandit, bandit_value, fit, matrix_game, matrix_game_value

DISCRETE = LearnerSpec(n_agents=3, obs_dim=6, state_dim=18, action_dim=7, action_type="discrete")
CONTINUOUS = LearnerSpec(n_agents=3, obs_dim=6, state_dim=18, action_dim=2, action_type="continuous")
LEARNERS = ("ICQ", "OMAR")
#: the toy problems' settings (as tests/test_baselines.py): one rate, ICQ's SMAC temperatures
TOY_HP = {"ICQ": {"beta_q": 1000.0, "beta_pi": 0.1}, "OMAR": {}}
#: bandit updates: ICQ's second agent is still on its way to -0.5 after 400 updates from some
#: initialisations (seeds 0-3: 0.45, -0.39, 0.999, 0.999), after 800 it is there from each (0.998-0.999)
BANDIT_UPDATES = 800


def _obs_and_avail(key, n=300):
    k_obs, k_avail = jax.random.split(key)
    obs = 10 * jax.random.normal(k_obs, (n, 3, 6))
    avail = jax.random.uniform(k_avail, (n, 3, 7)) < 0.3
    return obs, avail.at[..., 0].set(avail[..., 0] | ~avail.any(-1))


@pytest.mark.parametrize("name", LEARNERS)
def test_discrete_actions_are_available_ones(name):
    learner = make(name, DISCRETE, {"hidden": 16})
    params = learner.init(jax.random.PRNGKey(0)).params
    obs, avail = _obs_and_avail(jax.random.PRNGKey(1))
    for deterministic in (True, False):
        a = learner.act(params, obs, avail, Draws(jax.random.PRNGKey(2)), deterministic=deterministic)
        assert a.shape == (300, 3) and jnp.issubdtype(a.dtype, jnp.integer)
        assert bool(jnp.take_along_axis(avail, a[..., None], -1).all())


@pytest.mark.parametrize("name", LEARNERS)
def test_continuous_actions_have_the_spec_shape_and_range(name):
    learner = make(name, CONTINUOUS, {"hidden": 16})
    params = learner.init(jax.random.PRNGKey(0)).params
    obs = 10 * jax.random.normal(jax.random.PRNGKey(1), (50, 3, 6))
    greedy = learner.act(params, obs, None, None, deterministic=True)
    sampled = learner.act(params, obs, None, Draws(jax.random.PRNGKey(2)), deterministic=False)
    for a in (greedy, sampled):
        assert a.shape == (50, 3, 2) and a.dtype == jnp.float32
        assert bool((jnp.abs(a) <= 1).all())
    assert bool(jnp.array_equal(greedy, learner.act(params, obs, None, None, deterministic=True)))
    if name == "ICQ":  # a stochastic tanh-Gaussian policy; OMAR's actor is deterministic (MATD3)
        assert not bool(jnp.allclose(greedy, sampled))


def test_omar_continuous_rectified_actions_score_higher_than_the_policy():
    learner = make("OMAR", CONTINUOUS, {"hidden": 32})
    params = learner.init(jax.random.PRNGKey(0)).params
    obs = jax.random.normal(jax.random.PRNGKey(1), (64, 3, 6))
    best = jax.jit(lambda p, o, key: learner.rectified_action(p, o, Draws(key)))(params, obs, jax.random.PRNGKey(2))
    assert best.shape == (64, 3, 2) and bool((jnp.abs(best) <= 1).all())
    q_best = local_q(params, "q", obs, best, False)
    q_policy = local_q(params, "q", obs, learner.policy(params, obs), False)
    # a search of 3 x 20 candidates under the critic: better on average, and in most rows
    assert float(q_best.mean()) > float(q_policy.mean())
    assert float((q_best >= q_policy).mean()) > 0.8


def test_omar_discrete_rectified_action_is_the_best_sampled_one():
    learner = make("OMAR", DISCRETE, {"hidden": 32})
    params = learner.init(jax.random.PRNGKey(0)).params
    obs, avail = _obs_and_avail(jax.random.PRNGKey(1), n=64)
    best = jax.jit(lambda p, o, m, key: learner.rectified_discrete(p, o, m, Draws(key)))(
        params, obs, avail, jax.random.PRNGKey(2))
    assert best.shape == (64, 3)
    assert bool(jnp.take_along_axis(avail, best[..., None], -1).all())
    # the same draws again: the candidates the search saw
    probs = jax.nn.softmax(masked_logits(agent_mlp(params, "actor", obs), avail), -1)
    cand = Draws(jax.random.PRNGKey(2)).multinomial(probs.reshape(-1, 7), learner.cfg.omar_num_samples)
    q_all = local_q_all(params, "q", obs)
    q_cand = jnp.take_along_axis(q_all, cand.reshape(64, 3, -1), -1)
    q_best = jnp.take_along_axis(q_all, best[..., None], -1)[..., 0]
    np.testing.assert_array_equal(np.asarray(q_best), np.asarray(q_cand.max(-1)))
    assert float(q_best.mean()) >= float((probs * q_all).sum(-1).mean())


def test_icq_takes_its_authors_defaults_per_action_type():
    d = make("ICQ", DISCRETE, {"lr": 3e-4})
    c = make("ICQ", CONTINUOUS, {"lr": 3e-4})
    assert (d.cfg.critic_lr, d.cfg.beta_q, d.cfg.beta_pi) == (1e-4, 1000.0, 0.1)
    assert (c.cfg.critic_lr, c.cfg.beta_q, c.cfg.beta_pi) == (3e-4, 10.0, 100.0)
    assert d.groups() == {"critic": (["q", "mixer"], 1e-4), "actor": (["actor"], 3e-4)}
    given = make("ICQ", CONTINUOUS, {"critic_lr": 1e-3, "beta_q": 5.0, "beta_pi": 2.0}).cfg
    assert (given.critic_lr, given.beta_q, given.beta_pi) == (1e-3, 5.0, 2.0)


@pytest.mark.parametrize("name", LEARNERS)
@pytest.mark.parametrize("spec", [DISCRETE, CONTINUOUS], ids=["discrete", "continuous"])
def test_targets_start_as_copies_and_one_update_moves_every_group(name, spec):
    learner = make(name, spec, {"hidden": 16})
    state = learner.init(jax.random.PRNGKey(0))
    p = state.params
    targets = [k for k in p if k.split(".")[0].endswith("_target")]
    assert targets and all(bool(jnp.array_equal(p[k], p[k.replace("_target", "", 1)])) for k in targets)
    obs, avail = _obs_and_avail(jax.random.PRNGKey(1), n=16)
    k = jax.random.split(jax.random.PRNGKey(3), 4)
    batch = dict(obs=obs, state=obs.reshape(16, -1), reward=jax.random.normal(k[0], (16,)), done=jnp.zeros(16),
                 next_obs=obs[::-1], next_state=obs[::-1].reshape(16, -1))
    if spec.discrete:
        batch.update(actions=jnp.zeros((16, 3), jnp.int32), next_actions=jnp.zeros((16, 3), jnp.int32),
                     avail=avail, next_avail=avail[::-1])
    else:
        batch.update(actions=jax.random.uniform(k[1], (16, 3, 2), minval=-1, maxval=1),
                     next_actions=jax.random.uniform(k[2], (16, 3, 2), minval=-1, maxval=1))
    new, metrics = jax.jit(lambda s, b, key: learner.update(s, b, Draws(key)))(state, Batch(**batch), k[3])
    assert all(m.shape == () and bool(jnp.isfinite(m)) for m in metrics.values())
    for group in learner.groups():
        keys = learner.group_keys(p, group)
        assert all(not bool(jnp.array_equal(new.params[k], p[k])) for k in keys), group
        assert int(new.opt[group].step) == 1


@pytest.mark.parametrize("name", LEARNERS)
def test_members_train_vmapped(name):
    ds = bandit(n=64)
    obs = jnp.asarray(ds.obs[:8])
    b = Batch(obs=obs, state=obs.reshape(8, -1), actions=jnp.asarray(ds.actions[:8]),
              reward=jnp.asarray(ds.reward[:8]), done=jnp.ones(8), next_obs=obs, next_state=obs.reshape(8, -1),
              next_actions=jnp.zeros((8, 2, 1)))
    learner = make(name, spec_from_dataset(ds), {"hidden": 16})
    states = jax.vmap(learner.init)(jax.random.split(jax.random.PRNGKey(0), 2))
    step = jax.jit(jax.vmap(lambda s, key: learner.update(s, b, Draws(key))))
    new, metrics = step(states, jax.random.split(jax.random.PRNGKey(1), 2))
    assert all(v.shape == (2,) for v in metrics.values())
    first = jax.tree_util.tree_map(lambda x: x[0], new.params)
    alone, _ = jax.jit(lambda s, key: learner.update(s, b, Draws(key)))(
        jax.tree_util.tree_map(lambda x: x[0], states), jax.random.split(jax.random.PRNGKey(1), 2)[0])
    for k in first:
        np.testing.assert_allclose(np.asarray(first[k]), np.asarray(alone.params[k]), rtol=1e-5, atol=1e-6)


def _train(name, ds, steps=400, seed=0):
    learner = make(name, spec_from_dataset(ds), {"hidden": 64, "lr": 5e-4, **TOY_HP.get(name, {})})
    return learner, fit(learner, ds, steps, seed=seed).params


@pytest.mark.parametrize("name", LEARNERS)
def test_matrix_game_best_joint_action(name):
    assert matrix_game_value(*_train(name, matrix_game())) == pytest.approx(1.0)


@pytest.mark.parametrize("name", LEARNERS)
def test_continuous_bandit_beats_bc(name):
    value = bandit_value(*_train(name, bandit(), BANDIT_UPDATES))
    assert value > 0.85
    assert value > bandit_value(*_train("BC", bandit(), BANDIT_UPDATES)) + 0.1
