"""Gymnasium-Robotics MaMuJoCo backend (mamujoco_v1, MuJoCo v5 physics).

The paper's datasets were made on MaMuJoCo over MuJoCo v2 ("Hopper-v2"); the v2
environments need the retired mujoco-py, so this harness runs the v5 physics that
Gymnasium-Robotics 1.4 ships.  Returns are therefore comparable in kind, not to the
decimal, with the paper's Table 3.

MaMuJoCo has no vector env: ``MaMuJoCoVectorEnv`` steps ``num_envs`` copies in a loop
and batches their arrays.  The 1000-step time limit is a truncation (bootstrap), never a
termination.  In the authors' layout on Hopper and HalfCheetah (v5) the copies' MuJoCo models
are stepped directly (``mj_step`` with the env's frame skip, as gymnasium's ``MujocoEnv`` does)
and the reward, termination and observation are computed for the whole batch at once, with the
env's own weights and ranges (:class:`_DirectPhysics`); tests/test_observation.py and
tests/test_mappo_rollouts.py check it bit for bit against gymnasium-robotics' and gymnasium's own
steps, time limits included.  Other scenarios go through gymnasium per copy.

Observations follow the task's ``obs_layout`` (``envs/spec.py``; ``get_task(..., obs_layout=...)``,
in the workflow the config's ``simulators.mamujoco_obs``):
- ``authors`` (default): every agent observes the full MuJoCo observation (``env.state()``,
  the single-agent ``_get_obs``) plus its one-hot id, standardised per vector
  (:func:`authors_observation`), as ``get_obs`` in the paper's environment
  (vietbt/ComaDICE ``envs/mamujoco/multiagent_mujoco/mujoco_multi.py`` lines 147-160).
- ``local``: Gymnasium-Robotics' agent_obsk=1 observations; agents with smaller ones
  (Hopper 3x1: 8/9/8) are zero padded to the task's ``obs_dim``.
"""
from __future__ import annotations

import warnings

import numpy as np

from envs.simulators import group_seeds
from envs.spec import TaskSpec


def make_mamujoco_env(task: TaskSpec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gymnasium_robotics import mamujoco_v1
    kw = task.backend_kwargs
    return mamujoco_v1.parallel_env(kw["scenario"], kw["agent_conf"], agent_obsk=kw["agent_obsk"],
                                    max_episode_steps=task.episode_limit)


def authors_observation(state: np.ndarray, n_agents: int) -> np.ndarray:
    """The paper's MaMuJoCo observation from MuJoCo observations ``[..., S]``: ``[..., N, S + N]``.

    Agent i's row is ``x = concat(state, onehot(i))`` replaced by ``(x - mean(x)) / std(x)``,
    mean and (population, ddof 0) std taken over the S + N entries of that one vector -- not over
    a dataset (vietbt/ComaDICE ``mujoco_multi.py`` lines 152-158: ``(obs_i - np.mean(obs_i)) /
    np.std(obs_i)``).  Computed in float64 as numpy does there, returned as float32."""
    state = np.asarray(state, np.float64)
    lead = state.shape[:-1]
    rows = np.concatenate([np.broadcast_to(state[..., None, :], lead + (n_agents, state.shape[-1])),
                           np.broadcast_to(np.eye(n_agents), lead + (n_agents, n_agents))], axis=-1)
    std = rows.std(-1, keepdims=True)
    return ((rows - rows.mean(-1, keepdims=True)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def state_from_authors_observation(obs: np.ndarray, n_agents: int) -> np.ndarray:
    """Invert :func:`authors_observation`: the raw MuJoCo observations ``[..., S]`` from rows
    ``[..., N, S + N]`` (for files that store only the standardised vectors, as OMIGA's ``s`` / ``o``).

    In agent i's row the id block holds ``(1 - m) / sd`` at i and ``-m / sd`` elsewhere, so
    ``sd = 1 / (hot - cold)``, ``m = -cold * sd`` and ``state = x[:S] * sd + m`` (needs N >= 2).
    Agent 0's row is used."""
    obs = np.asarray(obs, np.float64)
    if n_agents < 2:
        raise ValueError("the state cannot be recovered from a one-agent standardised observation")
    row = obs[..., 0, :]
    S = row.shape[-1] - n_agents
    hot, cold = row[..., S], row[..., S + 1]
    sd = 1.0 / (hot - cold)
    return (row[..., :S] * sd[..., None] - (cold * sd)[..., None]).astype(np.float32)


def gymnasium_robotics_version() -> str:
    from importlib.metadata import version
    return f"gymnasium-robotics {version('gymnasium-robotics')}, mujoco {version('mujoco')}"


class _DirectPhysics:
    """The single-agent step of a gymnasium v5 Hopper or HalfCheetah (``step`` of
    ``gymnasium/envs/mujoco/hopper_v5.py`` / ``half_cheetah_v5.py``), for a batch of copies: each
    copy's MuJoCo data is stepped by ``mj_step(nstep=frame_skip)`` + ``mj_rnePostConstraint`` (as
    ``MujocoEnv._step_mujoco_simulation``) and its TimeLimit counter advanced; the reward
    (forward velocity, healthy bonus, control cost), the termination (Hopper's health ranges) and
    the observation (``_get_obs``) are then computed in float64 for the batch, in the order
    gymnasium computes them, so every number is the same.  Weights and ranges are the env's own
    attributes.  ``None`` (see :meth:`of`) for any other environment or option."""

    SCENARIOS = ("hopper_v5", "half_cheetah_v5")

    @classmethod
    def of(cls, envs, n_action: int):
        u = envs[0].single_agent_env.unwrapped
        kind = type(u).__module__.rsplit(".", 1)[-1]
        if kind not in cls.SCENARIOS or not u._exclude_current_positions_from_observation:
            return None
        limits = [_time_limit_wrapper(e) for e in envs]
        if any(w is None for w in limits) or envs[0].agent_obsk is None:
            return None
        return cls(envs, limits, kind, n_action)

    def __init__(self, envs, limits, kind, n_action):
        import mujoco

        self.mj_step, self.mj_post = mujoco.mj_step, mujoco.mj_rnePostConstraint
        self.units = [e.single_agent_env.unwrapped for e in envs]
        self.limits = limits
        u = self.units[0]
        self.hopper = kind == "hopper_v5"
        self.frame_skip, self.dt = u.frame_skip, u.dt
        self.w_forward, self.w_ctrl = u._forward_reward_weight, u._ctrl_cost_weight
        if self.hopper:
            self.healthy_reward, self.terminate = u._healthy_reward, u._terminate_when_unhealthy
            self.state_range, self.z_range = u._healthy_state_range, u._healthy_z_range
            self.angle_range = u._healthy_angle_range
        # global action index g <- flat agent action index (agent j, its k-th actuator: j * A + k),
        # as map_local_actions_to_global_action places them
        nu = u.model.nu
        self.source = np.full(nu, -1)
        for j, partition in enumerate(envs[0].agent_action_partitions):
            for k, part in enumerate(partition):
                self.source[part.act_ids] = j * n_action + k
        assert (self.source >= 0).all(), "an actuator no agent controls"
        E = len(envs)
        self.qpos = np.zeros((E, u.model.nq))
        self.qvel = np.zeros((E, u.model.nv))
        # each copy's model, data and the numpy views of its ctrl / qpos / qvel (MjData's buffers stay
        # where they are for the data's life; fetching a view costs more than the rest of the loop)
        self.copies = [(x.model, x.data, x.data.ctrl, x.data.qpos, x.data.qvel) for x in self.units]

    def step(self, actions: np.ndarray, live: np.ndarray):
        """``actions [E, N, A]`` (clipped float32) of the envs ``live`` (indices): their float64
        states (``_get_obs``), rewards, terminations and TimeLimit truncations."""
        E = actions.shape[0]
        glob = actions.reshape(E, -1)[live][:, self.source].astype(np.float64)
        x_before = np.empty(len(live))
        trunc = np.zeros(len(live), bool)
        qpos, qvel = self.qpos, self.qvel
        mj_step, mj_post, fs, copies, limits = self.mj_step, self.mj_post, self.frame_skip, self.copies, self.limits
        for n, i in enumerate(live.tolist()):
            m, d, ctrl, qp, qv = copies[i]
            x_before[n] = qp[0]
            ctrl[:] = glob[n]
            mj_step(m, d, nstep=fs)
            mj_post(m, d)
            qpos[n] = qp
            qvel[n] = qv
            w = limits[i]
            w._elapsed_steps += 1
            trunc[n] = w._elapsed_steps >= w._max_episode_steps
        k = len(live)
        qp, qv = qpos[:k], qvel[:k]
        x_velocity = (qp[:, 0] - x_before) / self.dt
        forward = self.w_forward * x_velocity
        ctrl_cost = self.w_ctrl * np.sum(np.square(glob), axis=-1)
        if self.hopper:
            z, angle = qp[:, 1], qp[:, 2]
            vec = np.concatenate([qp, qv], axis=1)[:, 2:]
            healthy = (np.all((self.state_range[0] < vec) & (vec < self.state_range[1]), axis=1)
                       & (self.z_range[0] < z) & (z < self.z_range[1])
                       & (self.angle_range[0] < angle) & (angle < self.angle_range[1]))
            reward = (forward + healthy * self.healthy_reward) - ctrl_cost
            term = ~healthy if self.terminate else np.zeros(k, bool)
            state = np.concatenate([qp[:, 1:], np.clip(qv, -10, 10)], axis=1)
        else:
            reward = forward - ctrl_cost
            term = np.zeros(k, bool)
            state = np.concatenate([qp[:, 1:], qv], axis=1)
        return state, reward, term, trunc


def _time_limit_wrapper(env):
    w = env.single_agent_env
    while w is not None and not hasattr(w, "_elapsed_steps"):
        w = getattr(w, "env", None)
    return w


# -- the simulator state a resumed run restores (envs/resume.py) ---------------------------------

# MuJoCo quantities derived from the state that gymnasium's v5 environments read *before* their
# next physics step (Ant's torso position for its forward reward, contact forces, ...).  After a
# step they describe the last substep's kinematics, so they are restored as saved rather than
# recomputed by mj_forward (which would differ in the last bits).
_MJ_DERIVED = ("xpos", "xquat", "xmat", "xipos", "ximat", "geom_xpos", "geom_xmat", "site_xpos", "site_xmat",
               "subtree_com", "cinert", "cdof", "cvel", "cacc", "cfrc_int", "cfrc_ext", "qfrc_actuator",
               "qfrc_bias", "actuator_force", "sensordata")


def _mujoco_state(env) -> dict:
    import mujoco

    u = env.single_agent_env.unwrapped
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    full = np.empty(mujoco.mj_stateSize(u.model, spec), np.float64)
    mujoco.mj_getState(u.model, u.data, full, spec)
    limit = _time_limit_wrapper(env)
    return {"integration": full, "derived": {k: np.array(getattr(u.data, k)) for k in _MJ_DERIVED},
            "elapsed_steps": None if limit is None else limit._elapsed_steps}


def _set_mujoco_state(env, st: dict) -> None:
    import mujoco

    u = env.single_agent_env.unwrapped
    mujoco.mj_setState(u.model, u.data, np.asarray(st["integration"], np.float64), mujoco.mjtState.mjSTATE_INTEGRATION)
    for k, v in st["derived"].items():
        getattr(u.data, k)[...] = v
    limit = _time_limit_wrapper(env)
    if limit is not None:
        limit._elapsed_steps = st["elapsed_steps"]


class MaMuJoCoVectorEnv:
    """``num_envs`` MaMuJoCo episodes stepped in lockstep.

    ``reset()`` and ``observe()`` give obs [E, N, O] and state [E, S]; ``step(actions
    [E, N, A])`` gives reward [E], terminated [E], truncated [E].  Finished episodes
    stay finished (their entries are frozen) until the next ``reset()`` (the contract:
    ``envs/simulators.py`` ``VectorEnv``).  ``seed``: an int, or one per seed group
    (``envs/simulators.py``): each env is reset with the seed a lone env of its group's seed
    gives its place in the group.
    """

    has_wins = False
    steps_past_limit = 0

    def __init__(self, task: TaskSpec, num_envs: int, seed=0):
        self.task = task
        self.num_envs = num_envs
        self.envs = [make_mamujoco_env(task) for _ in range(num_envs)]
        self.agents = list(self.envs[0].possible_agents)
        self.n_agents = len(self.agents)
        self.seeds = group_seeds(seed, num_envs)
        self._group_size = num_envs // len(self.seeds)
        self._episode = 0
        self.obs = np.zeros((num_envs, self.n_agents, task.obs_dim), np.float32)
        self.state = np.zeros((num_envs, task.state_dim), np.float32)
        self.done = np.zeros(num_envs, bool)
        # the authors' layout needs only the MuJoCo state: step the physics directly where we can
        self.direct = _DirectPhysics.of(self.envs, task.action_dim) if task.obs_layout == "authors" else None

    def _env_seed(self, i: int, offset: int) -> int:
        """Env ``i``'s reset seed: its group's seed x 100_003 + ``offset`` + its place in the group."""
        g, j = divmod(int(i), self._group_size)
        return self.seeds[g] * 100_003 + offset + j

    def _reset_env(self, i: int, seed: int) -> None:
        env = self.envs[i]
        if self.direct is not None:  # the parallel env's reset is this plus its per-agent observations
            env.single_agent_env.reset(seed=seed)
            self._store(i, None, env)
        else:
            obs, _ = env.reset(seed=seed)
            self._store(i, obs, env)

    def _store(self, i, obs_dict, env):
        self.state[i] = env.state()
        if self.task.obs_layout == "authors":
            self.obs[i] = authors_observation(env.state(), self.n_agents)
            return
        for j, a in enumerate(self.agents):
            o = np.asarray(obs_dict[a], np.float32)
            self.obs[i, j, : o.shape[0]] = o
            self.obs[i, j, o.shape[0]:] = 0.0

    def reset(self):
        for i in range(self.num_envs):
            self._reset_env(i, self._env_seed(i, self._episode * self._group_size))
        self._episode += 1
        self.done[:] = False
        return self.observe()

    def observe(self):
        return self.obs.copy(), self.state.copy(), None

    def step(self, actions: np.ndarray):
        actions = np.clip(np.asarray(actions, np.float32), -1.0, 1.0)
        reward = np.zeros(self.num_envs, np.float32)
        term = np.zeros(self.num_envs, bool)
        trunc = np.zeros(self.num_envs, bool)
        if self.direct is not None:
            live = np.flatnonzero(~self.done)
            if len(live):
                states, r, te, tr = self.direct.step(actions, live)
                self.state[live] = states
                self.obs[live] = authors_observation(states, self.n_agents)
                reward[live], term[live], trunc[live] = r, te, tr & ~te
                self.done[live] = term[live] | trunc[live]
            return reward, term, trunc, np.zeros(self.num_envs, bool)
        authors = self.task.obs_layout == "authors"
        stepped, states = [], []  # the float64 states: the observation is computed from them
        for i, env in enumerate(self.envs):
            if self.done[i]:
                continue
            act = {a: actions[i, j] for j, a in enumerate(self.agents)}
            if authors:
                # The authors' observation needs only the MuJoCo state, which the single-agent
                # env returns; stepping it directly skips gymnasium-robotics' per-agent
                # observation builder (most of a step's cost) and gives the same state,
                # reward and flags as ``env.step`` (tests/test_mamujoco_backend.py).
                state, r, te, tr, _ = env.single_agent_env.step(env.map_local_actions_to_global_action(act))
                self.state[i] = state
                stepped.append(i)
                states.append(state)
            else:
                obs, rs, tes, trs, _ = env.step(act)
                r, te, tr = rs[self.agents[0]], tes[self.agents[0]], trs[self.agents[0]]
                self._store(i, obs, env)
            reward[i] = r
            term[i] = bool(te)
            trunc[i] = bool(tr) and not term[i]
            self.done[i] = term[i] or trunc[i]
        if stepped:  # one batched standardisation for every env stepped
            self.obs[stepped] = authors_observation(np.stack(states), self.n_agents)
        return reward, term, trunc, np.zeros(self.num_envs, bool)

    def reset_done(self, done: np.ndarray):
        """Start a new episode in the envs where ``done`` (for online learners' rollouts)."""
        for i in np.flatnonzero(done):
            self._reset_env(i, self._env_seed(i, 7919 * self._episode))
            self.done[i] = False
        self._episode += 1

    def get_state(self, episodes: bool = True, group: int | None = None) -> dict:
        """What a resumed run needs to continue exactly (``envs/simulators.py`` ``ResumableVectorEnv``):
        the episode counter that seeds the resets (every seed group's: a lone env of its seed counts
        the same resets) and, with ``episodes``, each copy's physics state (integration state, derived
        quantities, time-limit counter), the current observations and done flags."""
        if group is not None and episodes:
            raise ValueError("a seed group's state leaves the episodes out: get_state(episodes=False, group=g)")
        if not episodes:
            return {"kind": "mamujoco", "episode": self._episode}
        return {"kind": "mamujoco", "episode": self._episode, "obs": self.obs.copy(), "state": self.state.copy(),
                "done": self.done.copy(), "sims": [_mujoco_state(e) for e in self.envs]}

    def set_state(self, st: dict, group: int | None = None) -> None:
        if st.get("kind") != "mamujoco":
            raise ValueError(f"a {st.get('kind')!r} simulator state cannot be put into a MaMuJoCo environment")
        self._episode = int(st["episode"])
        if "sims" not in st:
            return
        self.obs[...], self.state[...], self.done[...] = st["obs"], st["state"], st["done"]
        for env, sim in zip(self.envs, st["sims"], strict=False):
            _set_mujoco_state(env, sim)

    def warm_up(self):
        pass


# -- the backend interface (envs/simulators.py dispatches here through envs/suites.py BACKENDS) ----

VectorEnv = MaMuJoCoVectorEnv


def version(task: TaskSpec) -> str:
    return gymnasium_robotics_version()
