"""SMAX scenarios beyond jaxmarl's maps: SMACv2 race-aware generation, corridor, 2c_vs_64zg.

Only resets and one step are compiled (a few seconds each on two cores); the statistical
checks use fixed keys, so they are deterministic.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import chisquare

from envs.registry import all_tasks, get_task
from envs.smax_scenarios import (
    COLOSSUS,
    MISSING_UNIT_TYPES,
    SMACV2_UNIT_PROBS,
    SMAX_UNIT_TYPES,
    action_dim,
    make_env,
    obs_dim,
    smacv2_start_positions,
    smacv2_unit_types,
    smax_dims,
    state_dim,
)

N_RESETS = 256
P_MIN = 1e-3  # chi-square p-value below which the frequencies do not match


def test_smacv2_tables_renormalise_over_smax_types():
    assert MISSING_UNIT_TYPES == {"protoss": ("colossus",), "terran": ("medivac",), "zerg": ("baneling",)}
    assert SMACV2_UNIT_PROBS == {"protoss": {"stalker": 0.5, "zealot": 0.5},
                                 "terran": {"marine": 0.5, "marauder": 0.5},
                                 "zerg": {"zergling": 0.5, "hydralisk": 0.5}}


def _check_frequencies(types, probs):
    counts = np.bincount(np.asarray(types).ravel(), minlength=len(probs))
    support = np.flatnonzero(probs)
    assert counts[np.flatnonzero(np.asarray(probs) == 0)].sum() == 0
    expected = np.asarray(probs)[support] * counts.sum()
    assert chisquare(counts[support], expected).pvalue > P_MIN, (counts, expected)


def test_unit_type_draw_follows_unequal_probabilities():
    # SMACv2's full protoss weights over a 7-type list (colossus-like type at index 6)
    probs = np.array([0, 0, 0.45, 0.45, 0, 0, 0.1])
    keys = jax.random.split(jax.random.PRNGKey(3), 2048)
    types = np.asarray(jax.jit(jax.vmap(lambda k: smacv2_unit_types(k, 10, 11, probs)))(keys))
    np.testing.assert_array_equal(types[:, 10:20], types[:, :10])  # enemies copy the allies
    _check_frequencies(types[:, :10], probs)
    _check_frequencies(types[:, 20], probs)  # the extra enemy


@pytest.mark.parametrize("race", ["protoss", "terran", "zerg"])
@pytest.mark.parametrize("size", ["10_vs_11", "20_vs_23"])
def test_smacv2_resets_draw_race_types_for_allies_and_every_enemy(race, size):
    task = get_task(f"{race}_{size}", "smacv2")
    a, e = task.backend_kwargs["n_allies"], task.backend_kwargs["n_enemies"]
    env = make_env(task)
    names = env.unit_type_names
    probs = np.array([SMACV2_UNIT_PROBS[race].get(n, 0.0) for n in names])

    def reset(key):
        s = env.reset(key)[1].state
        return s.unit_types, s.unit_positions, s.unit_health

    types, pos, health = map(np.asarray, jax.jit(jax.vmap(reset))(jax.random.split(jax.random.PRNGKey(0), N_RESETS)))
    assert types.shape == (N_RESETS, a + e)
    allowed = {names.index(u) for u in SMACV2_UNIT_PROBS[race]}
    assert set(np.unique(types)) <= allowed
    if race != "terran":
        assert not np.any(types[:, a:] == names.index("marine"))
    np.testing.assert_array_equal(types[:, a:2 * a], types[:, :a])  # SMACv2: enemies copy the allies
    _check_frequencies(types[:, :a], probs)
    _check_frequencies(types[:, 2 * a:], probs)  # the extra enemies: same distribution, never marines
    assert len(np.unique(types[:, 2 * a:])) == 2
    np.testing.assert_allclose(health, np.asarray(env.unit_type_health)[types])
    assert np.all((pos > 0) & (pos < 32))  # SMAX kills units on the border


def test_smacv2_start_positions_follow_surrounded_and_reflect():
    a, e, w = 10, 11, 32.0
    keys = jax.random.split(jax.random.PRNGKey(1), 2048)
    pos, sur = jax.jit(jax.vmap(lambda k: smacv2_start_positions(k, a, e, return_mode=True)))(keys)
    pos, sur = np.asarray(pos), np.asarray(sur)
    assert np.all((pos >= 0.5) & (pos <= w - 0.5))
    assert abs(sur.mean() - 0.5) < 0.05
    # reflect: allies in the left half minus SMACv2's 1-unit buffer, enemies mirror them, extras right
    ref = pos[~sur]
    assert np.all(ref[:, :a, 0] <= w / 2 - 1)
    np.testing.assert_allclose(ref[:, a:2 * a, 0], np.clip(w - ref[:, :a, 0], 0.5, w - 0.5), atol=1e-5)
    np.testing.assert_allclose(ref[:, a:2 * a, 1], ref[:, :a, 1], atol=1e-6)
    assert np.all(ref[:, 2 * a:, 0] >= w / 2)
    # surrounded: allies (never enemies) in the centre, enemies in 1-4 groups on the diagonals
    s = pos[sur] - w / 2
    assert np.all(np.abs(s[:, :a]) <= 2.0 + 1e-5)
    assert np.all(np.abs(np.abs(s[:, a:, 0]) - np.abs(s[:, a:, 1])) <= 4.0 + 1e-4)
    quadrant = (s[:, a:, 0] > 0) * 2 + (s[:, a:, 1] > 0)
    n_groups = np.array([len(np.unique(q)) for q in quadrant])
    assert set(n_groups) == {1, 2, 3, 4}
    assert abs((n_groups == 1).mean() - 0.25) < 0.06  # rng.integers(1, 5): one group a quarter of the time


def _reset_and_step(env):
    obs, state = env.reset(jax.random.PRNGKey(0))
    avail = env.get_avail_actions(state)
    act = {ag: jnp.argmax(avail[ag]).astype(jnp.int32) for ag in env.agents}
    obs2, state2, rew, done, _ = env.step_env(jax.random.PRNGKey(1), state, act)  # no auto-reset: one compile less
    return obs, state, avail, obs2, state2, done


def _check_dims(task, env, obs, state, avail):
    agent = env.agents[0]
    assert obs[agent].shape == (obs_dim(task),) == env.observation_space(agent).shape
    assert obs["world_state"].shape == (state_dim(task),) == env.get_world_state(state).shape
    assert avail[agent].shape == (action_dim(task),) and env.action_space(agent).n == action_dim(task)


def test_corridor_builds_resets_and_steps():
    task = get_task("corridor", "smacv1")
    env = make_env(task)
    assert env.max_steps == task.episode_limit == 400 and "corridor" in env.approximation_note
    assert len(env.agents) == 6 and env.num_enemies == 24
    obs, state, avail, obs2, state2, done = _reset_and_step(env)
    names = list(env.unit_type_names)
    assert list(np.asarray(state.state.unit_types)) == [names.index("zealot")] * 6 + [names.index("zergling")] * 24
    assert not bool(done["__all__"]) and int(state2.state.step) == 1
    _check_dims(task, env, obs, state, avail)


def test_2c_vs_64zg_has_a_colossus_unit_type():
    task = get_task("2c_vs_64zg", "smacv1")
    env = make_env(task)
    assert env.max_steps == 400 and len(env.agents) == 2 and env.num_enemies == 64
    names = list(env.unit_type_names)
    assert names[:6] == list(SMAX_UNIT_TYPES) and names[6] == "colossus" and env.unit_type_bits == 7
    c = 6
    stats = {"velocity": env.unit_type_velocities, "attack": env.unit_type_attacks,
             "attack_range": env.unit_type_attack_ranges, "sight_range": env.unit_type_sight_ranges,
             "radius": env.unit_type_radiuses, "health": env.unit_type_health,
             "weapon_cooldown": env.unit_type_weapon_cooldowns}
    for field, arr in stats.items():
        assert arr.shape == (7,) and float(arr[c]) == pytest.approx(COLOSSUS[field])
    assert (COLOSSUS["health"], COLOSSUS["attack_range"], COLOSSUS["weapon_cooldown"]) == (350.0, 7.0, 1.07)
    obs, state, avail, obs2, state2, done = _reset_and_step(env)
    types = np.asarray(state.state.unit_types)
    assert list(types) == [c] * 2 + [names.index("zergling")] * 64
    np.testing.assert_allclose(np.asarray(state.state.unit_health)[:2], 350.0)
    assert obs["ally_0"][-7:].tolist() == [0, 0, 0, 0, 0, 0, 1]  # own unit-type one-hot: colossus
    assert not bool(done["__all__"]) and int(state2.state.step) == 1
    _check_dims(task, env, obs, state, avail)
    assert (obs_dim(task), state_dim(task), action_dim(task)) == (921, 858, 69)


def test_dims_functions_agree_with_env_spaces_for_every_smax_task():
    for task in all_tasks("smacv1") + all_tasks("smacv2"):
        env = make_env(task)
        agent = env.agents[0]
        a, e = task.backend_kwargs["n_allies"], task.backend_kwargs["n_enemies"]
        dims = (obs_dim(task), state_dim(task), action_dim(task))
        assert dims == smax_dims(a, e, len(env.unit_type_names))
        assert env.observation_space(agent).shape == (dims[0],) and env.action_space(agent).n == dims[2]
        assert len(env.agents) == task.n_agents
        assert dims == (task.obs_dim, task.state_dim, task.action_dim)  # the registry knows them
        # shapes of a real reset, traced only (no compile)
        obs, state = jax.eval_shape(env.reset, jax.random.PRNGKey(0))
        assert obs[agent].shape == (dims[0],) and obs["world_state"].shape == (dims[1],)
