"""The simulators really run: batched SMAX evaluation with wins and masks, MaMuJoCo time limits."""
import dataclasses

import numpy as np

from envs.registry import get_task
from envs.simulators import evaluate, make_vector_env


def test_smax_evaluates_32_episodes_as_one_batch_within_the_episode_limit():
    task = get_task("5m_vs_6m")
    venv = make_vector_env(task, 32, seed=0)
    venv.warm_up()
    compiled = venv._step._cache_size()
    rng = np.random.default_rng(0)
    seen_masks = []

    def random_policy(obs, avail):
        assert obs.shape == (32, 5, task.obs_dim) and avail.shape == (32, 5, task.action_dim)
        seen_masks.append(avail.copy())
        g = rng.random(avail.shape) * avail
        return g.argmax(-1)

    res = evaluate(task, random_policy, 32, venv=venv)
    assert venv._step._cache_size() == compiled == 1  # the step compiled once, before timing
    assert res["lengths"].max() <= task.episode_limit and len(res["returns"]) == 32
    assert 0.0 <= res["win_rate"] <= 1.0
    assert not np.all(seen_masks[0])  # attack actions on enemies out of range are masked


def test_smax_win_is_all_enemies_dead_with_an_ally_alive():
    # 5 heuristic marines against 2: most battles are won.  SMAX's return is the enemies'
    # lost health fraction (at most 1) plus a 1.0 bonus for a win, so a return above 1.5
    # happens exactly when our derived win flag is set.
    from envs.smax_backend import SMAXHeuristicAllies
    base = get_task("5m_vs_6m")
    task = dataclasses.replace(base, backend_kwargs={**base.backend_kwargs, "n_enemies": 2})
    venv = make_vector_env(task, 16, seed=1)
    allies = SMAXHeuristicAllies(venv)
    venv.reset()
    allies.reset()
    ret, won, term, trunc = np.zeros(16), np.zeros(16, bool), np.zeros(16, bool), np.zeros(16, bool)
    for _ in range(task.episode_limit + 1):
        r, te, tr, w = venv.step(allies(0.0))
        active = ~(term | trunc)
        ret += r * active
        won |= w & active
        term |= te & active
        trunc |= tr & active
        if (term | trunc).all():
            break
    assert (term | trunc).all() and not (term & trunc).any()
    assert won.sum() >= 8
    np.testing.assert_array_equal(won, ret > 1.5)
    assert np.all(won <= term)  # a win is a termination, never a truncation


def test_mamujoco_time_limit_is_truncation_not_termination():
    task = dataclasses.replace(get_task("HalfCheetah_6x1"), episode_limit=5)  # HalfCheetah never falls
    task = dataclasses.replace(task, backend_kwargs={**task.backend_kwargs})
    venv = make_vector_env(task, 2, seed=0)
    obs, state, avail = venv.reset()
    assert avail is None and obs.shape == (2, 6, task.obs_dim) and state.shape == (2, task.state_dim)
    for t in range(5):
        r, term, trunc, _ = venv.step(np.zeros((2, 6, 1)))
    assert trunc.all() and not term.any()


def test_mamujoco_evaluation_returns_real_returns():
    task = get_task("Hopper_3x1")
    res = evaluate(task, lambda obs, avail: np.zeros((2, 3, 1)), 2, seed=0)
    assert res["lengths"].min() >= 1 and np.isfinite(res["return_mean"]) and res["return_mean"] != 0


def test_every_backend_satisfies_the_contract():
    """SMAX and MaMuJoCo envs are VectorEnvs that resume (StarCraft II: tests/test_sc2_backend.py)."""
    from envs.simulators import ResumableVectorEnv, VectorEnv

    for name in ("5m_vs_6m", "Hopper_3x1"):
        venv = make_vector_env(get_task(name), 2, seed=0)
        assert isinstance(venv, VectorEnv) and isinstance(venv, ResumableVectorEnv), name
    smax, mamujoco = (make_vector_env(get_task(n), 1) for n in ("5m_vs_6m", "Hopper_3x1"))
    assert (smax.has_wins, smax.steps_past_limit, mamujoco.has_wins, mamujoco.steps_past_limit) == (True, 1, False, 0)


def _obs_policy(task):
    """Actions that depend on each env's observation alone, so an env in a batch and the same
    env alone act alike."""
    def policy(obs, avail):
        score = np.sin(obs.sum(-1, keepdims=True) * 1000.0 + np.arange(task.action_dim))
        return (score + 2.0 * avail).argmax(-1) if avail is not None else np.tanh(score)
    return policy


def _groups_are_lone_envs(task, per_group: int, seeds=(3, 8)):
    """A batched env of seed groups: its reset and steps, and two evaluations in a row (a group's
    episodes may end before the others'), are those of lone envs of the groups' seeds."""
    grouped = make_vector_env(task, per_group * len(seeds), seed=list(seeds))
    lone = [make_vector_env(task, per_group, seed=s) for s in seeds]
    split = lambda x: np.split(np.asarray(x), len(seeds))
    policy = _obs_policy(task)
    obs = grouped.reset()[0]
    for g, env in enumerate(lone):
        np.testing.assert_array_equal(split(obs)[g], env.reset()[0])
    for _ in range(3):
        obs, _, avail = grouped.observe()
        out = grouped.step(policy(obs, avail))
        for g, env in enumerate(lone):
            o, _, a = env.observe()
            for x, y in zip(out, env.step(policy(o, a)), strict=False):
                np.testing.assert_array_equal(split(x)[g], y)
    ends = []  # each evaluation's last step of each group
    for _ in range(2):
        res = evaluate(task, policy, grouped.num_envs, venv=grouped)
        ends.append([int(x.max()) for x in split(res["lengths"])])
        for g, env in enumerate(lone):
            alone = evaluate(task, policy, per_group, venv=env)
            for k in ("returns", "lengths"):
                np.testing.assert_array_equal(split(res[k])[g], alone[k])
    # a group's state is the lone env's (what the training loop saves per member)
    for g, env in enumerate(lone):
        a, b = grouped.get_state(episodes=False, group=g), env.get_state(episodes=False)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a if a[k] is not None)
    return lone, ends


def test_smax_seed_groups_play_the_episodes_of_lone_envs():
    task = get_task("5m_vs_6m")
    lone, ends = _groups_are_lone_envs(task, 2)
    assert any(len(set(e)) > 1 for e in ends)  # a group ended first and was held while the other played on
    # one int seed and a one-seed list are the same env
    one, listed = make_vector_env(task, 2, seed=3), make_vector_env(task, 2, seed=[3])
    np.testing.assert_array_equal(one.reset()[0], listed.reset()[0])
    # a group's state put into another env continues its stream
    fresh = make_vector_env(task, 4, seed=[0, 0])
    fresh.set_state(lone[1].get_state(episodes=False), group=1)
    np.testing.assert_array_equal(np.split(fresh.reset()[0], 2)[1], lone[1].reset()[0])


def test_mamujoco_seed_groups_play_the_episodes_of_lone_envs():
    task = dataclasses.replace(get_task("Hopper_3x1"), episode_limit=6)
    _groups_are_lone_envs(task, 2)
    one, listed = make_vector_env(task, 2, seed=3), make_vector_env(task, 2, seed=[3])
    np.testing.assert_array_equal(one.reset()[0], listed.reset()[0])
