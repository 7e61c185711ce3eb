"""The StarCraft II adapter, against a stand-in with smac's API surface (the game cannot be
installed here), and its error when the game or the package is missing."""
import numpy as np
import pytest

from envs.registry import get_task
from envs.sc2_backend import SC2Unavailable, SC2VectorEnv, default_env_factory, sc2_available
from envs.smax_backend import evaluate_smax

TASK = get_task("5m_vs_6m")


class StandInSC2:
    """smac.env.StarCraft2Env's surface: a scripted battle that is won at step `win_at`, or
    hits the time limit at `limit` (info['episode_limit'])."""

    def __init__(self, win_at=None, limit=4):
        self.win_at, self.limit, self.t = win_at, limit, 0
        self.n_agents, self.n_actions = TASK.n_agents, TASK.action_dim

    def get_env_info(self):
        return {"n_agents": self.n_agents, "n_actions": self.n_actions, "obs_shape": TASK.obs_dim,
                "state_shape": TASK.state_dim, "episode_limit": self.limit}

    def reset(self):
        self.t = 0
        return self.get_obs(), self.get_state()

    def get_obs(self):
        return [np.full(TASK.obs_dim, self.t, np.float32) for _ in range(self.n_agents)]

    def get_state(self):
        return np.full(TASK.state_dim, self.t, np.float32)

    def get_avail_actions(self):
        m = np.ones((self.n_agents, self.n_actions), int)
        m[:, -1] = 0  # the last enemy is out of range
        return m.tolist()

    def step(self, actions):
        assert len(actions) == self.n_agents and all(isinstance(a, int) for a in actions)
        self.t += 1
        if self.win_at is not None and self.t == self.win_at:
            return 1.0, True, {"battle_won": True}
        if self.t == self.limit:
            return 0.1, True, {"battle_won": False, "episode_limit": True}
        return 0.1, False, {}

    def close(self):
        pass


def factory(task, seed):
    return StandInSC2(win_at=2 if seed % 2 == 0 else None)


def test_adapter_follows_the_smax_interface_and_the_info_dict():
    venv = SC2VectorEnv(TASK, 2, seed=0, env_factory=factory)
    obs, state, avail = venv.reset()
    assert obs.shape == (2, 5, TASK.obs_dim) and obs.dtype == np.float32
    assert state.shape == (2, TASK.state_dim) and avail.dtype == bool and not avail[..., -1].any()
    r, term, trunc, won = venv.step(np.zeros((2, 5), int))
    assert not (term | trunc).any()
    r, term, trunc, won = venv.step(np.zeros((2, 5), int))
    assert term.tolist() == [True, False] and won.tolist() == [True, False]  # env 0 won at step 2
    frozen = venv.observe()[0][0].copy()
    venv.step(np.zeros((2, 5), int))
    r, term, trunc, won = venv.step(np.zeros((2, 5), int))
    assert trunc.tolist() == [False, True] and not term[1] and not won[1]  # the time limit truncates
    np.testing.assert_array_equal(venv.observe()[0][0], frozen)  # a finished env stays frozen


def test_batched_evaluation_runs_over_the_adapter():
    venv = SC2VectorEnv(TASK, 4, seed=0, env_factory=factory)
    res = evaluate_smax(TASK, lambda obs, avail: avail.argmax(-1), 4, seed=0, venv=venv)
    assert res["win_rate"] == pytest.approx(0.5) and res["lengths"].tolist() == [2, 4, 2, 4]


def test_missing_game_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SC2PATH", str(tmp_path / "nowhere"))
    ok, reason = sc2_available("smacv1")
    assert not ok and "StarCraft II not found" in reason and "SC2PATH" in reason
    with pytest.raises(SC2Unavailable, match="StarCraft II not found"):
        default_env_factory(TASK, 0)


def test_missing_package_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SC2PATH", str(tmp_path))  # a folder exists, the smacv2 package does not
    ok, reason = sc2_available("smacv2")
    assert not ok and "smacv2 package is not installed" in reason and "pip install" in reason
