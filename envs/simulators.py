"""The simulator contract and one entry point to every backend: batched environments and evaluation.

A task's ``backend`` names its entry in ``envs/suites.py`` ``BACKENDS``, whose module gives
the same names for every backend:

    VectorEnv(task, num_envs, seed)    a class satisfying :class:`VectorEnv` below
    version(task)                      the simulator's version, as datasets record it
    task_spec(task)                    (a backend that is not its suites' default) the task with
                                       this backend's own sizes

so a new backend is its module and one ``BACKENDS`` line; :func:`evaluate` plays any of them.
Modules are imported on first use.

Seeds.  ``seed`` is an int, or a sequence of G ints (``num_envs`` divisible by G): env group g,
envs ``g * num_envs // G`` to ``(g + 1) * num_envs // G - 1``, then plays exactly the episodes of
``VectorEnv(task, num_envs // G, seeds[g])`` -- evaluation episodes of several learners batched
together are each those of its run alone.  A group whose episodes have all ended is not advanced
by further steps (a lone environment's evaluation stops there) until the next reset.
"""
from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Protocol, Union, runtime_checkable

import numpy as np

from envs.spec import TaskSpec
from envs.suites import BACKENDS

Seed = Union[int, Sequence[int]]


@runtime_checkable
class VectorEnv(Protocol):
    """``num_envs`` episodes of one task stepped together; arrays are numpy, E = ``num_envs``:

        reset(), observe()  -> obs [E, N, O], state [E, S], avail [E, N, A] bool (None: continuous actions)
        step(actions)       -> reward [E], terminated [E], truncated [E], won [E]
                               (actions [E, N] discrete, [E, N, A] continuous)
        reset_done(done [E])   a new episode in the envs where ``done`` (online learners' rollouts)
        warm_up()              compile / launch what reset and step need, outside any timed loop

    An episode cut by the task's time limit is truncated (bootstrap), never terminated."""

    task: TaskSpec
    num_envs: int
    n_agents: int
    #: whether an episode can be won (evaluation's ``win_rate`` and ``wins``; else NaN and None)
    has_wins: bool
    #: steps an evaluation plays beyond ``task.episode_limit`` before it stops waiting for an end
    steps_past_limit: int

    def reset(self) -> tuple: ...

    def observe(self) -> tuple: ...

    def step(self, actions: np.ndarray) -> tuple: ...

    def reset_done(self, done: np.ndarray) -> None: ...

    def warm_up(self) -> None: ...


@runtime_checkable
class ResumableVectorEnv(VectorEnv, Protocol):
    """A :class:`VectorEnv` whose state a resumed run restores (``envs/resume.py``).

    ``get_state(episodes=True)``: numpy arrays and numbers only (a resume file stays code-free),
    with a ``kind`` naming the backend; ``episodes=False`` leaves out the episodes under way and
    keeps what decides the episodes to come (for an environment reset before it is stepped
    again: the training loop's evaluation environment), and ``group=g`` (with ``episodes=False``)
    keeps seed group g's alone, as a lone environment of its seed would give it.  ``set_state``
    takes either (a group's with the same ``group``), into an environment of the same task and
    seeds (a group's: of that group's seed) that has been reset once."""

    def get_state(self, episodes: bool = True, group: int | None = None) -> dict: ...

    def set_state(self, state: dict, group: int | None = None) -> None: ...


def group_seeds(seed: Seed, num_envs: int) -> tuple:
    """``seed`` as the tuple of its groups' seeds (module doc); ``num_envs`` must divide evenly."""
    seeds = (seed,) if isinstance(seed, (int, np.integer)) else tuple(seed)
    if not seeds or num_envs % len(seeds):
        raise ValueError(f"{num_envs} environments cannot be split into {len(seeds)} seed groups")
    return tuple(int(s) for s in seeds)


def backend_module(task: TaskSpec):
    """The module that implements ``task``'s backend."""
    if task.backend not in BACKENDS:
        raise ValueError(f"task {task.id} has unknown backend {task.backend!r}; valid: {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[task.backend].module)


def make_vector_env(task: TaskSpec, num_envs: int, seed: Seed = 0) -> VectorEnv:
    """A backend that steps ``num_envs`` episodes of ``task`` together."""
    return backend_module(task).VectorEnv(task, num_envs, seed)


def evaluate(task: TaskSpec, policy, n_episodes: int, seed: Seed = 0, venv: VectorEnv | None = None) -> dict:
    """Play ``n_episodes`` episodes at once with ``policy(obs [E,N,O], avail) -> actions``, at most
    ``task.episode_limit + venv.steps_past_limit`` steps, each episode counted until its end.

    Returns ``win_rate`` (fraction; NaN where episodes cannot be won), ``return_mean`` and the
    per-episode ``returns``, ``wins`` (None where episodes cannot be won) and ``lengths``."""
    venv = make_vector_env(task, n_episodes, seed) if venv is None else venv
    if venv.num_envs != n_episodes:
        raise ValueError("venv.num_envs must equal n_episodes")
    obs, _, avail = venv.reset()
    active = np.ones(n_episodes, bool)
    returns = np.zeros(n_episodes)
    won = np.zeros(n_episodes, bool)
    lengths = np.zeros(n_episodes, int)
    for _ in range(task.episode_limit + venv.steps_past_limit):
        r, term, trunc, w = venv.step(policy(obs, avail))
        returns += r * active
        lengths += active
        won |= w & active
        active &= ~(term | trunc)
        if not active.any():
            break
        obs, _, avail = venv.observe()
    return {"win_rate": float(won.mean()) if venv.has_wins else math.nan, "return_mean": float(returns.mean()),
            "returns": returns, "wins": won if venv.has_wins else None, "lengths": lengths}


def backend_version(task: TaskSpec) -> str:
    return backend_module(task).version(task)
