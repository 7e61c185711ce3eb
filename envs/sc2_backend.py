"""The real StarCraft II backend: an adapter over oxwhirl's ``smac`` (SMACv1) and ``smacv2``
packages with every backend's batched interface (``envs/simulators.py`` ``VectorEnv``).

    venv = SC2VectorEnv(sc2_task_spec(task), num_envs, seed)
    obs [E, N, O], state [E, S], avail [E, N, A] (bool) = venv.reset()      # also venv.observe()
    reward [E], terminated [E], truncated [E], won [E] = venv.step(actions [E, N])

``num_envs`` game instances are stepped in lockstep (one after the other, or on
``workers`` threads).  An episode that ends stays frozen -- no more steps sent, reward 0,
its last observation kept -- until the next ``reset()`` / ``reset_done()``.

How an end is read from SMAC's ``info`` (smac/env/starcraft2/starcraft2.py, ``step``):
- ``info["battle_won"]`` is the win;
- ``info["episode_limit"]`` marks an end by the map's time limit: truncated (bootstrap),
  every other end is terminated.  SMAC sets that key only when the env was built with
  ``continuing_episode=True`` (its sole effect), which ``make_sc2_env`` does; for envs
  built without it, an end at the limit with the battle undecided (not won, not every
  ally dead) counts as truncated;
- ``(0, True, {})`` is SMAC's answer after it lost the game and relaunched it: the episode
  is cut, not decided -- truncated, not won, counted in ``venv.restarts``.

Dimensions.  Arrays have the task spec's widths, with every env's vectors zero padded
(``avail`` padded with False) up to them.  The registry holds SMAX's dimensions, which
differ from StarCraft II's (5m_vs_6m: SMAX obs 140 / 11 actions, SMAC obs 55 / 12
actions), so a spec narrower than the game is refused with a message;
``sc2_task_spec(task)`` reads the game's dimensions from ``get_env_info()`` (no game is
launched for that) and returns the spec to build networks and this env with; the registry
calls it (``get_task(..., backend="sc2")``, in the workflow ``simulators.smac_backend: sc2``).

SMACv2 tasks use ``StarCraftCapabilityEnvWrapper`` with SMACv2's per-race config
(smacv2/examples/configs/sc2_gen_<race>.yaml): ``weighted_teams`` unit types and weights,
exception types, ``surrounded_and_reflect`` start positions on the 32x32 map, ``n_units``
/ ``n_enemies`` from the task.  SMACv2 draws each episode's scenario from unseeded
``numpy.random.default_rng()`` generators; ``make_sc2_env`` reseeds them from the env's
seed (the team order is still shuffled with Python's global ``random``).

When the game, its maps or the package is missing, ``SC2Unavailable`` (and
``sc2_available()``) names each missing piece and how to install it.  Tests replace the
game with ``env_factory`` (``SC2VectorEnv(task, n, seed, env_factory=...)``): anything with
smac's methods ``get_env_info, reset, step, get_obs, get_state, get_avail_actions, close``.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import platform
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from envs.simulators import group_seeds
from envs.spec import TaskSpec
from envs.suites import SUITES

INSTALL_GAME = "https://github.com/oxwhirl/smac#installing-starcraft-ii"
MAPS_URL = {"smac": "https://github.com/oxwhirl/smac/releases/download/v0.1-beta1/SMAC_Maps.zip",
            "smacv2": "https://github.com/oxwhirl/smacv2/releases/tag/maps"}
# PyPI's "smac" is SMAC3 (hyperparameter optimisation), not this: both install from git.
PIP_INSTALL = {"smac": "pip install git+https://github.com/oxwhirl/smac.git",
               "smacv2": "pip install git+https://github.com/oxwhirl/smacv2.git"}
# module and class each suite's env comes from
ENV_CLASS = {"smac": ("smac.env", "StarCraft2Env"),
             "smacv2": ("smacv2.env", "StarCraftCapabilityEnvWrapper")}

# team_gen of smacv2/examples/configs/sc2_gen_<race>.yaml, in the yaml's order
SMACV2_TEAMS = {
    "protoss": {"unit_types": ["stalker", "zealot", "colossus"], "weights": [0.45, 0.45, 0.1],
                "exception_unit_types": []},
    "terran": {"unit_types": ["marine", "marauder", "medivac"], "weights": [0.45, 0.45, 0.1],
               "exception_unit_types": ["medivac"]},
    "zerg": {"unit_types": ["zergling", "baneling", "hydralisk"], "weights": [0.45, 0.1, 0.45],
             "exception_unit_types": ["baneling"]},
}
# env_args shared by the three sc2_gen_<race>.yaml (replay options left out);
# continuing_episode=True (yaml: False) only adds info["episode_limit"] at a time-limit end
SMACV2_ENV_ARGS = {
    "continuing_episode": True, "difficulty": "7", "game_version": None, "move_amount": 2,
    "obs_all_health": True, "obs_instead_of_state": False, "obs_last_action": False,
    "obs_own_health": True, "obs_pathing_grid": False, "obs_terrain_height": False,
    "obs_timestep_number": False, "reward_death_value": 10, "reward_defeat": 0,
    "reward_negative_scale": 0.5, "reward_only_positive": True, "reward_scale": True,
    "reward_scale_rate": 20, "reward_sparse": False, "reward_win": 200, "conic_fov": False,
    "use_unit_ranges": True, "min_attack_range": 2, "obs_own_pos": True, "num_fov_actions": 12,
    "state_last_action": True, "state_timestep_number": False, "step_mul": 8,
    "heuristic_ai": False, "debug": False, "prob_obs_enemy": 1.0, "action_mask": True,
}
SMACV2_MAP_SIZE = 32  # the 10gen_<race> maps are 32x32_flat.SC2Map


class SC2Unavailable(RuntimeError):
    """StarCraft II, a SMAC map or the smac / smacv2 package is missing; the message says which."""


# -- what is installed ------------------------------------------------------------------

def scenario_kind(task_or_suite: TaskSpec | str | None) -> str:
    """How StarCraft builds the battles of a task's suite (``envs/suites.py`` ``Suite.scenario_kind``):
    ``"map"`` (SMACv1), ``"generated"`` (SMACv2), ``""`` for a suite of no StarCraft battles."""
    suite = task_or_suite.suite if isinstance(task_or_suite, TaskSpec) else task_or_suite
    return SUITES[suite].scenario_kind if suite in SUITES else ""


def package_of(task_or_suite: TaskSpec | str | None) -> str:
    """``"smacv2"`` for tasks of generated battles (SMACv2), ``"smac"`` otherwise."""
    return "smacv2" if scenario_kind(task_or_suite) == "generated" else "smac"


def default_sc2_path() -> str:
    """Where pysc2 (which smac launches the game with) looks when SC2PATH is not set."""
    system = platform.system()
    if system == "Windows":
        return "C:/Program Files (x86)/StarCraft II"
    if system == "Darwin":
        return "/Applications/StarCraft II"
    return "~/StarCraftII"


def sc2_path() -> Path:
    return Path(os.environ.get("SC2PATH") or default_sc2_path()).expanduser()


def map_file(task: TaskSpec) -> str:
    """The map file a task plays, relative to the game's ``Maps`` folder."""
    name = "32x32_flat" if scenario_kind(task) == "generated" else task.name
    return f"SMAC_Maps/{name}.SC2Map"


def missing_pieces(task_or_suite: TaskSpec | str | None = None) -> list:
    """Every missing piece, each with how to get it; empty when StarCraft II can run."""
    problems = []
    root = sc2_path()
    set_by = "SC2PATH=" + os.environ["SC2PATH"] if os.environ.get("SC2PATH") else None
    if not root.is_dir():
        where = f"{set_by} is not a folder" if set_by else \
            f"SC2PATH is not set and the default install folder {default_sc2_path()} does not exist"
        problems.append(f"StarCraft II not found ({where}): install the game and set SC2PATH to its folder "
                        f"(see {INSTALL_GAME})")
    else:
        versions = root / "Versions"
        if not (versions.is_dir() and any(p.name.startswith("Base") for p in versions.iterdir())):
            problems.append(f"StarCraft II at {root} has no game binary (no Versions/Base* folder): "
                            f"reinstall the game there or point SC2PATH at a complete install (see {INSTALL_GAME})")
        if isinstance(task_or_suite, TaskSpec):
            path = root / "Maps" / map_file(task_or_suite)
            if not path.is_file():
                problems.append(f"SMAC map missing: {path} (extract SMAC_Maps.zip from "
                                f"{MAPS_URL[package_of(task_or_suite)]} into {root / 'Maps'})")
    package = package_of(task_or_suite)
    module, cls = ENV_CLASS[package]
    try:
        getattr(importlib.import_module(module), cls)
    except Exception as exc:  # noqa: BLE001 - ImportError, or pysc2 / protobuf failing on import
        other = " (PyPI's 'smac' is SMAC3, a different project)" if package == "smac" else ""
        problems.append(f"the {package} package cannot be used ({module}.{cls}: {type(exc).__name__}: {exc}): "
                        f"{PIP_INSTALL[package]}{other}")
    return problems


def sc2_available(task_or_suite: TaskSpec | str | None = None):
    """``(True, "")`` when StarCraft II can run ``task_or_suite`` (a TaskSpec also checks its
    map; a suite name or None only the game and the package), else ``(False, reason)``."""
    problems = missing_pieces(task_or_suite)
    return (not problems), "; ".join(problems)


def require_sc2(task: TaskSpec) -> None:
    problems = missing_pieces(task)
    if problems:
        raise SC2Unavailable(f"task {task.id} cannot run on StarCraft II: " + "; ".join(problems))


# -- building one game ------------------------------------------------------------------

def smacv2_env_args(task: TaskSpec) -> dict:
    """Keyword arguments of ``StarCraftCapabilityEnvWrapper`` for a SMACv2 task (fresh dicts:
    the wrapper writes into its capability config)."""
    race = task.backend_kwargs["race"]
    n, m = task.backend_kwargs["n_allies"], task.backend_kwargs["n_enemies"]
    team = SMACV2_TEAMS[race]
    team_gen = {"dist_type": "weighted_teams", "unit_types": list(team["unit_types"]),
                "weights": list(team["weights"]), "observe": True}
    if team["exception_unit_types"]:
        team_gen["exception_unit_types"] = list(team["exception_unit_types"])
    capability = {"n_units": n, "n_enemies": m, "team_gen": team_gen,
                  "start_positions": {"dist_type": "surrounded_and_reflect", "p": 0.5,
                                      "map_x": SMACV2_MAP_SIZE, "map_y": SMACV2_MAP_SIZE}}
    return {"map_name": f"10gen_{race}", "capability_config": capability, **SMACV2_ENV_ARGS}


def seed_smacv2_distributions(env, seed: int) -> int:
    """Give every numpy generator of a SMACv2 wrapper's scenario distributions a seed drawn
    from ``seed``; returns how many were seeded."""
    dists = getattr(env, "env_key_to_distribution_map", None) or {}
    seeds = np.random.SeedSequence(seed)
    count = 0
    for key in sorted(dists):
        stack, seen = [dists[key]], set()
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(getattr(obj, "rng", None), np.random.Generator):
                obj.rng = np.random.default_rng(seeds.spawn(1)[0])
                count += 1
            # nested distributions (surrounded_and_reflect holds two, reflect holds one)
            stack.extend(v for v in vars(obj).values() if callable(getattr(v, "generate", None)))
    return count


def make_sc2_env(task: TaskSpec, seed: int, **overrides):
    """One game of ``task``: smac's ``StarCraft2Env`` (SMACv1) or smacv2's capability wrapper
    (SMACv2).  ``overrides`` replace keyword arguments.  The game launches at the first reset."""
    require_sc2(task)
    kind = scenario_kind(task)
    if kind == "generated":
        from smacv2.env import StarCraftCapabilityEnvWrapper

        env = StarCraftCapabilityEnvWrapper(**{**smacv2_env_args(task), "seed": seed, **overrides})
        seed_smacv2_distributions(env, seed)
        return env
    if kind != "map":
        raise ValueError(f"task {task.id} is not a StarCraft task")
    from smac.env import StarCraft2Env

    return StarCraft2Env(**{"map_name": task.name, "seed": seed, "continuing_episode": True, **overrides})


def sc2_task_spec(task: TaskSpec, env_factory: Callable | None = None) -> TaskSpec:
    """``task`` with StarCraft II's own dimensions and limit (read from ``get_env_info()``,
    which needs no running game) and ``backend="sc2"``."""
    env = (env_factory or make_sc2_env)(task, 0)
    try:
        info = env.get_env_info()
    finally:
        env.close()
    if int(info["n_agents"]) != task.n_agents:
        raise ValueError(f"StarCraft II's {task.id} has {info['n_agents']} agents, the registry {task.n_agents}")
    return dataclasses.replace(
        task, backend="sc2", obs_dim=int(info["obs_shape"]), state_dim=int(info["state_shape"]),
        action_dim=int(info["n_actions"]), episode_limit=int(info["episode_limit"]), approximation=False,
        approximation_note="StarCraft II via " + package_of(task))


def env_seeds(seed: int, n: int) -> list:
    """Distinct game seeds for ``n`` envs (uint31; vector envs of nearby seeds share none)."""
    return [int(s) & 0x7FFFFFFF for s in np.random.SeedSequence(seed).generate_state(n, dtype=np.uint32)]


def classify_end(info: dict, steps: int, limit: int, n_agents: int):
    """``(terminated, truncated, won, lost_game)`` of an episode SMAC has just ended."""
    if not info:  # SMAC lost the connection to the game and relaunched it
        return False, True, False, True
    won = bool(info.get("battle_won", False))
    if "episode_limit" in info:  # built with continuing_episode=True
        timeout = bool(info["episode_limit"])
    else:
        timeout = (not won and 0 < limit <= steps and info.get("dead_allies", 0) < n_agents)
    return not timeout, timeout, won and not timeout, False


# -- the vector env ---------------------------------------------------------------------

class SC2VectorEnv:
    """``num_envs`` StarCraft II episodes stepped in lockstep (the contract: ``envs/simulators.py``
    ``VectorEnv``; no ``get_state``: a run on StarCraft II does not resume mid-run).

    ``env_factory(task, seed)`` builds one env (default ``make_sc2_env``, which checks the
    install first); ``workers > 1`` steps the games on that many threads (each game is its
    own process, so the adapter mostly waits; pysc2's thread safety is not tested here).
    ``seed``: an int, or one per seed group (``envs/simulators.py``): a group's games get the
    seeds a lone env of its seed gives.
    """

    has_wins = True
    steps_past_limit = 1

    def __init__(self, task: TaskSpec, num_envs: int, seed=0,
                 env_factory: Callable | None = None, workers: int = 1):
        if env_factory is None:
            require_sc2(task)
            env_factory = make_sc2_env
        self.task, self.num_envs, self.workers = task, int(num_envs), max(1, int(workers))
        groups = group_seeds(seed, self.num_envs)
        self.seeds = [s for g in groups for s in env_seeds(g, self.num_envs // len(groups))]
        self._pool = None
        self.envs = []
        try:
            for s in self.seeds:
                self.envs.append(env_factory(task, s))
            infos = [env.get_env_info() for env in self.envs]
        except BaseException:
            self.close()
            raise
        self.env_info = infos[0]
        agents = {int(i["n_agents"]) for i in infos}
        actions = {int(i["n_actions"]) for i in infos}
        if len(agents) > 1 or len(actions) > 1:
            self.close()
            raise ValueError(f"the games of {task.id} disagree: agents {sorted(agents)}, actions {sorted(actions)}")
        self.n_agents, self.env_n_actions = agents.pop(), actions.pop()
        self.env_obs_dim = max(int(i["obs_shape"]) for i in infos)
        self.env_state_dim = max(int(i["state_shape"]) for i in infos)
        self.episode_limit = int(self.env_info.get("episode_limit", task.episode_limit))
        try:
            self._check_dims()
        except ValueError:
            self.close()
            raise
        self.obs_dim, self.state_dim, self.n_actions = task.obs_dim, task.state_dim, task.action_dim
        self.agents = [f"ally_{i}" for i in range(self.n_agents)]
        E, N = self.num_envs, self.n_agents
        self._obs = np.zeros((E, N, self.obs_dim), np.float32)
        self._state = np.zeros((E, self.state_dim), np.float32)
        self._avail = np.zeros((E, N, self.n_actions), bool)
        self.done = np.ones(E, bool)        # no episode running before reset()
        self.steps = np.zeros(E, np.int64)  # steps of the current episodes
        self.restarts = 0                   # episodes cut by a lost game (SMAC relaunched it)

    def _check_dims(self):
        t = self.task
        if self.n_agents != t.n_agents:
            raise ValueError(f"StarCraft II's {t.id} has {self.n_agents} agents, the task spec {t.n_agents}")
        narrow = [f"{what} {mine} < {theirs}" for what, mine, theirs in
                  (("obs", t.obs_dim, self.env_obs_dim), ("state", t.state_dim, self.env_state_dim),
                   ("actions", t.action_dim, self.env_n_actions)) if mine < theirs]
        if narrow:
            raise ValueError(f"the task spec of {t.id} is narrower than StarCraft II ({', '.join(narrow)}): the "
                             f"registry holds SMAX's dimensions; build the spec with get_task(..., backend='sc2') "
                             f"or envs.sc2_backend.sc2_task_spec(task)")

    # one env, run on a worker thread: each writes only its own rows
    def _read(self, i: int):
        env, N = self.envs[i], self.n_agents
        obs = env.get_obs()
        if len(obs) != N:
            raise ValueError(f"env {i} gave {len(obs)} observations for {N} agents")
        for a, o in enumerate(obs):
            _put(self._obs[i, a], o, f"observation of agent {a}")
        _put(self._state[i], env.get_state(), "state")
        avail = np.asarray(env.get_avail_actions())
        if avail.shape != (N, self.env_n_actions):
            raise ValueError(f"env {i} gave available actions of shape {avail.shape}, "
                             f"expected {(N, self.env_n_actions)}")
        self._avail[i, :, :self.env_n_actions] = avail.astype(bool)
        self._avail[i, :, self.env_n_actions:] = False

    def _reset_one(self, i: int):
        self.envs[i].reset()
        self._read(i)

    def _step_one(self, i: int, acts: list):
        reward, ended, info = self.envs[i].step(acts)
        info = dict(info or {})
        if not (ended and not info):  # after a lost game there is nothing to read
            self._read(i)
        return float(reward), bool(ended), info

    def _map(self, fn, idx, *extra):
        idx = [int(i) for i in idx]
        if self.workers > 1 and len(idx) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=min(self.workers, self.num_envs))
            return list(self._pool.map(fn, idx, *extra))
        return [fn(i, *args) for i, *args in zip(idx, *extra, strict=False)] if extra else [fn(i) for i in idx]

    # the VectorEnv contract
    def reset(self):
        self._map(self._reset_one, range(self.num_envs))
        self.done[:] = False
        self.steps[:] = 0
        return self.observe()

    def reset_done(self, done: np.ndarray):
        """Start a new episode in the envs where ``done`` (for online learners' rollouts)."""
        idx = np.flatnonzero(np.asarray(done, bool))
        self._map(self._reset_one, idx)
        self.done[idx] = False
        self.steps[idx] = 0

    def observe(self):
        return self._obs.copy(), self._state.copy(), self._avail.copy()

    def step(self, actions: np.ndarray):
        E = self.num_envs
        actions = np.asarray(actions)
        if actions.shape != (E, self.n_agents):
            raise ValueError(f"actions must have shape {(E, self.n_agents)}, got {actions.shape}")
        reward = np.zeros(E, np.float32)
        term, trunc, won = np.zeros(E, bool), np.zeros(E, bool), np.zeros(E, bool)
        live = np.flatnonzero(~self.done)
        if len(live) and (actions[live].min() < 0 or actions[live].max() >= self.env_n_actions):
            raise ValueError(f"actions must lie in [0, {self.env_n_actions}) (StarCraft II's action count)")
        acts = [[int(a) for a in actions[i]] for i in live]
        for i, (r, ended, info) in zip(live, self._map(self._step_one, live, acts), strict=False):
            self.steps[i] += 1
            reward[i] = r
            if ended:
                term[i], trunc[i], won[i], lost = classify_end(info, int(self.steps[i]), self.episode_limit,
                                                               self.n_agents)
                self.restarts += int(lost)
                self.done[i] = True
        return reward, term, trunc, won

    def warm_up(self):
        """Launch every game (SMAC launches at the first reset) outside any timed loop."""
        self.reset()

    def close(self):
        for env in self.envs:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - a game that is already gone
                pass
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- the backend interface (envs/simulators.py dispatches here through envs/suites.py BACKENDS) ----

VectorEnv = SC2VectorEnv
#: the task with StarCraft II's own sizes (``envs/registry.py`` ``get_task(..., backend="sc2")``)
task_spec = sc2_task_spec


def version(task: TaskSpec) -> str:
    return "StarCraft II via " + package_of(task)


def _put(row: np.ndarray, values, what: str):
    """Write ``values`` into ``row``, zero padding; refuse a vector wider than the row."""
    v = np.asarray(values, np.float32).ravel()
    if v.size > row.size:
        raise ValueError(f"{what} has {v.size} features, more than the {row.size} of the task spec")
    row[:v.size] = v
    row[v.size:] = 0.0
