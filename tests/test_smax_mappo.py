"""The JAX MAPPO behaviour learner on SMAX (behaviour/smac_like/mappo.py) and the datasets made from
its runs (behaviour/smac_like/datasets.py): it learns, resumes bit for bit, stores runs without
pickle, and SMACv1's qualities are MADT's return bands mapped onto SMAX's reward."""
import dataclasses
import json
import math
import pickle

import numpy as np
import pytest

from behaviour.smac_like.datasets import SMAX_WIN_RETURN, smac_lost_return_max, smax_band, smax_from_run
from behaviour.smac_like.mappo import train_smax_mappo
from behaviour.smac_like.mappo_config import SMAXMAPPOConfig
from behaviour.smac_like.run_file import load_run, save_run
from envs.registry import get_task
from envs.resume import resume_path


def easy_task():
    # 5 marines against 3: learnable in a minute on a CPU, the same code path as the paper's maps
    base = get_task("5m_vs_6m")
    kw = {**base.backend_kwargs, "n_enemies": 3}
    return dataclasses.replace(base, backend_kwargs=kw, obs_dim=13 * (4 + 3) + 10, state_dim=12 * 8,
                               action_dim=5 + 3)


EASY = SMAXMAPPOConfig(num_envs=16, rollout_steps=32, hidden=32, eval_episodes=32, n_points=4, chunk_length=8)


@pytest.fixture(scope="module")
def easy_run():
    # 40 updates of 512 steps; 40 episodes recorded across the run (10 per point after the first)
    return train_smax_mappo(easy_task(), 40 * 512, EASY, seed=0, record_episodes=40, log=lambda s: None)


def test_it_learns_on_an_easy_battle(easy_run):
    ck = easy_run["checkpoints"]
    assert len(ck) == 5 and len(easy_run["curve"]) == 5 and easy_run["env_steps"] == 40 * 512
    assert ck[-1]["return_mean"] > ck[0]["return_mean"] + 0.3, [c["return_mean"] for c in ck]
    assert max(c["win_rate"] for c in ck[1:]) > ck[0]["win_rate"]
    assert easy_run["curve"][-1]["train_episodes"] > 0


def test_episodes_recorded_across_the_run(easy_run):
    eps = easy_run["episodes"]
    assert len(eps) == 40 and sorted({e["iteration"] for e in eps}) == [10, 20, 30, 40]
    task = easy_task()
    for e in eps[:5]:
        L = len(e["reward"])
        assert e["obs"].shape == (L + 1, 5, task.obs_dim) and e["state"].shape == (L + 1, task.state_dim)
        assert e["actions"].shape == (L, 5) and e["avail"].shape == (L + 1, 5, task.action_dim)
        # every action taken was available
        assert np.take_along_axis(e["avail"][:L], e["actions"][..., None], -1).all()
        # a won episode returns 2.0 (SMAX: damage 1 + win bonus 1), a lost one less than 1
        assert (abs(e["reward"].sum() - 2.0) < 1e-4) if e["win"] else e["reward"].sum() < 1.0


def test_a_run_file_round_trips_and_holds_no_pickle(easy_run, tmp_path):
    path = tmp_path / "mappo_run.npz"
    save_run(easy_run, path)
    back = load_run(path)
    assert json.dumps(back["curve"]) == json.dumps(easy_run["curve"])
    assert len(back["episodes"]) == len(easy_run["episodes"])
    for a, b in zip(back["episodes"], easy_run["episodes"], strict=False):
        assert all(np.array_equal(a[k], b[k]) for k in ("obs", "state", "avail", "actions", "reward"))
        assert (a["win"], a["terminated"], a["iteration"]) == (b["win"], b["terminated"], b["iteration"])
    for a, b in zip(back["checkpoints"], easy_run["checkpoints"], strict=False):
        assert all(np.array_equal(x, y) for x, y in zip(a["actor"], b["actor"], strict=False))


class _Boom:
    def __reduce__(self):
        return (open, ("/tmp/comadice_pickle_ran", "w"))


def test_a_crafted_pickle_is_refused_without_running(tmp_path):
    import os
    bad = tmp_path / "mappo_run.npz"
    np.savez(bad, header=np.array([_Boom()], dtype=object))  # an object array: pickled inside the npz
    if os.path.exists("/tmp/comadice_pickle_ran"):
        os.remove("/tmp/comadice_pickle_ran")
    with pytest.raises(ValueError, match="not a SMAX MAPPO run file"):
        load_run(bad)
    assert not os.path.exists("/tmp/comadice_pickle_ran")
    plain = tmp_path / "run2.npz"
    plain.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ValueError, match="run2.npz"):
        load_run(plain)
    assert not os.path.exists("/tmp/comadice_pickle_ran")


def test_an_interrupted_run_resumes_bit_identically(tmp_path):
    cfg = dataclasses.replace(EASY, n_points=4)
    kw = dict(env_steps=4 * 512, cfg=cfg, seed=3, record_episodes=8)
    whole = train_smax_mappo(easy_task(), **kw, log=lambda s: None)
    resume = resume_path(tmp_path / "mappo_run.npz")

    class Killed(Exception):
        pass

    def die_at_3(line):
        if "update 3/4" in line:
            raise Killed(line)

    with pytest.raises(Killed):  # dies at the third point: the state of the second is on disk
        train_smax_mappo(easy_task(), **kw, log=die_at_3, resume_file=resume)
    assert resume.exists()
    lines = []
    resumed = train_smax_mappo(easy_task(), **kw, log=lines.append, resume_file=resume)
    assert any("resumed at chunk 2 of 4" in line for line in lines), lines
    assert not any("update 1/4" in line for line in lines)
    no_clock = lambda run: json.dumps([{k: v for k, v in c.items() if k != "wall_s"} for c in run["curve"]])
    assert no_clock(resumed) == no_clock(whole)
    for a, b in zip(resumed["checkpoints"], whole["checkpoints"], strict=False):
        assert all(np.array_equal(x, y) for x, y in zip(a["actor"], b["actor"], strict=False))
    assert len(resumed["episodes"]) == len(whole["episodes"])
    assert all(np.array_equal(a["obs"], b["obs"]) for a, b in zip(resumed["episodes"], whole["episodes"], strict=False))
    assert not resume.exists()


def test_madt_bands_on_smax_scale():
    # SMAC: 6 marines (45 hp), 10 per kill, 200 per win, scaled to 20: a lost battle returns <= 12.45
    assert smac_lost_return_max("5m_vs_6m") == pytest.approx(20 * 330 / 530)
    lo_poor, hi_poor = smax_band("5m_vs_6m", "poor")
    lo_med, hi_med = smax_band("5m_vs_6m", "medium")
    lo_good, hi_good = smax_band("5m_vs_6m", "good")
    assert lo_poor == 0 and hi_poor == pytest.approx(10 / 12.4528, rel=1e-4) == lo_med
    assert hi_med == SMAX_WIN_RETURN == lo_good == 1.5 and math.isinf(hi_good)  # 15 > 12.45: only a win passes
    # the published levels fall in their bands (8.5, 11.0, 20.0 on SMAC's scale)
    assert hi_poor > 8.5 / 12.4528 and lo_med < 11.0 / 12.4528 < hi_med


def test_smacv1_datasets_follow_the_bands(easy_run):
    task = easy_task()
    for quality in ("poor", "good"):
        lo, hi = smax_band(task.name, quality)
        ds = smax_from_run(task, quality, easy_run, 16, seed=0)
        returns = ds.episode_returns()
        assert ds.n_episodes == 16 and ((returns >= lo) & (returns < hi)).all(), (quality, returns)
        prov = ds.meta["provenance"]
        assert prov["smax_return_band"] == [lo, hi] and prov["checkpoints"][0]["kept"] > 0
    assert ds.meta["provenance"]["win_rate"] == 1.0  # good: won episodes only


def test_smacv2_medium_is_drawn_from_the_whole_run(easy_run):
    task = dataclasses.replace(easy_task(), suite="smacv2", qualities=("medium",))
    ds = smax_from_run(task, "medium", easy_run, 30, seed=0)
    assert ds.n_episodes == 30 and ds.meta["grade"] == "paper"
    assert ds.meta["provenance"]["behaviour"] == "mappo-jax-learning-run"
    assert ds.meta["provenance"]["pool"] == 40


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="chunk_length"):
        SMAXMAPPOConfig(chunk_length=5).validate(10**6)
    with pytest.raises(ValueError, match="env_steps"):
        SMAXMAPPOConfig().validate(100)
    with pytest.raises(ValueError, match="lr must be > 0"):
        SMAXMAPPOConfig(lr=0.0).validate(10**6)
    with pytest.raises(ValueError, match="critic must be 'state' or 'local'"):
        SMAXMAPPOConfig(critic="central").validate(10**6)
    with pytest.raises(ValueError, match="critic's states"):
        SMAXMAPPOConfig(num_envs=3, rollout_steps=16, chunk_length=16, minibatches=3 * 5).validate(10**6)


@pytest.mark.parametrize("option", [{"critic": "local"}, {"state_norm": True}])
def test_the_critic_options_learn_the_easy_battle(option):
    run = train_smax_mappo(easy_task(), 40 * 512, dataclasses.replace(EASY, **option), seed=0, log=lambda s: None)
    ck = run["checkpoints"]
    assert ck[-1]["return_mean"] > ck[0]["return_mean"] + 0.3, [c["return_mean"] for c in ck]
    assert max(c["win_rate"] for c in ck[1:]) > ck[0]["win_rate"]


def test_the_state_critic_is_a_dense_layer_on_the_state_and_the_agent_id():
    """Its first layer computes the state's part once for all N agents: the values equal those of
    the same weights applied to [s, onehot(i)] for each agent i."""
    import jax
    import jax.numpy as jnp

    from behaviour.smac_like.mappo_learner import SMAXMAPPO
    task, cfg = easy_task(), EASY
    learner = SMAXMAPPO(task, cfg, 10)
    params = learner.init(jax.random.PRNGKey(0))["critic"]
    state = jax.random.normal(jax.random.PRNGKey(1), (7, task.state_dim))
    values = learner.critic.apply(params, state)
    p = params["params"]
    w, b = p["input_kernel"], p["input_bias"]
    N = learner.N
    x = jnp.concatenate([jnp.repeat(state[:, None], N, 1), jnp.broadcast_to(jnp.eye(N), (7, N, N))], -1)
    h = jax.nn.relu(x @ w + b)
    dense = [p[k] for k in sorted(k for k in p if k.startswith("Dense"))]
    h = jax.nn.relu(h @ dense[0]["kernel"] + dense[0]["bias"])
    expect = (h @ dense[1]["kernel"] + dense[1]["bias"])[..., 0]
    assert values.shape == (7, N) and np.allclose(values, expect, atol=1e-5)


def test_a_run_of_other_networks_is_refused_naming_the_checkpoint(easy_run):
    from behaviour.smac_like.mappo import actor_policy
    old = dict(easy_run["checkpoints"][-1])
    old["actor"] = old["actor"][:-1]   # one array fewer: an actor of another layout
    with pytest.raises(ValueError, match="does not fit this code's SMAX MAPPO actor.*remove it"):
        actor_policy(easy_task(), easy_run, old)
