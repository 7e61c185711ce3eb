"""The real StarCraft II backend: an adapter over the ``smac`` / ``smacv2`` packages with the
same batched interface as SMAX (``envs/smax_backend.py``).

Used when StarCraft II is installed (``SC2PATH``, or smac's default install paths) and the
packages import; select it with ``COMADICE_SMAC_BACKEND=sc2`` (the registry then reports
the backend as ``sc2`` for SMACv1 / SMACv2 tasks).  When something is missing,
``SC2Unavailable`` names it and says how to install it.

    venv = SC2VectorEnv(task, num_envs, seed)
    obs [E, N, O], state [E, S], avail [E, N, A] = venv.reset()
    reward [E], terminated [E], truncated [E], won [E] = venv.step(actions [E, N])

SMAC reports a time-limit end in ``info["episode_limit"]``: that is a truncation; every
other end is a termination, and ``info["battle_won"]`` is the win.  SMACv2 tasks use
``StarCraftCapabilityEnvWrapper`` with SMACv2's per-race distribution config (unit types
and probabilities, start positions, ``n_units`` / ``n_enemies``).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from envs.registry import TaskSpec

SC2_DEFAULT_PATHS = ("~/StarCraftII", "/Applications/StarCraft II", "C:/Program Files (x86)/StarCraft II")
INSTALL_HELP = "see https://github.com/oxwhirl/smac#installing-starcraft-ii"

# SMACv2's own generator config (smacv2/examples/configs/sc2_gen_<race>.yaml)
SMACV2_RACES = {
    "protoss": {"unit_types": ["stalker", "zealot", "colossus"], "weights": [0.45, 0.45, 0.1],
                "exception_unit_types": ["colossus"]},
    "terran": {"unit_types": ["marine", "marauder", "medivac"], "weights": [0.45, 0.45, 0.1],
               "exception_unit_types": ["medivac"]},
    "zerg": {"unit_types": ["zergling", "hydralisk", "baneling"], "weights": [0.45, 0.45, 0.1],
             "exception_unit_types": ["baneling"]},
}


class SC2Unavailable(RuntimeError):
    """StarCraft II or the smac / smacv2 package is missing; the message says which."""


def sc2_available(suite: str = "smacv1"):
    """(True, "") when this machine can run StarCraft II for ``suite``, else (False, reason)."""
    sc2 = os.environ.get("SC2PATH")
    candidates = [Path(sc2)] if sc2 else [Path(p).expanduser() for p in SC2_DEFAULT_PATHS]
    if not any(p.is_dir() for p in candidates):
        where = f"SC2PATH={sc2} is not a folder" if sc2 else "SC2PATH is not set and no default install exists"
        return False, f"StarCraft II not found ({where}): install the game and set SC2PATH to its folder ({INSTALL_HELP})"
    package = "smacv2" if suite == "smacv2" else "smac"
    try:
        __import__(package)
    except ImportError:
        how = ("pip install git+https://github.com/oxwhirl/smacv2.git" if package == "smacv2"
               else "pip install git+https://github.com/oxwhirl/smac.git")
        return False, f"the {package} package is not installed ({how})"
    return True, ""


def default_env_factory(task: TaskSpec, seed: int):
    """A smac StarCraft2Env (SMACv1) or a smacv2 capability wrapper (SMACv2) for ``task``."""
    ok, reason = sc2_available(task.suite)
    if not ok:
        raise SC2Unavailable(f"task {task.id} cannot use the StarCraft II backend: {reason}")
    if task.suite == "smacv2":
        from smacv2.env.starcraft2.wrapper import StarCraftCapabilityEnvWrapper

        race = task.backend_kwargs["race"]
        n, m = task.backend_kwargs["n_allies"], task.backend_kwargs["n_enemies"]
        dist = {
            "n_units": n, "n_enemies": m,
            "team_gen": {"dist_type": "weighted_teams", **SMACV2_RACES[race], "observe": True},
            "start_positions": {"dist_type": "surrounded_and_reflect", "p": 0.5, "n_enemies": m,
                                "map_x": 32, "map_y": 32},
        }
        return StarCraftCapabilityEnvWrapper(capability_config=dist, map_name=f"10gen_{race}", seed=seed,
                                             conic_fov=False, obs_own_pos=True, use_unit_ranges=True,
                                             min_attack_range=2)
    from smac.env import StarCraft2Env

    return StarCraft2Env(map_name=task.name, seed=seed)


class SC2VectorEnv:
    """``num_envs`` StarCraft II episodes stepped in lockstep (finished ones stay frozen)."""

    def __init__(self, task: TaskSpec, num_envs: int, seed: int = 0, env_factory=default_env_factory):
        self.task, self.num_envs = task, num_envs
        self.envs = [env_factory(task, seed + i) for i in range(num_envs)]
        info = self.envs[0].get_env_info()
        self.n_agents = int(info["n_agents"])
        if self.n_agents != task.n_agents:
            raise ValueError(f"StarCraft II map of {task.id} has {self.n_agents} agents, the registry says {task.n_agents}")
        self.agents = [f"agent_{i}" for i in range(self.n_agents)]
        self.obs_dim, self.state_dim = int(info["obs_shape"]), int(info["state_shape"])
        self.n_actions = int(info["n_actions"])
        E, N = num_envs, self.n_agents
        self.obs = np.zeros((E, N, self.obs_dim), np.float32)
        self.state = np.zeros((E, self.state_dim), np.float32)
        self.avail = np.zeros((E, N, self.n_actions), bool)
        self.done = np.zeros(E, bool)

    def _read(self, i):
        env = self.envs[i]
        self.obs[i] = np.asarray(env.get_obs(), np.float32)
        self.state[i] = np.asarray(env.get_state(), np.float32)
        self.avail[i] = np.asarray(env.get_avail_actions(), bool)

    def reset(self):
        for i, env in enumerate(self.envs):
            env.reset()
            self._read(i)
        self.done[:] = False
        return self.observe()

    def reset_done(self, done):
        for i in np.flatnonzero(done):
            self.envs[i].reset()
            self._read(i)
            self.done[i] = False

    def observe(self):
        return self.obs.copy(), self.state.copy(), self.avail.copy()

    def step(self, actions):
        E = self.num_envs
        reward, term = np.zeros(E, np.float32), np.zeros(E, bool)
        trunc, won = np.zeros(E, bool), np.zeros(E, bool)
        for i, env in enumerate(self.envs):
            if self.done[i]:
                continue
            r, ended, info = env.step([int(a) for a in actions[i]])
            reward[i] = r
            if ended:
                limit = bool(info.get("episode_limit", False))
                trunc[i], term[i] = limit, not limit
                won[i] = bool(info.get("battle_won", False))
                self.done[i] = True
            else:
                self._read(i)
        return reward, term, trunc, won

    def warm_up(self):
        pass

    def close(self):
        for env in self.envs:
            env.close()
