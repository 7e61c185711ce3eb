"""SMAX (JaxMARL) backend for the StarCraft suites: many episodes stepped as one batch.

The environment is JaxMARL's ``HeuristicEnemySMAX`` (enemies follow SMAX's built-in
heuristic, as SMAC's enemies follow the game's AI).  ``SMAXVectorEnv`` vmaps reset
and step over ``num_envs`` copies and jits them once: ``warm_up()`` triggers the
compilation, so timed loops never include it.

What SMAX does not give and we derive:
- a win: all enemies dead and at least one ally alive (SMAX's info has no win flag);
- terminated vs truncated: an episode cut by SMAC's per-map step limit without a
  decided battle is truncated (bootstrap), otherwise terminated.
The state after reset has weakly typed leaves; we cast them to strong types so the
jitted step compiles once, not twice.

JAX's settings (platform, compilation cache) are the entry point's: ``envs/jax_host.py``.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from envs.simulators import group_seeds
from envs.spec import TaskSpec


def _strong(tree):
    """Cast every leaf to its own dtype, dropping JAX's weak-type flag."""
    return jax.tree_util.tree_map(
        lambda x: jax.lax.convert_element_type(x, x.dtype) if hasattr(x, "dtype") else x, tree)


def make_smax_env(task: TaskSpec):
    """The JaxMARL environment of a SMACv1 / SMACv2 task (scenarios: envs/smax_scenarios.py)."""
    from envs.smax_scenarios import make_env

    if not task.available:
        raise NotImplementedError(f"task {task.id} is registered but its SMAX scenario is not built yet "
                                  f"({task.approximation_note})")
    return make_env(task)


def battle_outcome(state, done, n_allies: int):
    """(terminated, truncated, won) of a step that ended with ``state`` and ``done``: a battle is
    decided when every enemy or every ally is dead; undecided at the limit = cut; won = every enemy
    dead and an ally alive."""
    alive = state.state.unit_alive
    allies_alive = jnp.any(alive[:n_allies])
    enemies_dead = jnp.all(~alive[n_allies:])
    decided = enemies_dead | ~allies_alive
    return done & decided, done & ~decided, enemies_dead & allies_alive


class SMAXFunctions:
    """One SMAX env of a task as pure, jit/vmap-able functions, for learners compiled in JAX
    (``behaviour.smax_mappo``); ``SMAXVectorEnv`` wraps the same logic for host-side loops.

    ``reset(key) -> (state, (obs [N, O], world_state [S], avail [N, A]))`` and
    ``step(key, state, actions [N]) -> (state, (obs, world_state, avail), reward, terminated,
    truncated, won)``: the step's observations are the ones SMAX's ``step_env`` computes (not
    recomputed), the reward is the team's (SMAX gives every ally the same), won / terminated /
    truncated as ``SMAXVectorEnv.step``."""

    def __init__(self, task: TaskSpec):
        self.task = task
        self.env = make_smax_env(task)
        self.agents = list(self.env.agents)
        self.n_agents = len(self.agents)
        self.n_allies = self.env.num_allies

    def _arrays(self, obs, state):
        avail = self.env.get_avail_actions(state)
        return (jnp.stack([obs[a] for a in self.agents]), obs["world_state"],
                jnp.stack([avail[a] for a in self.agents]).astype(bool))

    def reset(self, key):
        obs, state = self.env.reset(key)
        state = _strong(state)
        return state, self._arrays(obs, state)

    def step(self, key, state, actions):
        act = {a: actions[i] for i, a in enumerate(self.agents)}
        obs, state, rewards, dones, _ = self.env.step_env(key, state, act)
        term, trunc, won = battle_outcome(state, dones["__all__"], self.n_allies)
        return state, self._arrays(obs, state), rewards[self.agents[0]], term, trunc, won


def smax_functions(task: TaskSpec) -> SMAXFunctions:
    """The pure reset / step functions of ``task``'s SMAX env (``SMAXFunctions``)."""
    return SMAXFunctions(task)


def _vector_functions(task: TaskSpec):
    """The env of ``task`` and its jitted, vmapped reset / reset_where / observe / step, built
    once per task and process: every ``SMAXVectorEnv`` of the task shares them, so a second one
    (a final evaluation, another run of the process) is neither traced nor compiled again.  Keyed
    by the scenario too: ``TaskSpec`` equality leaves ``backend_kwargs`` out."""
    return _vector_functions_of(task, repr(sorted(task.backend_kwargs.items())))


@functools.cache
def _vector_functions_of(task: TaskSpec, scenario: str):
    env = make_smax_env(task)
    agents = list(env.agents)
    n_allies = env.num_allies

    def _reset(key):
        obs, state = env.reset(key)
        return _strong(state)

    def _observe(state):
        obs = env.get_obs(state)
        avail = env.get_avail_actions(state)
        o = jnp.stack([obs[a] for a in agents])
        m = jnp.stack([avail[a] for a in agents]).astype(bool)
        s = env.get_world_state(state)
        return o, s, m

    def _step(key, state, actions):
        act = {a: actions[i] for i, a in enumerate(agents)}
        _, new_state, rewards, dones, _ = env.step_env(key, state, act)
        term, trunc, won = battle_outcome(new_state, dones["__all__"], n_allies)
        return new_state, rewards[agents[0]], term, trunc, won

    def _reset_where(key, state, done):
        fresh = _reset(key)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), fresh, state)

    return (env, jax.jit(jax.vmap(_reset)), jax.jit(jax.vmap(_reset_where)), jax.jit(jax.vmap(_observe)),
            jax.jit(jax.vmap(_step)))


@functools.partial(jax.jit, static_argnums=2)
def _group_keys(keys, live, per_group: int):
    """One draw of every seed group's key stream, as a lone env's ``_keys`` draws it: the groups'
    next keys (a group not ``live`` keeps its key) and ``per_group`` step keys of each group."""
    def one(key, on):
        nxt, sub = jax.random.split(key)
        return jnp.where(on, nxt, key), jax.random.split(sub, per_group)

    nxt, subs = jax.vmap(one)(keys, live)
    return nxt, subs.reshape((-1,) + subs.shape[2:])


class SMAXVectorEnv:
    """``num_envs`` SMAX episodes stepped together (the contract: ``envs/simulators.py`` ``VectorEnv``).

    Arrays returned are numpy: obs [E, N, O], state [E, S], avail [E, N, A] (bool),
    reward [E], terminated [E], truncated [E], won [E].  ``seed``: an int, or one per seed group
    (``envs/simulators.py``): each group draws its keys from its own stream, as a lone env of its
    seed would.
    """

    has_wins = True
    steps_past_limit = 1

    def __init__(self, task: TaskSpec, num_envs: int, seed=0):
        self.task = task
        self.num_envs = num_envs
        self.env, self._reset, self._reset_where, self._observe, self._step = _vector_functions(task)
        self.agents = list(self.env.agents)
        self.n_agents = len(self.agents)
        self.n_allies = self.env.num_allies
        seeds = group_seeds(seed, num_envs)
        self.groups = len(seeds)
        self.key = (jax.random.PRNGKey(seeds[0]) if self.groups == 1
                    else jnp.stack([jax.random.PRNGKey(s) for s in seeds]))
        self._ended = np.zeros(num_envs, bool)  # episodes ended since their reset (seed groups)
        self.state = None

    def _keys(self, stepping: bool = False):
        if self.groups == 1:
            self.key, sub = jax.random.split(self.key)
            return jax.random.split(sub, self.num_envs)
        live = ~self._ended.reshape(self.groups, -1).all(1) if stepping else np.ones(self.groups, bool)
        self.key, keys = _group_keys(self.key, jnp.asarray(live), self.num_envs // self.groups)
        return keys

    def reset(self):
        self.state = self._reset(self._keys())
        self._ended[:] = False
        return self.observe()

    def observe(self):
        o, s, m = self._observe(self.state)
        return np.asarray(o), np.asarray(s), np.asarray(m)

    def step(self, actions: np.ndarray):
        actions = jnp.asarray(np.asarray(actions, dtype=np.int32))
        self.state, r, term, trunc, won = self._step(self._keys(stepping=True), self.state, actions)
        term, trunc = np.asarray(term), np.asarray(trunc)
        self._ended |= term | trunc
        return np.asarray(r, dtype=np.float32), term, trunc, np.asarray(won)

    def reset_done(self, done: np.ndarray):
        """Start a new episode in the envs where ``done`` (for online learners' rollouts)."""
        self.state = self._reset_where(self._keys(), self.state, jnp.asarray(done))
        self._ended &= ~np.asarray(done, bool)

    def get_state(self, episodes: bool = True, group: int | None = None) -> dict:
        """What a resumed run needs to continue exactly (``envs/simulators.py`` ``ResumableVectorEnv``):
        the PRNG key(s) and, with ``episodes``, the JAX state pytree's leaves, as numpy arrays."""
        key = np.asarray(jax.random.key_data(self.key) if jnp.issubdtype(self.key.dtype, jax.dtypes.prng_key)
                         else self.key)
        if group is not None:
            if episodes:
                raise ValueError("a seed group's state leaves the episodes out: get_state(episodes=False, group=g)")
            return {"kind": "smax", "key": key if self.groups == 1 else key[group], "leaves": None}
        leaves = None
        if episodes and self.state is not None:
            leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(self.state)]
        st = {"kind": "smax", "key": key, "leaves": leaves}
        if episodes and self.groups > 1:
            st["ended"] = self._ended.copy()
        return st

    def set_state(self, st: dict, group: int | None = None) -> None:
        if st.get("kind") != "smax":
            raise ValueError(f"a {st.get('kind')!r} simulator state cannot be put into a SMAX environment")
        key = jnp.asarray(st["key"], dtype=jnp.uint32)
        expected = self.key.shape if group is None or self.groups == 1 else self.key.shape[1:]
        if key.shape != expected or (group is not None and st["leaves"] is not None):
            raise ValueError(f"a SMAX state of keys {key.shape} does not fit this environment's keys "
                             f"{self.key.shape}" + ("" if group is None else f", group {group}"))
        self.key = key if group is None or self.groups == 1 else self.key.at[group].set(key)
        if st["leaves"] is not None:
            treedef = jax.tree_util.tree_structure(self.state)
            self.state = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in st["leaves"]])
        if "ended" in st:
            self._ended[...] = st["ended"]

    def warm_up(self):
        """Compile reset, observe and step outside any timed loop."""
        _, _, avail = self.reset()
        self.step(np.argmax(avail, axis=-1))
        self.reset()


class SMAXHeuristicAllies:
    """SMAX's built-in heuristic micromanagement applied to *our* units (team 0).

    Used as the smoke-grade behaviour policy: with probability ``epsilon`` each ally
    takes a uniformly random available action instead.
    """

    def __init__(self, venv: SMAXVectorEnv, seed: int = 0):
        from jaxmarl.environments.smax.heuristic_enemy import (
            create_heuristic_policy,
            get_heuristic_policy_initial_state,
        )

        self.venv = venv
        smax = venv.env._env
        heuristic = create_heuristic_policy(smax, team=0)
        n = venv.n_agents
        agents = venv.agents
        self._init = jax.jit(jax.vmap(
            lambda _: jax.vmap(lambda __: get_heuristic_policy_initial_state())(jnp.arange(n))))
        self.key = jax.random.PRNGKey(seed + 7919)

        def _act(key, env_state, pstate, epsilon):
            unit_obs = smax.get_obs_unit_list(env_state.state)
            obs = jnp.stack([unit_obs[a] for a in agents])
            avail = venv.env.get_avail_actions(env_state)
            avail = jnp.stack([avail[a] for a in agents]).astype(jnp.float32)
            k1, k2, k3 = jax.random.split(key, 3)
            h_act, pstate = jax.vmap(heuristic)(jax.random.split(k1, n), pstate, obs)
            ok = jnp.take_along_axis(avail, h_act[:, None].astype(jnp.int32), axis=1)[:, 0] > 0
            rnd = jax.random.categorical(k2, jnp.log(avail + 1e-12))
            explore = jax.random.uniform(k3, (n,)) < epsilon
            act = jnp.where(explore | ~ok, rnd, h_act)
            return act.astype(jnp.int32), pstate

        self._act = jax.jit(jax.vmap(_act, in_axes=(0, 0, 0, None)))
        self.pstate = None

    def reset(self):
        self.pstate = self._init(jnp.arange(self.venv.num_envs))

    def __call__(self, epsilon: float) -> np.ndarray:
        self.key, sub = jax.random.split(self.key)
        keys = jax.random.split(sub, self.venv.num_envs)
        act, self.pstate = self._act(keys, self.venv.state, self.pstate, jnp.float32(epsilon))
        return np.asarray(act)


# -- the backend interface (envs/simulators.py dispatches here through envs/suites.py BACKENDS) ----

VectorEnv = SMAXVectorEnv


def version(task: TaskSpec) -> str:
    from importlib.metadata import version as dist_version
    return f"jaxmarl {dist_version('jaxmarl')}, jax {dist_version('jax')}"
