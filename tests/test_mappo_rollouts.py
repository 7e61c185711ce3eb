"""The MAPPO learner's fast paths give what the slow ones gave: episodes cut out of whole rollouts
equal those recorded step by step, the batched running variance equals Welford's sequential one,
MaMuJoCo's direct physics equals gymnasium's step (time limits included), and a run with the
MaMuJoCo (HARL) settings resumes bit for bit."""
import dataclasses

import numpy as np
import pytest

from behaviour.d4rl_like.running_stats import RunningMeanVar
from behaviour.episodes import EpisodeRecorder, RolloutEpisodes, episode_arrays
from envs.mamujoco_backend import MaMuJoCoVectorEnv
from envs.registry import get_task


def _stream(rng, T, E, N, O, S, A, with_avail, p_done):
    """One rollout's arrays as a vector env would give them (obs after resets, next_obs before)."""
    obs = rng.standard_normal((T, E, N, O)).astype(np.float32)
    nxt = rng.standard_normal((T, E, N, O)).astype(np.float32)
    st, nst = rng.standard_normal((T, E, S)).astype(np.float32), rng.standard_normal((T, E, S)).astype(np.float32)
    av, nav = (rng.random((T, E, N, A)) > 0.3, rng.random((T, E, N, A)) > 0.3) if with_avail else (None, None)
    act = rng.integers(0, A, (T, E, N)) if with_avail else rng.standard_normal((T, E, N, A)).astype(np.float32)
    rew = rng.standard_normal((T, E)).astype(np.float32)
    done = rng.random((T, E)) < p_done
    done[-1, 0] = True   # an episode that ends on a rollout's last step
    # where nothing ended, the next step acts on what followed
    for t in range(T - 1):
        keep = ~done[t]
        obs[t + 1][keep], st[t + 1][keep] = nxt[t][keep], nst[t][keep]
        if with_avail:
            av[t + 1][keep] = nav[t][keep]
    return obs, st, av, act, rew, nxt, nst, nav, done


@pytest.mark.parametrize("with_avail", [False, True])
def test_rollout_episodes_equal_the_step_by_step_recorder(with_avail):
    rng = np.random.default_rng(0)
    T, E, N, O, S, A = 7, 3, 2, 4, 5, 3
    rollouts = []
    for k in range(4):
        r = list(_stream(rng, T, E, N, O, S, A, with_avail, 0.2))
        if rollouts:  # continuity across rollouts: step 0 acts on what followed the last step (or its reset)
            prev = rollouts[-1]
            keep = ~prev[8][-1]
            r[0][0][keep], r[1][0][keep] = prev[5][-1][keep], prev[6][-1][keep]
            if with_avail:
                r[2][0][keep] = prev[7][-1][keep]
        rollouts.append(r)
    first = rollouts[0]
    old = EpisodeRecorder(first[0][0], first[1][0], None if first[2] is None else first[2][0])
    new = RolloutEpisodes(first[0][0], first[1][0], None if first[2] is None else first[2][0])
    old_eps, new_eps = [], []
    for it, (obs, st, av, act, rew, nxt, nst, nav, done) in enumerate(rollouts):
        for t in range(T):
            old.record(range(E), act[t], rew[t], nxt[t], nst[t], None if nav is None else nav[t])
            for i in np.flatnonzero(done[t]):
                old_eps.append(episode_arrays(old.finish(i, iteration=it)))
                if t + 1 < T:
                    old.restart(i, obs[t + 1], st[t + 1], None if av is None else av[t + 1])
                elif it + 1 < len(rollouts):
                    nx = rollouts[it + 1]
                    old.restart(i, nx[0][0], nx[1][0], None if nx[2] is None else nx[2][0])
        for t, i, build in new.add(obs, st, av, act, rew, nxt, nst, nav, done):
            ep = build()
            ep["iteration"] = it
            new_eps.append(ep)
    assert len(old_eps) == len(new_eps) > 5
    for a, b in zip(old_eps, new_eps, strict=False):
        assert set(a) == set(b)
        for k in a:
            if isinstance(a[k], np.ndarray):
                assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and np.array_equal(a[k], b[k]), k
            else:
                assert a[k] == b[k]


def test_the_batched_running_variance_equals_the_sequential_one():
    rng = np.random.default_rng(1)
    for shape in ((), (3,)):
        batched, sequential = RunningMeanVar(shape), RunningMeanVar(shape)
        for k in (1, 16, 5, 1, 64, 16):
            x = rng.standard_normal((k,) + shape) * 30 + 7
            batched.update(x)
            sequential.update_sequential(x)
        assert batched.n == sequential.n
        np.testing.assert_allclose(batched.mean, sequential.mean, rtol=1e-12)
        np.testing.assert_allclose(batched.var(), sequential.var(), rtol=1e-12)
        assert np.shape(batched.mean) == shape
    # a batch gives the same numbers however many times it is recomputed (resumable)
    a, b = RunningMeanVar(), RunningMeanVar()
    for x in np.split(rng.standard_normal(64), 4):
        a.update(x)
        b.update(x.copy())
    assert a.state()[1:] == b.state()[1:]


class _ThroughGymnasium(MaMuJoCoVectorEnv):
    """The general path (gymnasium's single-agent step per copy), for comparison."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.direct = None


@pytest.mark.parametrize("name,limit", [("Hopper_3x1", 15), ("HalfCheetah_6x1", 30)])
def test_direct_physics_equals_gymnasiums_step_time_limits_included(name, limit):
    task = dataclasses.replace(get_task(name), episode_limit=limit)
    assert MaMuJoCoVectorEnv(task, 1).direct is not None
    weights = np.random.default_rng(0).normal(size=(task.obs_dim, task.action_dim)) * 0.5
    traces = []
    for cls in (_ThroughGymnasium, MaMuJoCoVectorEnv):
        venv, trace = cls(task, 3, seed=2), []
        venv.reset()
        for _ in range(70):   # several episodes: falls (Hopper) and time limits
            obs, state, _ = venv.observe()
            r, term, trunc, _ = venv.step(np.tanh(obs @ weights) * 0.3)
            trace.append([obs.tobytes(), state.tobytes(), r.tobytes(), term.tobytes(), trunc.tobytes()])
            venv.reset_done(venv.done)
        traces.append(trace)
    assert any(np.frombuffer(t[4], bool).any() for t in traces[0])   # a time limit was reached
    assert traces[0] == traces[1]


def test_a_run_with_the_mamujoco_settings_resumes_bit_identically(tmp_path):
    from behaviour.d4rl_like.mappo import mappo_config, train_mappo
    from envs.resume import resume_path
    from tests.test_behaviour_resume import Killed, _kill_at_mappo, _mappo_digest

    task = dataclasses.replace(get_task("Hopper_3x1"), episode_limit=40)   # time-limit cuts bootstrap
    cfg = mappo_config(dict(num_envs=2, rollout_steps=48, eval_episodes=2, epochs=2, hidden=16, state_value=True,
                                minibatches=2))
    assert cfg.value_norm and cfg.lr_decay and cfg.bootstrap_truncation and cfg.layer_norm
    kw = dict(env_steps=2 * 48 * 4, cfg=cfg, seed=1, n_checkpoints=5, record_episodes=-1)
    whole = train_mappo(task, **kw, log=lambda s: None)
    resume = resume_path(tmp_path / "mappo.pkl")
    with pytest.raises(Killed):
        train_mappo(task, **kw, log=_kill_at_mappo(3), resume_file=resume, resume_every=1)
    lines = []
    resumed = train_mappo(task, **kw, log=lines.append, resume_file=resume, resume_every=1)
    assert any("resumed at iteration 2" in line for line in lines), lines
    assert _mappo_digest(resumed) == _mappo_digest(whole)
    assert whole["episodes"] and all(np.isfinite(c["return_mean"]) for c in whole["checkpoints"])
