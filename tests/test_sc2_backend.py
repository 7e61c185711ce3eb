"""The StarCraft II adapter against a stand-in with smac's API surface (the game cannot be
installed here), and its errors when the game, a map or the package is missing."""
import dataclasses
import sys
import types

import numpy as np
import pytest

from envs import sc2_backend
from envs.registry import get_task
from envs.sc2_backend import (
    SC2Unavailable,
    SC2VectorEnv,
    classify_end,
    make_sc2_env,
    sc2_available,
    sc2_task_spec,
    smacv2_env_args,
)
from envs.simulators import ResumableVectorEnv, VectorEnv, evaluate

TASK = get_task("5m_vs_6m")   # registry spec: SMAX's dimensions
OBS, STATE, ACTIONS = 55, 98, 12  # smac's 5m_vs_6m (4 move + 6x5 enemy + 4x5 ally + 1 own; 12 actions)


class StandInSC2:
    """smac.env.StarCraft2Env's surface with a scripted battle.

    ``outcome`` at step ``at``: "win" (all enemies dead), "loss" (all allies dead), "crash"
    (smac's ``0, True, {}`` after relaunching a lost game); otherwise the time limit ends it
    at ``limit``, with ``info["episode_limit"]`` when ``continuing_episode``.
    Observations carry the step count, so freezing shows; stepping after the end fails."""

    def __init__(self, outcome="timeout", at=None, limit=4, continuing_episode=True, short_agent=None, **kwargs):
        self.outcome, self.at, self.limit, self.continuing = outcome, at, limit, continuing_episode
        self.short_agent, self.kwargs = short_agent, kwargs
        self.n_agents, self.n_enemies, self.n_actions = 5, 6, ACTIONS
        self.t, self.ended, self.steps_taken, self.closed = 0, True, 0, False

    def get_env_info(self):
        return {"state_shape": STATE, "obs_shape": OBS, "n_actions": self.n_actions,
                "n_agents": self.n_agents, "episode_limit": self.limit}

    def reset(self):
        self.t, self.ended = 0, False
        return self.get_obs(), self.get_state()

    def get_obs(self):
        return [np.full(OBS - 5 if a == self.short_agent else OBS, self.t + a / 10, np.float32)
                for a in range(self.n_agents)]

    def get_state(self):
        return np.full(STATE, self.t, np.float32)

    def get_avail_actions(self):
        m = [[1] * self.n_actions for _ in range(self.n_agents)]
        for row in m:
            row[-1] = 0  # the last enemy is out of range
        return m

    def step(self, actions):
        assert not self.ended, "stepped after the episode ended"
        assert len(actions) == self.n_agents and all(type(a) is int for a in actions)
        assert all(self.get_avail_actions()[i][a] for i, a in enumerate(actions)), "unavailable action"
        self.t += 1
        self.steps_taken += 1
        info = {"battle_won": False, "dead_allies": 0, "dead_enemies": 0}
        if self.t == self.at and self.outcome == "crash":
            self.ended = True
            return 0, True, {}
        if self.t == self.at and self.outcome == "win":
            self.ended = True
            info.update(battle_won=True, dead_enemies=self.n_enemies)
            return 10.0, True, info
        if self.t == self.at and self.outcome == "loss":
            self.ended = True
            info.update(dead_allies=self.n_agents)
            return 0.5, True, info
        if self.t >= self.limit:
            self.ended = True
            if self.continuing:
                info["episode_limit"] = True
            return 0.25, True, info
        return 0.25, False, info

    def close(self):
        self.closed = True


def scripted(*specs):
    """A factory handing out stand-ins built from ``specs`` (dicts of keyword arguments) in turn."""
    made = []

    def factory(task, seed):
        env = StandInSC2(**specs[len(made) % len(specs)])
        env.seed = seed
        made.append(env)
        return env

    factory.made = made
    return factory


SPEC = sc2_task_spec(TASK, scripted({}))


def first_available(obs, avail):
    return avail.argmax(-1)


def test_task_spec_takes_the_games_dimensions_and_a_narrow_spec_is_refused():
    assert (SPEC.obs_dim, SPEC.state_dim, SPEC.action_dim, SPEC.episode_limit) == (OBS, STATE, ACTIONS, 4)
    assert SPEC.backend == "sc2" and SPEC.n_agents == 5 and not SPEC.approximation
    factory = scripted({})
    with pytest.raises(ValueError, match=r"actions 11 < 12.*sc2_task_spec"):
        SC2VectorEnv(TASK, 2, 0, env_factory=factory)  # the registry's SMAX dims
    assert all(env.closed for env in factory.made)


def test_arrays_follow_the_smax_interface():
    venv = SC2VectorEnv(SPEC, 3, seed=0, env_factory=scripted({}))
    assert venv.num_envs == 3 and venv.n_agents == 5 and len(venv.agents) == 5
    obs, state, avail = venv.reset()
    assert obs.shape == (3, 5, OBS) and obs.dtype == np.float32
    assert state.shape == (3, STATE) and state.dtype == np.float32
    assert avail.shape == (3, 5, ACTIONS) and avail.dtype == bool and avail[..., :-1].all() and not avail[..., -1].any()
    out = venv.step(np.zeros((3, 5), np.int64))
    for x, dtype in zip(out, (np.float32, bool, bool, bool), strict=False):
        assert x.shape == (3,) and x.dtype == dtype
    np.testing.assert_allclose(venv.observe()[0][:, 2, 0], 1.2)  # step 1, agent 2
    assert len(set(venv.seeds)) == 3 and not set(venv.seeds) & set(SC2VectorEnv(SPEC, 3, 1, scripted({})).seeds)
    with pytest.raises(ValueError, match="shape"):
        venv.step(np.zeros((3, 4), int))
    with pytest.raises(ValueError, match=r"\[0, 12\)"):
        venv.step(np.full((3, 5), 12))


def test_ends_follow_the_info_dict_and_finished_envs_stay_frozen():
    factory = scripted({"outcome": "win", "at": 2}, {"outcome": "loss", "at": 3}, {},
                       {"continuing_episode": False}, {"outcome": "crash", "at": 1})
    venv = SC2VectorEnv(SPEC, 5, seed=0, env_factory=factory)
    venv.reset()
    seen = {k: np.zeros(5, bool) for k in ("term", "trunc", "won")}
    ended_at = np.zeros(5, int)
    frozen = {}
    for t in range(1, 7):
        r, term, trunc, won = venv.step(np.zeros((5, 5), int))
        assert not (term & trunc).any()
        for i in np.flatnonzero(term | trunc):
            ended_at[i] = t
            frozen[i] = [x[i].copy() for x in venv.observe()]
        for i, (o, s, m) in frozen.items():
            if ended_at[i] < t:  # steps after the end: nothing happens
                assert r[i] == 0 and not (term[i] or trunc[i] or won[i])
                np.testing.assert_array_equal(venv.observe()[0][i], o)
                np.testing.assert_array_equal(venv.observe()[1][i], s)
        for k, v in zip(("term", "trunc", "won"), (term, trunc, won), strict=False):
            seen[k] |= v
    assert ended_at.tolist() == [2, 3, 4, 4, 1]
    assert seen["won"].tolist() == [True, False, False, False, False]
    # win and loss terminate; the time limit truncates, with or without info["episode_limit"];
    # a lost game (info {}) truncates and is counted
    assert seen["term"].tolist() == [True, True, False, False, False]
    assert seen["trunc"].tolist() == [False, False, True, True, True]
    assert venv.restarts == 1
    assert [env.steps_taken for env in factory.made] == [2, 3, 4, 4, 1]
    # the observation after the last step is read (as pymarl's runner does), except after a lost game
    assert frozen[0][0][0, 0] == 2 and frozen[2][1][0] == 4 and frozen[4][0][0, 0] == 0


def test_classify_end_edge_cases():
    # continuing_episode=False: a loss on the limit step is a loss, an undecided end a truncation
    assert classify_end({"battle_won": False, "dead_allies": 5}, 4, 4, 5) == (True, False, False, False)
    assert classify_end({"battle_won": False, "dead_allies": 2}, 4, 4, 5) == (False, True, False, False)
    assert classify_end({"battle_won": True}, 4, 4, 5) == (True, False, True, False)
    assert classify_end({"battle_won": False, "episode_limit": True}, 4, 4, 5) == (False, True, False, False)
    assert classify_end({"battle_won": False, "episode_limit": True}, 3, 4, 5)[1]  # the flag is authoritative
    assert classify_end({"battle_won": False, "episode_limit": False}, 4, 4, 5)[0]
    assert classify_end({}, 2, 4, 5) == (False, True, False, True)


def test_reset_done_restarts_only_the_chosen_envs_and_pads_short_observations():
    venv = SC2VectorEnv(SPEC, 2, 0, env_factory=scripted({"short_agent": 1}))
    venv.reset()
    venv.step(np.zeros((2, 5), int))
    venv.reset_done(np.array([True, False]))
    obs, state, _ = venv.observe()
    assert state[:, 0].tolist() == [0, 1]
    assert (obs[:, 1, OBS - 5:] == 0).all() and obs[1, 1, 0] == pytest.approx(1.1)
    wide = dataclasses.replace(SPEC, obs_dim=OBS + 3, action_dim=ACTIONS + 2)
    obs, _, avail = SC2VectorEnv(wide, 1, 0, env_factory=scripted({})).reset()
    assert obs.shape == (1, 5, OBS + 3) and (obs[..., OBS:] == 0).all() and not avail[..., ACTIONS - 1:].any()


def test_batched_evaluation_runs_over_the_adapter_on_threads_too():
    specs = ({"outcome": "win", "at": 2}, {}, {"outcome": "loss", "at": 3}, {"outcome": "win", "at": 1})
    res = evaluate(SPEC, first_available, 4, seed=0, venv=SC2VectorEnv(SPEC, 4, 0, env_factory=scripted(*specs)))
    assert res["win_rate"] == pytest.approx(0.5) and res["lengths"].tolist() == [2, 4, 3, 1]
    assert res["returns"].tolist() == [10.25, 1.0, 1.0, 10.0]
    threaded = SC2VectorEnv(SPEC, 4, 0, env_factory=scripted(*specs), workers=3)
    res2 = evaluate(SPEC, first_available, 4, seed=0, venv=threaded)  # simulators' entry point, backend "sc2"
    threaded.close()
    assert threaded._pool is None
    for k in ("returns", "wins", "lengths"):
        np.testing.assert_array_equal(res[k], res2[k])


# -- what is missing ---------------------------------------------------------------------

def _game(root, maps=()):
    (root / "Versions" / "Base75689").mkdir(parents=True)
    for m in maps:
        (root / "Maps" / "SMAC_Maps").mkdir(parents=True, exist_ok=True)
        (root / "Maps" / "SMAC_Maps" / f"{m}.SC2Map").write_bytes(b"")
    return root


def test_missing_game_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "smac", None)  # not importable, whatever is installed
    monkeypatch.setenv("SC2PATH", str(tmp_path / "nowhere"))
    ok, reason = sc2_available()
    assert not ok and "StarCraft II not found" in reason and "SC2PATH=" in reason
    assert "oxwhirl/smac#installing" in reason
    assert "pip install git+https://github.com/oxwhirl/smac.git" in reason  # every missing piece is named
    with pytest.raises(SC2Unavailable, match="StarCraft II not found"):
        SC2VectorEnv(TASK, 2, 0)
    with pytest.raises(SC2Unavailable, match="5m_vs_6m"):
        make_sc2_env(TASK, 0)
    monkeypatch.delenv("SC2PATH")
    monkeypatch.setattr(sc2_backend, "default_sc2_path", lambda: str(tmp_path / "StarCraftII"))
    assert "SC2PATH is not set and the default install folder" in sc2_available()[1]
    (tmp_path / "StarCraftII").mkdir()
    assert "no game binary" in sc2_available()[1]


def test_missing_map_and_package_are_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "smac", None)
    monkeypatch.setitem(sys.modules, "smacv2", None)
    monkeypatch.setenv("SC2PATH", str(_game(tmp_path)))
    ok, reason = sc2_available(TASK)
    assert not ok and "SMAC map missing" in reason and "SMAC_Maps/5m_vs_6m.SC2Map" in reason
    assert "StarCraft II not found" not in reason and "SMAC3" in reason
    ok, reason = sc2_available(get_task("protoss_5_vs_5"))
    assert "32x32_flat.SC2Map" in reason and "pip install git+https://github.com/oxwhirl/smacv2.git" in reason


# -- the default factory against stand-in packages ------------------------------------------

class Dist:
    """A SMACv2 distribution's shape: a numpy generator and a nested distribution."""

    def __init__(self, nested=True):
        self.rng = np.random.default_rng()
        self.inner = Dist(False) if nested else None

    def generate(self):
        return float(self.rng.random()) + (self.inner.generate() if self.inner else 0.0)


class StandInWrapper(StandInSC2):
    def __init__(self, **kwargs):
        super().__init__(**{k: v for k, v in kwargs.items() if k == "continuing_episode"})
        self.kwargs = kwargs
        cap = kwargs["capability_config"]
        self.n_agents, self.n_actions = cap["n_units"], 6 + cap["n_enemies"]
        self.env_key_to_distribution_map = {"team_gen": Dist(), "start_positions": Dist()}


def _fake_packages(monkeypatch):
    for name, attr, cls in (("smac", "env", None), ("smac.env", "StarCraft2Env", StandInSC2),
                            ("smacv2", "env", None), ("smacv2.env", "StarCraftCapabilityEnvWrapper", StandInWrapper)):
        mod = types.ModuleType(name)
        if cls is not None:
            setattr(mod, attr, cls)
        monkeypatch.setitem(sys.modules, name, mod)
    sys.modules["smac"].env = sys.modules["smac.env"]
    sys.modules["smacv2"].env = sys.modules["smacv2.env"]


def test_default_factory_builds_smac_and_smacv2_envs(monkeypatch, tmp_path):
    _fake_packages(monkeypatch)
    monkeypatch.setenv("SC2PATH", str(_game(tmp_path, maps=("5m_vs_6m", "32x32_flat"))))
    assert sc2_available(TASK) == (True, "")
    venv = SC2VectorEnv(sc2_task_spec(TASK), 2, seed=3)
    assert [env.kwargs["map_name"] for env in venv.envs] == ["5m_vs_6m"] * 2
    assert all(env.continuing for env in venv.envs)  # so that SMAC reports info["episode_limit"]
    venv.reset()

    task = get_task("zerg_10_vs_11")
    args = smacv2_env_args(task)
    cap = args["capability_config"]
    assert args["map_name"] == "10gen_zerg" and args["obs_own_pos"] and args["use_unit_ranges"]
    assert (cap["n_units"], cap["n_enemies"]) == (10, 11)
    assert cap["team_gen"]["unit_types"] == ["zergling", "baneling", "hydralisk"]
    assert cap["team_gen"]["weights"] == [0.45, 0.1, 0.45] and cap["team_gen"]["exception_unit_types"] == ["baneling"]
    assert cap["start_positions"] == {"dist_type": "surrounded_and_reflect", "p": 0.5, "map_x": 32, "map_y": 32}
    assert "exception_unit_types" not in smacv2_env_args(get_task("protoss_5_vs_5"))["capability_config"]["team_gen"]
    spec = sc2_task_spec(task)
    assert spec.action_dim == 17 and spec.n_agents == 10
    a, b = SC2VectorEnv(spec, 2, seed=5), SC2VectorEnv(spec, 2, seed=5)
    draws = [[d.generate() for d in env.env_key_to_distribution_map.values()] for env in a.envs + b.envs]
    assert draws[:2] == draws[2:] and draws[0] != draws[1]  # scenario draws follow the seed


def test_the_adapter_satisfies_the_vector_env_contract_and_seed_groups_are_lone_envs():
    """StarCraft II is not installed: the contract is checked on the class (its methods and the
    evaluation's attributes) and on an adapter over stand-ins; it keeps no state to resume."""
    methods = [n for n, v in vars(VectorEnv).items() if callable(v) and not n.startswith("_")]
    assert sorted(methods) == ["observe", "reset", "reset_done", "step", "warm_up"]
    assert all(callable(getattr(SC2VectorEnv, n, None)) for n in methods)
    assert (SC2VectorEnv.has_wins, SC2VectorEnv.steps_past_limit) == (True, 1)
    venv = SC2VectorEnv(SPEC, 4, seed=[3, 7], env_factory=scripted({}))
    assert isinstance(venv, VectorEnv) and not isinstance(venv, ResumableVectorEnv)
    lone = [SC2VectorEnv(SPEC, 2, seed=s, env_factory=scripted({})).seeds for s in (3, 7)]
    assert venv.seeds == lone[0] + lone[1]
    assert SC2VectorEnv(SPEC, 2, seed=[3], env_factory=scripted({})).seeds == lone[0]
    with pytest.raises(ValueError, match="cannot be split"):
        SC2VectorEnv(SPEC, 3, seed=[3, 7], env_factory=scripted({}))
